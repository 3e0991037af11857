//! Unit tests of rule matching and bucket keys.

use super::*;
use std::num::NonZeroU32;
use std::time::Duration;

fn limit(capacity: u32) -> Limit {
    Limit::new(
        NonZeroU32::new(capacity).unwrap(),
        Duration::from_millis(100),
    )
    .unwrap()
}

fn request<'a>(user: &'a str, route: &'a str) -> Request<'a> {
    Request {
        user,
        route,
        method: "GET",
        tenant: None,
        ip: None,
        plan: None,
    }
}

fn rule(name: &str, matcher: Match, key: KeyKind) -> Rule {
    Rule {
        name: name.into(),
        matcher,
        key,
        limit: RuleLimit::Fixed(limit(5)),
        shadow: false,
    }
}

#[test]
fn route_prefixes_match_whole_segments() {
    let m = Match {
        route: Some("/api/orders".into()),
        ..Match::default()
    };
    assert!(m.matches(&request("u", "/api/orders")));
    assert!(m.matches(&request("u", "/api/orders/7")));
    assert!(!m.matches(&request("u", "/api/ordersx")));
    assert!(!m.matches(&request("u", "/api")));
    let root = Match {
        route: Some("/".into()),
        ..Match::default()
    };
    assert!(root.matches(&request("u", "/anything")));
}

#[test]
fn every_condition_must_hold() {
    let m = Match {
        method: Some("POST".into()),
        tenant: Some("acme".into()),
        ip: IpNet::parse("10.0.0.0/8"),
        ..Match::default()
    };
    let mut r = Request {
        user: "u",
        route: "/",
        method: "post",
        tenant: Some("acme"),
        ip: "10.1.2.3".parse().ok(),
        plan: None,
    };
    assert!(m.matches(&r));
    r.ip = "11.1.2.3".parse().ok();
    assert!(!m.matches(&r));
    r.ip = "::ffff:10.9.9.9".parse().ok();
    assert!(m.matches(&r), "IPv4-mapped IPv6 is the IPv4 address");
    r.tenant = None;
    assert!(!m.matches(&r));
    r.tenant = Some("acme");
    r.method = "GET";
    assert!(!m.matches(&r));
}

#[test]
fn networks_parse_and_contain() {
    let v6 = IpNet::parse("2001:db8::/32").unwrap();
    assert!(v6.contains("2001:db8::1".parse().unwrap()));
    assert!(!v6.contains("2001:db9::1".parse().unwrap()));
    assert!(!v6.contains("10.0.0.1".parse().unwrap()));
    assert!(IpNet::parse("0.0.0.0/0")
        .unwrap()
        .contains("8.8.8.8".parse().unwrap()));
    assert!(IpNet::parse("1.2.3.4")
        .unwrap()
        .contains("1.2.3.4".parse().unwrap()));
    assert!(IpNet::parse("1.2.3.4/33").is_none());
    assert!(IpNet::parse("nope").is_none());
}

#[test]
fn keys_name_the_rule_and_what_it_counts_per() {
    let rules = RuleSet::new(
        vec![
            rule("g", Match::default(), KeyKind::Global),
            rule("u", Match::default(), KeyKind::User),
            rule("ur", Match::default(), KeyKind::UserRoute),
            rule("t", Match::default(), KeyKind::Tenant),
            rule("i", Match::default(), KeyKind::Ip),
        ],
        [],
        None,
        [],
    )
    .unwrap();
    let mut r = request("alice", "/api/x");
    let key = |rule: &str, r: &Request<'_>| {
        let mut buf = String::new();
        rules
            .write_key(rules.rule(rule).unwrap(), r, &mut buf)
            .then_some(buf)
    };
    assert_eq!(key("g", &r).as_deref(), Some("g"));
    assert_eq!(key("u", &r).as_deref(), Some("u alice"));
    assert_eq!(key("ur", &r).as_deref(), Some("ur alice /api/x"));
    assert_eq!(key("t", &r), None, "no tenant: the rule does not count it");
    assert_eq!(key("i", &r), None);
    r.tenant = Some("acme");
    r.ip = "192.0.2.1".parse().ok();
    assert_eq!(key("t", &r).as_deref(), Some("t acme"));
    assert_eq!(key("i", &r).as_deref(), Some("i 192.0.2.1"));
    let parts = rules.rule_of_key("ur alice /api/x").unwrap();
    assert_eq!(
        (&*parts.rule.name, parts.user, parts.plan),
        ("ur", Some("alice"), None)
    );
}

#[test]
fn a_credentials_plan_is_part_of_the_key_of_plan_rules_only() {
    let rules = crate::policy::rules_file::parse(
        r#"
        default_plan = "free"
        [plans.free]
        capacity = 2
        refill_per_sec = 1
        [plans.pro]
        capacity = 5
        refill_per_sec = 1
        [[rules]]
        name = "p"
        key = "user"
        limit = "plan"
        [[rules]]
        name = "f"
        key = "user"
        capacity = 1
        refill_per_sec = 1
        "#,
    )
    .unwrap();
    let key = |rule: &str, plan| {
        let mut r = request("alice", "/x");
        r.plan = plan;
        let mut buf = String::new();
        rules
            .write_key(rules.rule(rule).unwrap(), &r, &mut buf)
            .then_some(buf)
    };
    assert_eq!(key("p", Some("pro")).as_deref(), Some("p alice plan:pro"));
    assert_eq!(
        key("p", Some("gold")).as_deref(),
        Some("p alice"),
        "no such plan"
    );
    assert_eq!(key("p", None).as_deref(), Some("p alice"));
    assert_eq!(
        key("f", Some("pro")).as_deref(),
        Some("f alice"),
        "a fixed limit"
    );
    let parts = rules.rule_of_key("p alice plan:pro").unwrap();
    assert_eq!((parts.user, parts.plan), (Some("alice"), Some("pro")));
    // A user named like a plan part is a user when the key has no more parts.
    let parts = rules.rule_of_key("p plan:pro").unwrap();
    assert_eq!((parts.user, parts.plan), (Some("plan:pro"), None));
}

#[test]
fn without_a_rules_file_keys_are_bare_user_ids() {
    let rules = RuleSet::single(limit(10));
    let mut buf = String::new();
    assert!(rules.write_key(&rules.rules()[0], &request("alice", "/protected"), &mut buf));
    assert_eq!(buf, "alice");
    assert_eq!(rules.default_limit(), Some(limit(10)));
}

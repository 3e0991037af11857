//! Descriptor files, matching, bucket keys and the decision of a request's descriptors.

use super::yaml::{parse, Domains};
use super::*;
use crate::limiter::{Stamp, Store};
use crate::policy::{Policy, RuleSet};

/// envoyproxy/ratelimit's own README examples, unchanged but for the domain names.
const EDGE: &str = r#"
domain: edge
descriptors:
  - key: generic_key
    value: login
    rate_limit:
      unit: minute
      requests_per_unit: 3
  - key: remote_address
    rate_limit:
      unit: second
      requests_per_unit: 10
    descriptors:
      - key: path
        value: "/api/*"
        rate_limit:
          name: api
          unit: hour
          requests_per_unit: 100
  - key: destination_cluster
    value: "mongo_*"
    share_threshold: true
    rate_limit:
      unit: second
      requests_per_unit: 2
  - key: client_id
    value: test
    rate_limit:
      unlimited: true
  - key: client_id
    value: blocked
    rate_limit:
      unit: second
      requests_per_unit: 0
  - key: plan
    value: trial
    shadow_mode: true
    rate_limit:
      unit: second
      requests_per_unit: 1
  - key: user
    rate_limit:
      name: per_user
      unit: second
      requests_per_unit: 5
  - key: vip
    rate_limit:
      unit: second
      requests_per_unit: 50
      replaces:
        - name: per_user
"#;

fn set() -> DescriptorSet {
    parse([("edge.yaml", EDGE)], Domains::Unique).unwrap()
}

fn resolve(set: &DescriptorSet, entries: &[(&str, &str)]) -> Option<(String, String)> {
    let mut key = String::new();
    let limit = set.resolve("edge", entries, &mut key)?;
    Some((limit.path.to_string(), key))
}

#[test]
fn an_entry_matches_its_value_then_a_wildcard_then_the_bare_key() {
    let set = set();
    assert_eq!(
        resolve(&set, &[("generic_key", "login")]).unwrap().0,
        "edge.generic_key_login"
    );
    assert_eq!(resolve(&set, &[("generic_key", "other")]), None);
    let (path, key) = resolve(&set, &[("remote_address", "10.0.0.1")]).unwrap();
    assert_eq!(path, "edge.remote_address");
    assert_eq!(key, "@rls edge remote_address=10.0.0.1");
    let (path, key) = resolve(&set, &[("remote_address", "10.0.0.1"), ("path", "/api/x")]).unwrap();
    assert_eq!(path, "edge.remote_address.path_/api/*");
    assert_eq!(key, "@rls edge remote_address=10.0.0.1 path=/api/x");
    // Deeper than configured, or a nested key not configured: no limit.
    assert_eq!(
        resolve(&set, &[("remote_address", "a"), ("path", "/web")]),
        None
    );
    assert_eq!(resolve(&set, &[("generic_key", "login"), ("x", "y")]), None);
    assert_eq!(
        set.resolve("other", &[("user", "a")], &mut String::new()),
        None
    );
}

#[test]
fn share_threshold_counts_every_value_under_the_wildcard_in_one_bucket() {
    let set = set();
    let a = resolve(&set, &[("destination_cluster", "mongo_a")])
        .unwrap()
        .1;
    let b = resolve(&set, &[("destination_cluster", "mongo_b")])
        .unwrap()
        .1;
    assert_eq!(a, b);
    assert_eq!(a, "@rls edge destination_cluster=mongo_*");
    assert!(set.limit_of_key(&a).is_some());
}

#[test]
fn keys_escape_what_would_split_them_and_come_back_to_their_limit() {
    let set = set();
    for user in ["a b", "x=y", "100%", "naïve", "tab\there", ""] {
        let (_, key) = resolve(&set, &[("user", user)]).unwrap();
        assert_eq!(key.split(' ').count(), 3, "{key}");
        let (name, bucket) = set.limit_of_key(&key).expect(&key);
        assert_eq!(&*name, "edge.user");
        assert_eq!(bucket.capacity(), 5);
    }
    // Keys from the wire that do not come back the same are refused.
    for hostile in [
        "@rls edge user=a%2",
        "@rls edge user=%ZZ",
        "@rls edge user=a b",
        "@rls edge user",
        "@rls edge generic_key=nope",
        "@rls edge client_id=test",
        "@rls edge user=a%41",
        "@rls nowhere user=a",
        "@rls edge user=#0123",
        "@rls edge user=#0123456789ABCDEF0123456789ABCDEF",
        "@rls edge user=x#0123456789abcdef0123456789abcdef",
    ] {
        assert!(set.limit_of_key(hostile).is_none(), "{hostile}");
    }
}

#[test]
fn long_values_are_counted_under_a_digest_and_keep_their_limit() {
    let set = set();
    let long = "x".repeat(MAX_KEY * 2);
    let (_, key) = resolve(&set, &[("user", &long)]).unwrap();
    assert!(
        key.starts_with("@rls edge user=#") && key.len() < 60,
        "{key}"
    );
    assert_eq!(resolve(&set, &[("user", &long)]).unwrap().1, key);
    let other = format!("{long}y");
    assert_ne!(resolve(&set, &[("user", &other)]).unwrap().1, key);
    assert_eq!(&*set.limit_of_key(&key).unwrap().0, "edge.user");
    // A long value under a wildcard keeps the wildcard's prefix, so it reads
    // back to the same limit.
    let path = format!("/api/{}", "é".repeat(100));
    let (found, key) = resolve(&set, &[("remote_address", "a"), ("path", &path)]).unwrap();
    assert!(
        key.ends_with(&format!("path=/api/#{}", &key[key.len() - 32..])),
        "{key}"
    );
    assert_eq!(set.limit_of_key(&key).unwrap().0.to_string(), found);
    // A value that looks like a digest is escaped, never taken for one.
    let (_, key) = resolve(&set, &[("user", "#abc")]).unwrap();
    assert_eq!(key, "@rls edge user=%23abc");
}

#[test]
fn units_and_requests_per_unit_make_a_token_bucket() {
    let set = set();
    let key = resolve(&set, &[("generic_key", "login")]).unwrap().1;
    let limit = set
        .resolve("edge", &[("generic_key", "login")], &mut String::new())
        .unwrap();
    assert_eq!((limit.requests_per_unit, limit.unit), (3, Unit::Minute));
    let (_, bucket) = set.limit_of_key(&key).unwrap();
    assert_eq!(bucket.capacity(), 3);
    assert_eq!(bucket.interval(), std::time::Duration::from_secs(20));
    for unit in Unit::NAMES.split(", ") {
        assert_eq!(Unit::parse(&unit.to_uppercase()), Unit::parse(unit));
    }
    assert_eq!(Unit::parse("Year").unwrap().length().as_secs(), 365 * 86400);
}

#[test]
fn files_are_refused_naming_the_file_and_the_descriptor() {
    let refused = |text: &str| parse([("f.yaml", text)], Domains::Unique).unwrap_err().0;
    // Eight levels of any-value keys: a request's key could pass 1,024 bytes.
    let mut deep = String::from("domain: d\ndescriptors:\n");
    for level in 0..8 {
        let indent = "    ".repeat(level);
        deep += &format!("{indent}  - key: k{level}\n{indent}    descriptors:\n");
    }
    deep += &format!(
        "{}  - key: last\n{0}    rate_limit: {{unit: second, requests_per_unit: 1}}\n",
        "    ".repeat(8)
    );
    let cases = [
        ("descriptors: []", "f.yaml: domain: required"),
        ("domain: d\nwat: 1", "unknown field `wat`"),
        (
            "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: fortnight, requests_per_unit: 1}",
            "descriptor d.k: rate_limit.unit: \"fortnight\" is not one of second",
        ),
        (
            "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, unlimited: true}",
            "not with unlimited",
        ),
        (
            "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {requests_per_unit: 1}",
            "rate_limit.unit: required",
        ),
        (
            "domain: d\ndescriptors:\n  - key: k\n    value: v\n  - key: k\n    value: v",
            "descriptor d.k_v: configured twice",
        ),
        (
            "domain: d\ndescriptors:\n  - key: k\n    value: v\n    share_threshold: true",
            "share_threshold: only for a wildcard",
        ),
        (
            "domain: d\ndescriptors:\n  - value: v",
            "key: required",
        ),
        (
            "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {name: a, unit: second, requests_per_unit: 1, replaces: [{name: a}]}",
            "cannot replace itself",
        ),
        (
            "domain: d\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, requests_per_unit: 4294967295}",
            "rate_limit.requests_per_unit:",
        ),
        (
            "domain: d\ndescriptors:\n  - key: k\n    value: [free]",
            "value: text or a number",
        ),
        (
            &format!("domain: d\ndescriptors:\n  - key: k\n    value: {}", "v".repeat(129)),
            "value: at most 128 bytes",
        ),
        (&deep, "nested too deep, or names too long"),
    ];
    for (text, expected) in cases {
        let error = refused(text);
        assert!(error.contains(expected), "{text}\n=> {error}");
    }
    let twice = parse(
        [("a.yaml", "domain: d"), ("b.yaml", "domain: d")],
        Domains::Unique,
    )
    .unwrap_err()
    .0;
    assert!(twice.starts_with("b.yaml: domain: \"d\""), "{twice}");
}

#[test]
fn several_files_make_several_domains_and_numbers_are_values() {
    let set = parse([
        ("a.yaml", "domain: a\ndescriptors:\n  - key: port\n    value: 443\n    rate_limit: {unit: second, requests_per_unit: 1}"),
        ("b.yaml", "domain: b"),
    ], Domains::Unique)
    .unwrap();
    assert_eq!(set.domains(), ["a", "b"]);
    assert!(set
        .resolve("a", &[("port", "443")], &mut String::new())
        .is_some());
}

fn policy() -> (Policy, Store) {
    let limit = crate::limiter::Limit::new(
        std::num::NonZeroU32::new(10).unwrap(),
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let policy = Policy::new(RuleSet::single(limit));
    policy.replace_descriptors(std::sync::Arc::new(set()));
    (
        policy,
        Store::new(limit, std::num::NonZeroUsize::new(1000).unwrap()),
    )
}

fn check(
    policy: &Policy,
    store: &Store,
    descriptors: &[(&[(&str, &str)], u32)],
) -> (bool, Vec<(Outcome, u64)>) {
    let queries: Vec<DescriptorQuery> = descriptors
        .iter()
        .map(|(entries, hits)| DescriptorQuery {
            entries,
            hits: *hits,
            limit: None,
        })
        .collect();
    let mut out = Vec::new();
    let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
    let passed = policy.check_descriptors(
        store,
        "edge",
        &queries,
        Counting::AllOrNothing,
        now,
        &mut out,
    );
    (
        passed,
        out.iter().map(|v| (v.outcome, v.remaining)).collect(),
    )
}

#[test]
fn descriptors_of_one_request_are_decided_together() {
    let (policy, store) = policy();
    let login: &[(&str, &str)] = &[("generic_key", "login")];
    let user: &[(&str, &str)] = &[("user", "alice")];
    assert_eq!(
        check(&policy, &store, &[(login, 1), (user, 1)]),
        (true, vec![(Outcome::Ok, 2), (Outcome::Ok, 4)])
    );
    // hits_addend 3 is over the login limit (2 left): nothing is taken from alice.
    let (passed, out) = check(&policy, &store, &[(user, 3), (login, 3)]);
    assert!(!passed);
    assert_eq!(out[1].0, Outcome::OverLimit);
    assert_eq!(out[0].0, Outcome::Ok);
    assert_eq!(
        check(&policy, &store, &[(user, 4)]),
        (true, vec![(Outcome::Ok, 0)])
    );
    let (passed, out) = check(&policy, &store, &[(&[("nothing", "here")], 1)]);
    assert!(passed);
    assert_eq!(out, vec![(Outcome::NoLimit, 0)]);
}

#[test]
fn shadow_unlimited_blocked_and_replaced_limits() {
    let (policy, store) = policy();
    let trial: &[(&str, &str)] = &[("plan", "trial")];
    assert_eq!(check(&policy, &store, &[(trial, 1)]).1[0].0, Outcome::Ok);
    let (passed, out) = check(&policy, &store, &[(trial, 1)]);
    assert!(passed, "shadow mode never refuses");
    assert_eq!(out[0].0, Outcome::ShadowOverLimit);

    let (passed, out) = check(&policy, &store, &[(&[("client_id", "test")], 1_000_000)]);
    assert!(passed);
    assert_eq!(out[0], (Outcome::Unlimited, u64::from(u32::MAX)));

    let user: &[(&str, &str)] = &[("user", "bob")];
    let (passed, out) = check(
        &policy,
        &store,
        &[(user, 1), (&[("client_id", "blocked")], 1)],
    );
    assert!(!passed);
    assert_eq!(out[1].0, Outcome::OverLimit);
    assert_eq!(out[1].0, Outcome::OverLimit);
    // Nothing was taken from bob: all five of his tokens are still there.
    assert_eq!(check(&policy, &store, &[(user, 5)]).1[0], (Outcome::Ok, 0));

    // `vip` replaces `per_user`: bob's 5 per second no longer applies.
    let (passed, out) = check(&policy, &store, &[(user, 6), (&[("vip", "bob")], 6)]);
    // (bob's per_user bucket is empty now; replaced, it does not count.)
    assert!(passed);
    assert_eq!(out[0].0, Outcome::NoLimit);
    assert_eq!(out[1], (Outcome::Ok, 44));
}

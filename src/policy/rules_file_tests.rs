//! Unit tests of the rules file: a full example reads, and every mistake is
//! refused with the rule (or plan) and field named.

use super::*;
use crate::policy::RuleLimit;

const EXAMPLE: &str = r#"
default_plan = "free"

[plans.free]
capacity = 10
refill_per_sec = 10

[plans.pro]
capacity = 100
refill_per_sec = 100

[users]
carol = "pro"

[[rules]]
name = "per-user"
key = "user"
limit = "plan"

[[rules]]
name = "orders-write"
match = { route = "/api/orders", method = "post" }
key = "user+route"
capacity = 5
refill_per_sec = "1/2"

[[rules]]
name = "office"
match = { ip = "10.0.0.0/8" }
key = "ip"
capacity = 50
refill_per_sec = 50

[[rules]]
name = "global"
key = "global"
capacity = 1000
refill_per_sec = 1000
"#;

#[test]
fn reads_the_full_example() {
    let rules = parse(EXAMPLE).unwrap();
    assert_eq!(rules.rules().len(), 4);
    assert_eq!(rules.default_plan(), Some("free"));
    assert_eq!(rules.plan("pro").unwrap().capacity(), 100);
    assert_eq!(rules.file_plan_of("carol"), Some("pro"));
    let orders = rules.rule("orders-write").unwrap();
    assert_eq!(orders.matcher.method.as_deref(), Some("POST"));
    assert_eq!(orders.matcher.route.as_deref(), Some("/api/orders"));
    match orders.limit {
        RuleLimit::Fixed(limit) => {
            assert_eq!(limit.capacity(), 5);
            assert_eq!(limit.interval(), std::time::Duration::from_secs(2));
        }
        RuleLimit::UserPlan => panic!("fixed limit expected"),
    }
    assert_eq!(rules.rule("per-user").unwrap().limit, RuleLimit::UserPlan);
}

/// Replaces `from` with `to` in the example and returns the error.
fn refused(from: &str, to: &str) -> String {
    assert!(EXAMPLE.contains(from), "{from}");
    parse(&EXAMPLE.replacen(from, to, 1))
        .expect_err("refused")
        .to_string()
}

#[test]
fn mistakes_name_the_rule_and_field() {
    let cases = [
        (
            r#"key = "user+route""#,
            r#"key = "route""#,
            r#"rule "orders-write" field `key`"#,
        ),
        (
            r#"capacity = 5"#,
            r#"capacity = 0"#,
            r#"rule "orders-write" field `capacity`"#,
        ),
        (
            r#"refill_per_sec = "1/2""#,
            r#"refill_per_sec = "fast""#,
            r#"rule "orders-write" field `refill_per_sec`"#,
        ),
        (
            r#"refill_per_sec = "1/2""#,
            r#"refill_per_sec = "1/2"
colour = "red""#,
            r#"rule "orders-write" field `colour`"#,
        ),
        (
            r#"ip = "10.0.0.0/8""#,
            r#"ip = "10.0.0.0/99""#,
            r#"rule "office" field `match.ip`"#,
        ),
        (
            r#"route = "/api/orders""#,
            r#"route = "api/orders""#,
            r#"rule "orders-write" field `match.route`"#,
        ),
        (
            r#"name = "global""#,
            r#"name = "per-user""#,
            r#"rule "per-user" field `name`"#,
        ),
        (
            r#"name = "global""#,
            r#"name = "glo bal""#,
            r#"rule "glo bal" field `name`"#,
        ),
        (
            r#"default_plan = "free""#,
            r#"default_plan = "gold""#,
            "field `default_plan`",
        ),
        (
            r#"carol = "pro""#,
            r#"carol = "gold""#,
            r#"user "carol" field `plan`"#,
        ),
        (
            r#"capacity = 100"#,
            r#"capacity = -1"#,
            r#"plan "pro" field `capacity`"#,
        ),
        (
            r#"limit = "plan""#,
            r#"limit = "pro""#,
            r#"rule "per-user" field `limit`"#,
        ),
        (
            r#"[[rules]]
name = "global"
key = "global""#,
            r#"[[rules]]
name = "global"
key = "global"
limit = "plan""#,
            r#"rule "global" field `limit`"#,
        ),
        (
            r#"default_plan = "free""#,
            r#"default_plans = "free""#,
            "field `default_plans`",
        ),
    ];
    for (from, to, named) in cases {
        let error = refused(from, to);
        assert!(error.contains(named), "expected {named:?} in {error:?}");
    }
}

#[test]
fn plans_without_a_default_plan_cannot_be_used() {
    let error = parse(&EXAMPLE.replace(r#"default_plan = "free""#, ""))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(r#"rule "per-user" field `limit`"#),
        "{error}"
    );
}

#[test]
fn a_file_without_rules_is_refused() {
    let error = parse("[plans.free]\ncapacity = 1\nrefill_per_sec = 1\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("field `rules`"), "{error}");
    assert!(parse("this is = not toml =").is_err());
}

#[test]
fn shadow_rules_are_read_and_a_non_boolean_is_refused() {
    let text = EXAMPLE.replacen(
        r#"refill_per_sec = "1/2""#,
        "refill_per_sec = \"1/2\"\nshadow = true",
        1,
    );
    let rules = parse(&text).unwrap();
    assert!(rules.rule("orders-write").unwrap().shadow);
    assert!(
        !rules.rule("per-user").unwrap().shadow,
        "enforced unless said"
    );
    let error = refused(
        r#"refill_per_sec = "1/2""#,
        "refill_per_sec = \"1/2\"\nshadow = \"yes\"",
    );
    assert!(
        error.contains(r#"rule "orders-write" field `shadow`: must be true or false"#),
        "{error}"
    );
}

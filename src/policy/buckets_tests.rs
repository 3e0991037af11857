//! Unit tests of `buckets`.

use super::*;
use crate::policy::rules_file::parse;

const RULES: &str = r#"
    [[rules]]
    name = "per-user"
    key = "user"
    capacity = 5
    refill_per_sec = 1
    [[rules]]
    name = "orders"
    key = "user+route"
    capacity = 5
    refill_per_sec = 1
    [[rules]]
    name = "by-ip"
    key = "ip"
    capacity = 5
    refill_per_sec = 1
    [[rules]]
    name = "all"
    key = "global"
    capacity = 5
    refill_per_sec = 1
"#;

#[test]
fn only_keys_a_rule_makes_are_well_formed() {
    let rules = parse(RULES).unwrap();
    for good in [
        "per-user alice",
        "orders alice /api/x",
        "by-ip 10.0.0.1",
        "all",
    ] {
        assert!(well_formed(&rules, good), "{good}");
    }
    for bad in [
        "per-user",
        "per-user alice junk",
        "per-user  alice",
        "orders alice",
        "by-ip not-an-ip",
        "by-ip ::ffff:10.0.0.1",
        "all extra",
        "no-such-rule alice",
        "",
    ] {
        assert!(!well_formed(&rules, bad), "{bad:?}");
    }
    let bare = RuleSet::single(
        crate::limiter::Limit::new(5.try_into().unwrap(), std::time::Duration::from_secs(1))
            .unwrap(),
    );
    assert!(well_formed(&bare, "alice"));
    assert!(!well_formed(&bare, ""));
    assert!(!well_formed(&bare, &"a".repeat(257)));
}

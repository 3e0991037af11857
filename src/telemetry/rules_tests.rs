//! Unit tests of `rules`.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use crate::limiter::{Limit, Stamp, Store};
use crate::policy::{rules_file, Policy, Request, RuleSet};
use crate::telemetry::Telemetry;

fn request(user: &str) -> Request<'_> {
    Request {
        user,
        route: "/",
        method: "GET",
        tenant: None,
        ip: None,
        plan: None,
    }
}

#[test]
fn counters_follow_the_rules_when_they_change() {
    let limit = Limit::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(1)).unwrap();
    let store = Store::new(limit, NonZeroUsize::new(100).unwrap());
    let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
    let telemetry = Telemetry::new();
    let policy = Policy::new(RuleSet::single(limit));
    telemetry.count(policy.check(&store, &request("a"), 1, now).as_ref());
    // A reload: more rules, and the one that decides sits beyond the old ones.
    let rules = "[[rules]]\nname = \"x\"\nkey = \"tenant\"\ncapacity = 1\nrefill_per_sec = 1\n\
                 [[rules]]\nname = \"y\"\nkey = \"global\"\ncapacity = 1\nrefill_per_sec = 1\n";
    policy.replace_file(rules_file::parse(rules).unwrap());
    for _ in 0..2 {
        telemetry.count(policy.check(&store, &request("a"), 1, now).as_ref());
    }
    telemetry.count(None);
    let text = telemetry.render(&store);
    for series in [
        r#"limiter_decisions_total{rule="default",outcome="allowed"} 1"#,
        r#"limiter_decisions_total{rule="y",outcome="allowed"} 1"#,
        r#"limiter_decisions_total{rule="y",outcome="limited"} 1"#,
        r#"limiter_decisions_total{rule="x",outcome="allowed"} 0"#,
        r#"limiter_decisions_total{rule="",outcome="allowed"} 1"#,
    ] {
        assert!(text.contains(series), "{series} in\n{text}");
    }
}

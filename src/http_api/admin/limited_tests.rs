//! Unit tests of `limited`.

use super::*;
use crate::limiter::{Limit, Stamp, Store};
use crate::policy::{rules_file, Policy, Request, RuleSet, Verdict};
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

fn request(user: &str) -> Request<'_> {
    Request {
        user,
        route: "/orders",
        method: "POST",
        tenant: None,
        ip: None,
        plan: None,
    }
}

#[test]
fn a_refusal_is_counted_under_the_bucket_key_that_refused() {
    let limit = Limit::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(1)).unwrap();
    let store = Store::new(limit, NonZeroUsize::new(100).unwrap());
    let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
    let rules = "[[rules]]\nname = \"wide\"\nkey = \"user\"\ncapacity = 9\nrefill_per_sec = 1\n\
                 [[rules]]\nname = \"orders\"\nkey = \"user+route\"\ncapacity = 1\nrefill_per_sec = 1\n";
    let policy = Policy::new(rules_file::parse(rules).unwrap());
    let first = policy.check(&store, &request("alice"), 1, now).unwrap();
    assert!(first.decision.is_allowed());
    let refused = policy.check(&store, &request("alice"), 1, now).unwrap();
    assert!(!refused.decision.is_allowed());
    assert_eq!(&**refused.rule_name(), "orders");
    let key = bucket_key(&refused, "alice");
    assert_eq!(key, "orders alice /orders");
    assert!(policy.inspect(&store, &key, now).is_some(), "a real bucket");
    // Without a rules file: the bare user ID.
    let bare = Policy::new(RuleSet::single(limit));
    bare.check(&store, &request("bob"), 1, now);
    let refused = bare.check(&store, &request("bob"), 1, now).unwrap();
    assert_eq!(bucket_key(&refused, "bob"), "bob");
}

fn bucket_key(verdict: &Verdict, user: &str) -> String {
    let mut key = String::new();
    assert!(verdict.write_bucket_key(&request(user), &mut key));
    key
}

#[test]
fn limit_is_optional_bounded_and_alone() {
    assert_eq!(limit_from("").unwrap(), CAPACITY);
    assert_eq!(limit_from("limit=3").unwrap(), 3);
    for bad in ["limit=0", "limit=65", "limit=x", "limit"] {
        assert!(
            matches!(limit_from(bad), Err(ApiError::InvalidField { field, .. }) if field == "limit"),
            "{bad}"
        );
    }
    assert!(
        matches!(limit_from("limit=3&top=1"), Err(ApiError::InvalidField { field, .. }) if field == "top")
    );
}

//! A request's own limit: honoured in configured domains, keyed by its
//! entries and the override, read back from the key alone.

use std::time::Duration;

use crate::limiter::Algorithm;
use crate::policy::algorithm::{AlgorithmDefaults, AlgorithmKind};
use crate::policy::descriptors::yaml::{parse, parse_with, Domains};
use crate::policy::descriptors::{DescriptorSet, LimitKind, Unit};

fn set() -> DescriptorSet {
    parse([("d.yaml", "domain: test-domain")], Domains::Unique).unwrap()
}

#[test]
fn an_override_makes_a_bucket_keyed_by_entries_and_limit() {
    let set = set();
    let entries = [("key1", "value1"), ("subkey1", "something")];
    let mut key = String::new();
    let limit = set
        .resolve_override("test-domain", &entries, 10, Unit::Day, &mut key)
        .unwrap();
    assert_eq!(
        key,
        "@rls test-domain !10/day key1=value1 subkey1=something"
    );
    assert!(limit.overridden && !limit.shadow && !limit.quota_mode);
    assert_eq!((limit.requests_per_unit, limit.unit), (10, Unit::Day));
    let (name, bucket) = set.limit_of_key(&key).unwrap();
    assert_eq!(&*name, "test-domain.override");
    assert_eq!(
        (bucket.capacity(), bucket.interval()),
        (10, Duration::from_secs(8640))
    );
    // Another override of the same entries is another bucket.
    let mut other = String::new();
    set.resolve_override("test-domain", &entries, 42, Unit::Hour, &mut other);
    assert_ne!(other, key);
}

#[test]
fn an_override_needs_a_configured_domain_and_a_limit_that_can_be() {
    let set = set();
    let mut key = String::from("kept");
    assert!(set
        .resolve_override("foo_domain", &[("a", "b")], 10, Unit::Day, &mut key)
        .is_none());
    assert_eq!(key, "kept");
    let blocked = set.resolve_override("test-domain", &[("a", "b")], 0, Unit::Day, &mut key);
    assert_eq!(blocked.unwrap().kind, LimitKind::Blocked);
    let too_fast = set.resolve_override(
        "test-domain",
        &[("a", "b")],
        u32::MAX,
        Unit::Second,
        &mut key,
    );
    assert!(too_fast.is_none());
}

#[test]
fn override_keys_from_the_wire_must_come_back_the_same() {
    let set = set();
    let long = "v".repeat(500);
    let mut key = String::new();
    set.resolve_override("test-domain", &[("k", &long)], 5, Unit::Minute, &mut key);
    assert!(
        key.starts_with("@rls test-domain !5/minute k=#") && key.len() < 80,
        "{key}"
    );
    assert!(set.limit_of_key(&key).is_some());
    for hostile in [
        "@rls test-domain !5/fortnight k=v",
        "@rls test-domain !x/minute k=v",
        "@rls test-domain !05/minute k=v",
        "@rls test-domain !5/Minute k=v",
        "@rls test-domain !0/minute k=v",
        "@rls test-domain !5/minute k=v extra",
        "@rls test-domain !5/minute k=#00",
        "@rls nowhere !5/minute k=v",
        &format!("@rls test-domain !5/minute k={long}"),
    ] {
        assert!(set.limit_of_key(hostile).is_none(), "{hostile}");
    }
}

/// `--rls-algorithm fixed-window`: an override counts in fixed windows of
/// its unit, as configured limits naming no algorithm do, and its key reads
/// back as the same limit.
#[test]
fn an_override_counts_under_the_nodes_algorithm() {
    for (rls, algorithm) in [
        (
            AlgorithmKind::FixedWindow,
            Algorithm::FixedWindow(crate::limiter::Unit::Minute),
        ),
        (
            AlgorithmKind::SlidingWindow,
            Algorithm::SlidingWindow(crate::limiter::Unit::Minute),
        ),
        (AlgorithmKind::TokenBucket, Algorithm::TokenBucket),
        // No calendar has minutes: a fixed window, not an unlimited request.
        (
            AlgorithmKind::Calendar,
            Algorithm::FixedWindow(crate::limiter::Unit::Minute),
        ),
    ] {
        let defaults = AlgorithmDefaults {
            rls,
            ..AlgorithmDefaults::default()
        };
        let file = [("d.yaml", "domain: test-domain")];
        let set = parse_with(file, Domains::Unique.into(), defaults).unwrap();
        let mut key = String::new();
        let limit = set
            .resolve_override("test-domain", &[("k", "v")], 10, Unit::Minute, &mut key)
            .unwrap();
        let LimitKind::Bucket(bucket) = limit.kind else {
            panic!("{rls:?}: a bucket")
        };
        assert_eq!((bucket.algorithm(), bucket.capacity()), (algorithm, 10));
        assert_eq!(set.limit_of_key(&key).unwrap().1, bucket, "{rls:?}");
    }
}

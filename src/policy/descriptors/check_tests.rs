//! Quota-mode limits, descriptors asking for 0 hits, and overrides, decided
//! with the others of their request; and counting over the limit
//! (`--rls-count-over-limit`) against the all-or-nothing default.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use crate::limiter::{Limit, Stamp, Store};
use crate::policy::descriptors::yaml::{parse, Domains};
use crate::policy::descriptors::{Counting, DescriptorQuery, Outcome, Unit};
use crate::policy::{Policy, RuleSet};

const QUOTAS: &str = r#"
domain: edge
descriptors:
  - {key: service, value: service_1, quota_mode: true, rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: service, value: service_2, quota_mode: true, rate_limit: {unit: minute, requests_per_unit: 2}}
  - {key: user, rate_limit: {unit: minute, requests_per_unit: 5}}
  - {key: trial, shadow_mode: true, rate_limit: {unit: minute, requests_per_unit: 1}}
"#;

struct Node {
    policy: Policy,
    store: Store,
    now: Stamp,
    counting: Counting,
}

impl Node {
    fn new() -> Self {
        let limit = Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap();
        let policy = Policy::new(RuleSet::single(limit));
        let set = parse([("q.yaml", QUOTAS)], Domains::Unique).unwrap();
        policy.replace_descriptors(Arc::new(set));
        let store = Store::new(limit, NonZeroUsize::new(1000).unwrap());
        let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
        Self {
            policy,
            store,
            now,
            counting: Counting::AllOrNothing,
        }
    }

    /// Decides descriptors (entries, hits, override): whether the request
    /// passed, and each descriptor's outcome and tokens left.
    fn check(&self, queries: &[DescriptorQuery<'_>]) -> (bool, Vec<(Outcome, u64)>) {
        let mut out = Vec::new();
        let passed = self.policy.check_descriptors(
            &self.store,
            "edge",
            queries,
            self.counting,
            self.now,
            &mut out,
        );
        (
            passed,
            out.iter().map(|v| (v.outcome, v.remaining)).collect(),
        )
    }
}

fn ask<'a>(entries: &'a [(&'a str, &'a str)], hits: u32) -> DescriptorQuery<'a> {
    DescriptorQuery {
        entries,
        hits,
        limit: None,
    }
}

const S1: &[(&str, &str)] = &[("service", "service_1")];
const S2: &[(&str, &str)] = &[("service", "service_2")];
const USER: &[(&str, &str)] = &[("user", "alice")];

#[test]
fn quota_limits_refuse_only_when_all_are_over() {
    let node = Node::new();
    let (passed, _) = node.check(&[ask(S1, 1), ask(S2, 1), ask(USER, 1)]);
    assert!(passed);
    // service_1 is spent: over, yet the request passes on service_2.
    let (passed, statuses) = node.check(&[ask(S1, 1), ask(S2, 1), ask(USER, 1)]);
    assert!(passed);
    assert_eq!(statuses[0].0, Outcome::OverLimit);
    assert_eq!(statuses[1], (Outcome::Ok, 0));
    // Both spent: refused, and alice's limit takes nothing.
    let (passed, statuses) = node.check(&[ask(S1, 1), ask(S2, 1), ask(USER, 1)]);
    assert!(!passed);
    assert_eq!(
        (statuses[0].0, statuses[1].0),
        (Outcome::OverLimit, Outcome::OverLimit)
    );
    let (_, statuses) = node.check(&[ask(USER, 1)]);
    assert_eq!(statuses[0], (Outcome::Ok, 2), "two taken, not three");
}

#[test]
fn zero_hits_checks_without_spending_and_is_over_when_no_token_is_left() {
    let node = Node::new();
    for _ in 0..3 {
        let (passed, statuses) = node.check(&[ask(USER, 0)]);
        assert!(passed);
        assert_eq!(statuses[0], (Outcome::Ok, 5));
    }
    // Envoy's token quota: check with 0 on the request, spend on the response.
    for _ in 0..2 {
        assert!(node.check(&[ask(S2, 0)]).0);
        assert!(node.check(&[ask(S2, 1)]).0);
    }
    let (passed, statuses) = node.check(&[ask(S2, 0)]);
    assert!(!passed, "the only quota limit is over");
    assert_eq!(statuses[0].0, Outcome::OverLimit);
    // Two quota limits: the request passes while one has a token.
    let (passed, statuses) = node.check(&[ask(S1, 0), ask(S2, 0)]);
    assert!(passed);
    assert_eq!(
        (statuses[0].0, statuses[1].0),
        (Outcome::Ok, Outcome::OverLimit)
    );
}

#[test]
fn an_override_replaces_the_configured_limit_in_its_own_bucket() {
    let node = Node::new();
    let own = |hits| DescriptorQuery {
        entries: USER,
        hits,
        limit: Some((2, Unit::Hour)),
    };
    assert_eq!(node.check(&[own(1)]).1[0], (Outcome::Ok, 1));
    assert_eq!(node.check(&[own(1)]).1[0], (Outcome::Ok, 0));
    assert!(!node.check(&[own(1)]).0);
    // The configured limit's bucket was never touched.
    assert_eq!(node.check(&[ask(USER, 1)]).1[0], (Outcome::Ok, 4));
    // Not a configured domain: no limit, as envoyproxy/ratelimit does.
    let mut out = Vec::new();
    let elsewhere = node.policy.check_descriptors(
        &node.store,
        "nowhere",
        &[own(1)],
        node.counting,
        node.now,
        &mut out,
    );
    assert!(elsewhere && out[0].outcome == Outcome::NoLimit);
}

fn counting_over_the_limit() -> Node {
    Node {
        counting: Counting::OverLimit,
        ..Node::new()
    }
}

/// upstream's token-quota.sh: each request checks service_2 (2 a minute)
/// with 0 hits, its response spends 1. Counted over the limit, the third
/// response's hit passes the limit and the fourth check is over; all or
/// nothing, the second response spends the last token and the third check is.
#[test]
fn token_quota_admits_one_past_the_limit_only_when_counting_over_it() {
    for (node, admitted) in [(Node::new(), 2), (counting_over_the_limit(), 3)] {
        for n in 1..=admitted {
            assert!(node.check(&[ask(S2, 0)]).0, "request {n} of {admitted}");
            node.check(&[ask(S2, 1)]);
        }
        let (passed, statuses) = node.check(&[ask(S2, 0)]);
        assert!(!passed, "request {} of {:?}", admitted + 1, node.counting);
        assert_eq!(statuses[0].0, Outcome::OverLimit);
    }
}

/// A refused call takes nothing by default; counted over the limit, every
/// descriptor of it is counted, the one over too.
#[test]
fn a_refused_call_is_counted_in_every_descriptor_only_when_counting_over_the_limit() {
    let own = DescriptorQuery {
        entries: USER,
        hits: 1,
        limit: Some((1, Unit::Hour)),
    };
    for (node, left) in [(Node::new(), 4), (counting_over_the_limit(), 3)] {
        assert!(node.check(&[ask(USER, 1), own]).0);
        let (passed, statuses) = node.check(&[ask(USER, 1), own]);
        assert!(!passed);
        assert_eq!(statuses[1].0, Outcome::OverLimit);
        assert_eq!(node.check(&[ask(USER, 0)]).1[0], (Outcome::Ok, left));
    }
}

#[test]
fn counting_over_the_limit_keeps_shadow_and_quota_modes() {
    let node = counting_over_the_limit();
    let trial: &[(&str, &str)] = &[("trial", "x")];
    assert!(node.check(&[ask(trial, 1)]).0);
    let (passed, statuses) = node.check(&[ask(trial, 1)]);
    assert!(passed, "a shadow limit never refuses");
    assert_eq!(statuses[0].0, Outcome::ShadowOverLimit);
    // Quota limits refuse only when all of the request's are over.
    assert!(node.check(&[ask(S1, 1), ask(S2, 1)]).0);
    let (passed, statuses) = node.check(&[ask(S1, 1), ask(S2, 1)]);
    assert!(passed, "service_2 still has a token");
    assert_eq!(statuses[0].0, Outcome::OverLimit);
    assert!(!node.check(&[ask(S1, 1), ask(S2, 1)]).0);
}

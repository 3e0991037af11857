//! Quota-mode limits, descriptors asking for 0 hits, and overrides, decided
//! with the others of their request; and counting over the limit
//! (`--rls-count-over-limit`) against the all-or-nothing default.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use crate::limiter::{Limit, Stamp, Store};
use crate::policy::algorithm::AlgorithmDefaults;
use crate::policy::descriptors::yaml::{parse, parse_with, Domains, LoadOptions};
use crate::policy::descriptors::{Counting, DescriptorQuery, DescriptorSet, Outcome, Unit};
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
        Self::with(parse([("q.yaml", QUOTAS)], Domains::Unique).unwrap())
    }

    fn with(set: DescriptorSet) -> Self {
        let limit = Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap();
        let policy = Policy::new(RuleSet::single(limit));
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

/// Limits none of which says `quota_mode`, read under `--rls-quota-mode`.
const PLAIN: &str = r#"
domain: edge
descriptors:
  - {key: user, rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: tenant, rate_limit: {unit: minute, requests_per_unit: 2}}
  - {key: plan, shadow_mode: true, rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: open, rate_limit: {unlimited: true}}
"#;

fn every_quota() -> Node {
    let options = LoadOptions {
        domains: Domains::Unique,
        quota_mode: true,
    };
    let set = parse_with([("p.yaml", PLAIN)], options, AlgorithmDefaults::default());
    Node::with(set.unwrap())
}

const TENANT: &[(&str, &str)] = &[("tenant", "acme")];

#[test]
fn every_limit_in_quota_mode_refuses_only_when_every_descriptor_is_over() {
    let node = every_quota();
    assert!(node.check(&[ask(USER, 1), ask(TENANT, 1)]).0);
    // alice is over: alone she would refuse, quota mode lets the tenant pass.
    let (passed, statuses) = node.check(&[ask(USER, 1), ask(TENANT, 1)]);
    assert!(passed);
    assert_eq!(statuses, [(Outcome::OverLimit, 0), (Outcome::Ok, 0)]);
    let (passed, statuses) = node.check(&[ask(USER, 1), ask(TENANT, 1)]);
    assert!(!passed, "every descriptor is over");
    assert_eq!(statuses[1].0, Outcome::OverLimit);
    assert!(!node.check(&[ask(USER, 1)]).0);
    // A request's own limit is in quota mode too.
    let own = DescriptorQuery {
        entries: USER,
        hits: 1,
        limit: Some((5, Unit::Hour)),
    };
    let mut out = Vec::new();
    let passed = node.policy.check_descriptors(
        &node.store,
        "edge",
        &[ask(USER, 1), own],
        node.counting,
        node.now,
        &mut out,
    );
    assert!(passed && out[1].limit.as_ref().unwrap().quota_mode);
}

#[test]
fn every_limit_in_quota_mode_lets_a_descriptor_without_a_limit_or_a_shadow_one_pass() {
    let node = every_quota();
    assert!(node.check(&[ask(USER, 1)]).0);
    // As envoyproxy/ratelimit's QUOTA_MODE counts them: each is a quota
    // descriptor that is never over.
    let nothing: &[(&str, &str)] = &[("nothing", "x")];
    let (passed, statuses) = node.check(&[ask(USER, 1), ask(nothing, 1)]);
    assert!(passed);
    assert_eq!(statuses[1].0, Outcome::NoLimit);
    let plan: &[(&str, &str)] = &[("plan", "trial")];
    assert!(node.check(&[ask(USER, 1), ask(plan, 1)]).0);
    // An unlimited one does not count.
    let open: &[(&str, &str)] = &[("open", "door")];
    let (passed, statuses) = node.check(&[ask(USER, 1), ask(open, 1)]);
    assert!(!passed);
    assert_eq!(statuses[1].0, Outcome::Unlimited);
    // Without the setting, the same request with a descriptor lacking a limit is refused.
    let plain = Node::with(parse([("p.yaml", PLAIN)], Domains::Unique).unwrap());
    assert!(plain.check(&[ask(USER, 1)]).0);
    assert!(!plain.check(&[ask(USER, 1), ask(nothing, 1)]).0);
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

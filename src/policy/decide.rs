//! The decision of one request against every rule that matches it: all or
//! nothing, reporting the rule that limits soonest (or refuses longest).

use std::time::Duration;

use crate::limiter::{Decision, Limit, Stamp, Store};

/// A matching rule of the request being decided.
pub(super) struct Hit {
    pub(super) rule: usize,
    pub(super) limit: Limit,
    /// Where its key ends in the scratch string (it starts where the previous one ends).
    pub(super) end: usize,
}

/// Decides against every hit; returns the index of the hit to report and its decision.
pub(super) fn decide(
    store: &Store,
    keys: &str,
    hits: &[Hit],
    cost: u32,
    now: Stamp,
) -> Option<(usize, Decision)> {
    let key = |n: usize| &keys[if n == 0 { 0 } else { hits[n - 1].end }..hits[n].end];
    if let [hit] = hits {
        // One bucket: taking is already all or nothing.
        return Some((0, store.check_with(key(0), &hit.limit, cost, now)));
    }
    // A cost beyond some rule's capacity can never pass: report that rule,
    // whatever the others would say, so the caller can tell.
    if let Some(n) = hits.iter().position(|hit| cost > hit.limit.capacity()) {
        return Some((n, store.peek(key(n), &hits[n].limit, cost, now)));
    }
    // Take in order: a request any rule refuses takes nothing anywhere, so a
    // refusal gives back what the rules before it took.
    let mut tightest: Option<(usize, Decision)> = None;
    for (n, hit) in hits.iter().enumerate() {
        let decision = store.check_with(key(n), &hit.limit, cost, now);
        if !decision.is_allowed() {
            for (m, earlier) in hits[..n].iter().enumerate() {
                store.refund(key(m), &earlier.limit, cost);
            }
            return Some(longest_refusal(store, &key, hits, (n, decision), cost, now));
        }
        if tightest.as_ref().is_none_or(|(_, t)| sooner(&decision, t)) {
            tightest = Some((n, decision));
        }
    }
    tightest
}

/// The refusal to report once hit `refused.0` refused: the rule that refuses
/// longest, since the request cannot pass before it allows (the first such
/// in order). The rules before it allowed; those after it are asked without taking.
fn longest_refusal<'k>(
    store: &Store,
    key: &impl Fn(usize) -> &'k str,
    hits: &[Hit],
    refused: (usize, Decision),
    cost: u32,
    now: Stamp,
) -> (usize, Decision) {
    let mut longest = refused;
    for (n, hit) in hits.iter().enumerate().skip(longest.0 + 1) {
        let decision = store.peek(key(n), &hit.limit, cost, now);
        if retry_after(&decision) > retry_after(&longest.1) {
            longest = (n, decision);
        }
    }
    longest
}

fn retry_after(decision: &Decision) -> Duration {
    match decision {
        Decision::Allowed { .. } => Duration::ZERO,
        // A refusal always reports a positive wait, so it beats "none yet".
        Decision::Limited { retry_after, .. } => (*retry_after).max(Duration::from_nanos(1)),
    }
}

/// Whether allowed decision `a` limits sooner than `b`: fewer tokens left,
/// then the longer wait to full.
fn sooner(a: &Decision, b: &Decision) -> bool {
    match (a, b) {
        (
            Decision::Allowed {
                remaining: ra,
                reset: ta,
            },
            Decision::Allowed {
                remaining: rb,
                reset: tb,
            },
        ) => (ra, std::cmp::Reverse(ta)) < (rb, std::cmp::Reverse(tb)),
        _ => false,
    }
}

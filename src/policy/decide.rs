//! The decision of one request against every rule that matches it: all or
//! nothing over the enforced rules, reporting the rule that limits soonest (or
//! refuses longest). Shadow rules never refuse: their buckets are taken only
//! when the enforced rules let the request through, so they count what the
//! new limit would have admitted (as descriptors in shadow mode do).

use std::time::Duration;

use crate::limiter::{Decision, Limit, Stamp, Store};

/// A bucket the request being decided is counted in.
pub(super) struct Hit {
    /// What it stands for: a rule, or a descriptor of the request.
    pub(super) rule: usize,
    pub(super) limit: Limit,
    /// Tokens the request takes from it.
    pub(super) cost: u32,
    /// Counted and reported, but never refuses.
    pub(super) shadow: bool,
    /// Where its key is in the scratch string.
    pub(super) start: usize,
    pub(super) end: usize,
}

/// What [`decide`] found.
pub(super) struct Decided {
    /// The hit to report (its place in the hits once enforced come first).
    pub(super) hit: usize,
    /// Its decision; a shadow hit's refusal is reported as allowed.
    pub(super) decision: Decision,
    /// The shadow hit that would have refused longest, and its wait.
    pub(super) shadow_limited: Option<(usize, Duration)>,
}

/// Decides against every hit: the enforced ones all or nothing, then, if
/// they let the request through, the shadow ones. Puts enforced hits first.
pub(super) fn decide(store: &Store, keys: &str, hits: &mut [Hit], now: Stamp) -> Option<Decided> {
    let split = enforced_first(hits);
    let (enforced, shadow) = hits.split_at(split);
    let decided = decide_enforced(store, keys, enforced, now);
    if shadow.is_empty() || decided.is_some_and(|(_, d)| !d.is_allowed()) {
        return decided.map(|(hit, decision)| Decided {
            hit,
            decision,
            shadow_limited: None,
        });
    }
    decide_shadow(store, keys, shadow, split, decided, now)
}

/// Takes from the shadow hits (from place `split` on) once the enforced ones
/// allowed (`decided`, `None` if there are none): the tightest of all is
/// reported, and the shadow hit that would have refused longest.
#[inline(never)]
fn decide_shadow(
    store: &Store,
    keys: &str,
    shadow: &[Hit],
    split: usize,
    decided: Option<(usize, Decision)>,
    now: Stamp,
) -> Option<Decided> {
    let mut tightest = decided;
    let mut shadow_limited: Option<(usize, Duration)> = None;
    take_shadow(store, keys, shadow, true, now, |n, decision| {
        let (decision, wait) = as_shadow(decision);
        if let Some(wait) = wait.filter(|w| shadow_limited.is_none_or(|(_, l)| *w > l)) {
            shadow_limited = Some((split + n, wait));
        }
        if tightest.is_none_or(|(_, t)| sooner(&decision, &t)) {
            tightest = Some((split + n, decision));
        }
    });
    tightest.map(|(hit, decision)| Decided {
        hit,
        decision,
        shadow_limited,
    })
}

/// Sorts the enforced hits before the shadow ones, each in the request's
/// order (untouched when none is shadow); returns where the shadow ones start.
pub(super) fn enforced_first(hits: &mut [Hit]) -> usize {
    match hits.iter().any(|hit| hit.shadow) {
        true => shadow_last(hits),
        false => hits.len(),
    }
}

/// Kept out of line: the common case (no shadow rule) never sorts.
#[cold]
#[inline(never)]
fn shadow_last(hits: &mut [Hit]) -> usize {
    // Stable, and without allocating for the few hits of a request.
    hits.sort_by_key(|hit| hit.shadow);
    hits.iter().position(|hit| hit.shadow).unwrap_or(hits.len())
}

/// Tells `each` the decision of every shadow hit: taken if the request
/// `passed`, otherwise asked without taking.
pub(super) fn take_shadow(
    store: &Store,
    keys: &str,
    shadow: &[Hit],
    passed: bool,
    now: Stamp,
    mut each: impl FnMut(usize, Decision),
) {
    for (n, hit) in shadow.iter().enumerate() {
        let key = &keys[hit.start..hit.end];
        each(
            n,
            if passed {
                store.check_with(key, &hit.limit, hit.cost, now)
            } else {
                store.peek(key, &hit.limit, hit.cost, now)
            },
        );
    }
}

/// A shadow bucket's decision as reported (allowed, with what the bucket
/// holds), and the wait it would have imposed had it refused.
pub(super) fn as_shadow(decision: Decision) -> (Decision, Option<Duration>) {
    match decision {
        Decision::Limited {
            remaining,
            retry_after,
            reset,
        } => (Decision::Allowed { remaining, reset }, Some(retry_after)),
        allowed => (allowed, None),
    }
}

/// Decides against enforced hits; returns the index of the hit to report and its decision.
fn decide_enforced(
    store: &Store,
    keys: &str,
    hits: &[Hit],
    now: Stamp,
) -> Option<(usize, Decision)> {
    let key = |n: usize| &keys[hits[n].start..hits[n].end];
    if let [hit] = hits {
        // One bucket: taking is already all or nothing.
        return Some((0, store.check_with(key(0), &hit.limit, hit.cost, now)));
    }
    // A cost beyond some rule's capacity can never pass: report that rule,
    // whatever the others would say, so the caller can tell.
    if let Some(n) = hits.iter().position(|hit| hit.cost > hit.limit.capacity()) {
        return Some((n, store.peek(key(n), &hits[n].limit, hits[n].cost, now)));
    }
    let mut tightest: Option<(usize, Decision)> = None;
    let taken = take_all(store, keys, hits, now, |n, decision| {
        if tightest.as_ref().is_none_or(|(_, t)| sooner(&decision, t)) {
            tightest = Some((n, decision));
        }
    });
    match taken {
        Ok(()) => tightest,
        Err(refused) => Some(longest_refusal(store, &key, hits, refused, now)),
    }
}

/// Decides against every hit all or nothing, telling `each` every hit's
/// decision (a later call for the same hit replaces an earlier one); returns
/// whether the request passed.
pub(super) fn decide_each(
    store: &Store,
    keys: &str,
    hits: &[Hit],
    now: Stamp,
    mut each: impl FnMut(usize, Decision),
) -> bool {
    let key = |n: usize| &keys[hits[n].start..hits[n].end];
    match take_all(store, keys, hits, now, &mut each) {
        Ok(()) => true,
        Err((refused, decision)) => {
            // Nothing was taken: the others report what they hold (as
            // envoyproxy/ratelimit does with STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT),
            // and whether they too would have refused.
            for (n, hit) in hits.iter().enumerate().filter(|(n, _)| *n != refused) {
                let decision = match store.peek(key(n), &hit.limit, hit.cost, now) {
                    Decision::Allowed { .. } => store.peek(key(n), &hit.limit, 0, now),
                    refusing => refusing,
                };
                each(n, decision);
            }
            each(refused, decision);
            false
        }
    }
}

/// Takes from every hit in order, telling `allowed` each decision. A request
/// any bucket refuses takes nothing anywhere: the refusal gives back what
/// the hits before it took, and is returned.
fn take_all(
    store: &Store,
    keys: &str,
    hits: &[Hit],
    now: Stamp,
    mut allowed: impl FnMut(usize, Decision),
) -> Result<(), (usize, Decision)> {
    let key = |n: usize| &keys[hits[n].start..hits[n].end];
    for (n, hit) in hits.iter().enumerate() {
        let decision = store.check_with(key(n), &hit.limit, hit.cost, now);
        if !decision.is_allowed() {
            for (m, earlier) in hits[..n].iter().enumerate() {
                store.refund(key(m), &earlier.limit, earlier.cost);
            }
            return Err((n, decision));
        }
        allowed(n, decision);
    }
    Ok(())
}

/// The refusal to report once hit `refused.0` refused: the rule that refuses
/// longest, since the request cannot pass before it allows (the first such
/// in order). The rules before it allowed; those after it are asked without taking.
fn longest_refusal<'k>(
    store: &Store,
    key: &impl Fn(usize) -> &'k str,
    hits: &[Hit],
    refused: (usize, Decision),
    now: Stamp,
) -> (usize, Decision) {
    let mut longest = refused;
    for (n, hit) in hits.iter().enumerate().skip(longest.0 + 1) {
        let decision = store.peek(key(n), &hit.limit, hit.cost, now);
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

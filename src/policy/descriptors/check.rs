//! The decision of a rate-limit request's descriptors, together: nothing is
//! taken when any descriptor is over its limit. Shadow-mode limits are
//! counted and reported but never refuse; `replaces` drops the limits it
//! names; quota-mode limits refuse only when every one of the request's is
//! over; a descriptor asking for 0 hits is checked without taking anything.
//! Counting over the limit (upstream's default) instead spends every
//! descriptor's hits whether or not the request is over.

use std::sync::Arc;
use std::time::Duration;

use super::{DescriptorLimit, LimitKind, Unit};
use crate::limiter::{Decision, Stamp, Store};
use crate::policy::decide::{decide_each, enforced_first, take_shadow, Hit};
use crate::policy::{Policy, SCRATCH};

/// One descriptor of a request.
#[derive(Clone, Copy, Debug)]
pub struct DescriptorQuery<'a> {
    /// Its entries, in order.
    pub entries: &'a [(&'a str, &'a str)],
    /// Tokens it takes; 0: none, it is over its limit when its bucket holds
    /// less than one token (how Envoy's quota filters ask before they spend).
    pub hits: u32,
    /// The request's own limit for it (`requests_per_unit`, unit), if it brought one.
    pub limit: Option<(u32, Unit)>,
}

/// What became of one descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No limit applies (none configured, or replaced).
    NoLimit,
    /// An `unlimited` limit.
    Unlimited,
    /// Within its limit.
    Ok,
    /// Over its limit.
    OverLimit,
    /// Over a shadow-mode limit: reported as within it.
    ShadowOverLimit,
}

impl Outcome {
    /// Every outcome, in the order of [`Outcome::index`].
    pub const ALL: [Outcome; 5] = [
        Self::NoLimit,
        Self::Unlimited,
        Self::Ok,
        Self::OverLimit,
        Self::ShadowOverLimit,
    ];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoLimit => "no_limit",
            Self::Unlimited => "unlimited",
            Self::Ok => "ok",
            Self::OverLimit => "over_limit",
            Self::ShadowOverLimit => "shadow_limited",
        }
    }

    /// Its place in [`Outcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a request's descriptors count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Counting {
    /// A refused request takes nothing from any descriptor (envoyproxy/ratelimit's
    /// `STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT=true`).
    #[default]
    AllOrNothing,
    /// Every descriptor's hits are counted, over its limit or not, each over
    /// when its count passes the limit (upstream's default, `--rls-count-over-limit`).
    OverLimit,
}

/// One descriptor's answer.
#[derive(Clone, Debug)]
pub struct DescriptorVerdict {
    pub outcome: Outcome,
    /// The limit that applied.
    pub limit: Option<Arc<DescriptorLimit>>,
    /// Whole tokens left.
    pub remaining: u64,
    /// Over the limit: until the tokens asked for are there; otherwise until the bucket is full.
    pub reset: Duration,
}

impl DescriptorVerdict {
    fn of(limit: Option<Arc<DescriptorLimit>>, outcome: Outcome) -> Self {
        Self {
            outcome,
            limit,
            remaining: 0,
            reset: Duration::ZERO,
        }
    }

    fn record(&mut self, decision: Decision) {
        let shadow = self.limit.as_ref().is_some_and(|l| l.shadow);
        match decision {
            Decision::Allowed { remaining, reset } => {
                self.outcome = Outcome::Ok;
                self.remaining = remaining;
                self.reset = reset;
            }
            Decision::Limited {
                remaining,
                retry_after,
                ..
            } => {
                self.outcome = if shadow {
                    Outcome::ShadowOverLimit
                } else {
                    Outcome::OverLimit
                };
                self.remaining = remaining;
                self.reset = retry_after;
            }
        }
    }
}

impl Policy {
    /// Decides `descriptors` of `domain` together, counting as `counting`
    /// says, one verdict each in `out` (cleared first); returns whether the
    /// request is within every limit.
    pub fn check_descriptors(
        &self,
        store: &Store,
        domain: &str,
        descriptors: &[DescriptorQuery<'_>],
        counting: Counting,
        now: Stamp,
        out: &mut Vec<DescriptorVerdict>,
    ) -> bool {
        let set = self.descriptors.load();
        out.clear();
        SCRATCH.with_borrow_mut(|(keys, hits)| {
            keys.clear();
            hits.clear();
            for (i, query) in descriptors.iter().enumerate() {
                let start = keys.len();
                let limit = match query.limit {
                    Some((requests, unit)) => {
                        set.resolve_override(domain, query.entries, requests, unit, keys)
                    }
                    None => set.resolve(domain, query.entries, keys).cloned(),
                };
                out.push(DescriptorVerdict::of(limit.clone(), Outcome::NoLimit));
                if let Some((LimitKind::Bucket(bucket), shadow)) = limit.map(|l| (l.kind, l.shadow))
                {
                    hits.push(Hit {
                        rule: i,
                        limit: bucket,
                        cost: query.hits,
                        shadow,
                        start,
                        end: keys.len(),
                    });
                }
            }
            drop_replaced(out, hits);
            let quota = Quota::of(out, set.quota_mode);
            match counting {
                Counting::AllOrNothing => decide_all(store, keys, hits, out, quota, now),
                Counting::OverLimit => count_all(store, keys, hits, out, quota, now),
            }
        })
    }
}

/// Forgets the limits another limit of the request replaces.
fn drop_replaced(out: &mut [DescriptorVerdict], hits: &mut Vec<Hit>) {
    let replaces = |v: &DescriptorVerdict| v.limit.as_ref().is_some_and(|l| !l.replaces.is_empty());
    if !out.iter().any(replaces) {
        return;
    }
    let replaced = |name: &Arc<str>, out: &[DescriptorVerdict]| {
        out.iter()
            .filter_map(|v| v.limit.as_ref())
            .any(|l| l.replaces.contains(name))
    };
    let gone: Vec<usize> = (0..out.len())
        .filter(|&i| {
            let limit = out[i].limit.as_ref();
            limit
                .and_then(|l| l.name.as_ref())
                .is_some_and(|n| replaced(n, out))
        })
        .collect();
    for i in gone {
        out[i].limit = None;
        hits.retain(|hit| hit.rule != i);
    }
}

/// Quota-mode limits of a request: how many, and how many are over.
struct Quota {
    total: usize,
    over: usize,
}

impl Quota {
    /// The quota-mode limits among `verdicts` (an unlimited one is never over), none over yet.
    /// With `every` (`--rls-quota-mode`) every descriptor not unlimited counts, as in
    /// envoyproxy/ratelimit's `QUOTA_MODE`: one without a limit, or a shadow one, is never over.
    fn of(verdicts: &[DescriptorVerdict], every: bool) -> Self {
        let unlimited = |v: &DescriptorVerdict| {
            matches!(v.limit.as_ref().map(|l| l.kind), Some(LimitKind::Unlimited))
        };
        Self {
            total: verdicts
                .iter()
                .filter(|v| (every || is_quota(v)) && !unlimited(v))
                .count(),
            over: 0,
        }
    }

    /// Whether they refuse the request: there are some and all are over.
    fn refuses(&self) -> bool {
        self.total > 0 && self.over == self.total
    }
}

/// Whether a verdict's limit is in quota mode (and not shadow: shadow never refuses).
fn is_quota(verdict: &DescriptorVerdict) -> bool {
    verdict
        .limit
        .as_ref()
        .is_some_and(|l| l.quota_mode && !l.shadow)
}

/// The decision once limits are known: a blocked limit refuses outright;
/// enforced buckets are taken all or nothing, quota ones each as it can
/// once those passed; shadow buckets are taken only if the request passes,
/// and never refuse. Descriptors asking for 0 hits are only checked.
fn decide_all(
    store: &Store,
    keys: &str,
    hits: &mut Vec<Hit>,
    out: &mut [DescriptorVerdict],
    mut quota: Quota,
    now: Stamp,
) -> bool {
    let mut blocked = unbucketed(out, &mut quota);
    blocked |= probe(store, keys, hits, out, &mut quota, now);
    let split = enforced_first(hits);
    let quota_at = quota_last(&mut hits[..split], out);
    let (enforced, shadow) = hits.split_at(split);
    let (rated, quota_hits) = enforced.split_at(quota_at);
    let key = |hit: &Hit| &keys[hit.start..hit.end];
    let mut passed = if blocked {
        for hit in rated {
            out[hit.rule].record(store.peek(key(hit), &hit.limit, hit.cost, now));
        }
        false
    } else {
        decide_each(store, keys, rated, now, |n, decision| {
            out[rated[n].rule].record(decision)
        })
    };
    for hit in quota_hits {
        let decision = match passed {
            true => store.check_with(key(hit), &hit.limit, hit.cost, now),
            false => store.peek(key(hit), &hit.limit, hit.cost, now),
        };
        quota.over += usize::from(!decision.is_allowed());
        out[hit.rule].record(decision);
    }
    if passed && quota.refuses() {
        // Every quota limit is over: the request is refused and takes nothing.
        for hit in rated {
            store.refund(key(hit), &hit.limit, hit.cost);
            out[hit.rule].record(store.peek(key(hit), &hit.limit, hit.cost, now));
        }
        passed = false;
    }
    take_shadow(store, keys, shadow, passed, now, |n, decision| {
        out[shadow[n].rule].record(decision)
    });
    passed
}

/// The decision when every descriptor counts over its limit too: each
/// bucket, enforced, quota and shadow alike, is spent by its hits (a 0-hit
/// one is over when counted past its limit); the request is over when an
/// enforced limit is, or every quota one, as envoyproxy/ratelimit decides.
fn count_all(
    store: &Store,
    keys: &str,
    hits: &[Hit],
    out: &mut [DescriptorVerdict],
    mut quota: Quota,
    now: Stamp,
) -> bool {
    let mut refused = unbucketed(out, &mut quota);
    for hit in hits {
        let decision = store.spend(&keys[hit.start..hit.end], &hit.limit, hit.cost, now);
        let over = !decision.is_allowed() && !hit.shadow;
        match is_quota(&out[hit.rule]) {
            true => quota.over += usize::from(over),
            false => refused |= over,
        }
        out[hit.rule].record(decision);
    }
    !refused && !quota.refuses()
}

/// Settles the limits that are no bucket: unlimited ones, and blocked ones
/// (over, counted against the quota for quota ones); returns whether a
/// blocked one refuses the request.
fn unbucketed(out: &mut [DescriptorVerdict], quota: &mut Quota) -> bool {
    let mut blocked = false;
    for verdict in out.iter_mut() {
        let quota_mode = is_quota(verdict);
        match verdict.limit.as_ref().map(|l| (l.kind, l.shadow)) {
            Some((LimitKind::Unlimited, _)) => {
                verdict.outcome = Outcome::Unlimited;
                verdict.remaining = u64::from(u32::MAX);
            }
            Some((LimitKind::Blocked, shadow)) => {
                // Nothing will pass within the unit: no point asking sooner.
                verdict.reset = verdict
                    .limit
                    .as_ref()
                    .map_or(Duration::ZERO, |l| l.unit.length());
                verdict.outcome = if shadow {
                    Outcome::ShadowOverLimit
                } else {
                    quota.over += usize::from(quota_mode);
                    blocked |= !quota_mode;
                    Outcome::OverLimit
                };
            }
            _ => {}
        }
    }
    blocked
}

/// Checks the hits of descriptors asking for 0 tokens, and drops them: each
/// is over its limit when its bucket holds less than one token. Returns
/// whether one refuses the request.
fn probe(
    store: &Store,
    keys: &str,
    hits: &mut Vec<Hit>,
    out: &mut [DescriptorVerdict],
    quota: &mut Quota,
    now: Stamp,
) -> bool {
    let mut refused = false;
    for hit in hits.iter().filter(|hit| hit.cost == 0) {
        let decision = match store.peek(&keys[hit.start..hit.end], &hit.limit, 1, now) {
            // What the bucket holds, the one token asked for included.
            Decision::Allowed { remaining, reset } => Decision::Allowed {
                remaining: remaining + 1,
                reset,
            },
            limited => limited,
        };
        let over = !decision.is_allowed() && !hit.shadow;
        match is_quota(&out[hit.rule]) {
            true => quota.over += usize::from(over),
            false => refused |= over,
        }
        out[hit.rule].record(decision);
    }
    hits.retain(|hit| hit.cost > 0);
    refused
}

/// Puts the quota-mode hits after the others, each in the request's order;
/// returns where they start.
fn quota_last(hits: &mut [Hit], out: &[DescriptorVerdict]) -> usize {
    if !hits.iter().any(|hit| is_quota(&out[hit.rule])) {
        return hits.len();
    }
    // Stable, and without allocating for the few hits of a request.
    hits.sort_by_key(|hit| is_quota(&out[hit.rule]));
    hits.iter()
        .position(|hit| is_quota(&out[hit.rule]))
        .unwrap_or(hits.len())
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;

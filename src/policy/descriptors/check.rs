//! The decision of a rate-limit request's descriptors, together: nothing is
//! taken when any descriptor is over its limit. Shadow-mode limits are
//! counted and reported but never refuse; `replaces` drops the limits it names.

use std::sync::Arc;
use std::time::Duration;

use super::{DescriptorLimit, LimitKind};
use crate::limiter::{Decision, Stamp, Store};
use crate::policy::decide::{decide_each, enforced_first, take_shadow, Hit};
use crate::policy::{Policy, SCRATCH};

/// One descriptor of a request.
#[derive(Clone, Copy, Debug)]
pub struct DescriptorQuery<'a> {
    /// Its entries, in order.
    pub entries: &'a [(&'a str, &'a str)],
    /// Tokens it takes.
    pub hits: u32,
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
    /// Decides `descriptors` of `domain` together, one verdict each in `out`
    /// (cleared first); returns whether the request is within every limit.
    pub fn check_descriptors(
        &self,
        store: &Store,
        domain: &str,
        descriptors: &[DescriptorQuery<'_>],
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
                let limit = set.resolve(domain, query.entries, keys).cloned();
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
            decide_all(store, keys, hits, out, now)
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

/// The decision once limits are known: a blocked limit refuses outright;
/// enforced buckets are taken all or nothing; shadow buckets are taken only
/// if the request passes, and never refuse.
fn decide_all(
    store: &Store,
    keys: &str,
    hits: &mut [Hit],
    out: &mut [DescriptorVerdict],
    now: Stamp,
) -> bool {
    let mut blocked = false;
    for verdict in out.iter_mut() {
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
                    blocked = true;
                    Outcome::OverLimit
                };
            }
            _ => {}
        }
    }
    let split = enforced_first(hits);
    let (enforced, shadow) = hits.split_at(split);
    let key = |hit: &Hit| &keys[hit.start..hit.end];
    let passed = if blocked {
        for hit in enforced {
            out[hit.rule].record(store.peek(key(hit), &hit.limit, hit.cost, now));
        }
        false
    } else {
        decide_each(store, keys, enforced, now, |n, decision| {
            out[enforced[n].rule].record(decision)
        })
    };
    take_shadow(store, keys, shadow, passed, now, |n, decision| {
        out[shadow[n].rule].record(decision)
    });
    passed
}

//! Decisions per rule over the last minute, for the status page: once a
//! second a sampler copies every rule's running totals (`rules.rs`) into a
//! ring of [`SLOTS`] one-second slots per rule. The ring is bounded by the
//! rules in effect (a rule that vanished drops out) and time is an argument:
//! the sampler passes whole seconds of a monotonic clock.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Telemetry;
use crate::policy::{RuleOutcome, RuleSet};

/// One-second slots kept: the totals now and 60 seconds ago.
pub const SLOTS: usize = 61;

/// Decisions by [`RuleOutcome::index`].
pub type Counts = [u64; RuleOutcome::ALL.len()];

/// One rule's last minute, as the status page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMinute {
    /// The rule's name.
    pub name: Arc<str>,
    /// Decisions over the last 60 seconds, by outcome.
    pub last_60s: Counts,
    /// Decisions over the last 10 seconds, by outcome.
    pub last_10s: Counts,
    /// Refusals (`limited`) in each of the last 60 seconds, oldest first.
    pub refused_per_sec: [u64; SLOTS - 1],
}

impl RuleMinute {
    /// Every decision in `counts`, whatever its outcome.
    pub fn decisions(counts: &Counts) -> u64 {
        counts.iter().sum()
    }
}

/// One rule's totals at each of the last [`SLOTS`] seconds.
#[derive(Debug)]
struct Ring {
    /// Totals at second `s` live in `slots[s % SLOTS]`.
    slots: [Counts; SLOTS],
    /// The first second sampled. Totals start at zero, so before it they
    /// were zero: what a new rule (or a node that just started) counted
    /// before its first sample falls in that second rather than vanishing.
    since: u64,
}

/// The rings of the rules in effect at the last sample.
#[derive(Debug, Default)]
pub struct Minute {
    /// The second of the last sample.
    newest: Option<u64>,
    /// Rule names in the order of the rules.
    order: Vec<Arc<str>>,
    rings: HashMap<Arc<str>, Ring>,
}

impl Minute {
    /// Records every rule's totals at `second`; rules not in `current` drop
    /// out. Seconds skipped since the last sample repeat its totals (nothing
    /// is known of when in the gap those decisions fell); a second earlier
    /// than the last one overwrites the last.
    pub fn record(&mut self, second: u64, current: &[(Arc<str>, Counts)]) {
        let newest = match self.newest {
            Some(last) if second > last => {
                // A gap longer than the ring only needs the ring's worth filled.
                let from = (last + 1).max(second.saturating_sub(SLOTS as u64 - 1));
                for ring in self.rings.values_mut() {
                    let kept = ring.slots[slot(last)];
                    for s in from..second {
                        ring.slots[slot(s)] = kept;
                    }
                }
                second
            }
            Some(last) => last,
            None => second,
        };
        self.newest = Some(newest);
        let mut rings = HashMap::with_capacity(current.len());
        for (name, counts) in current {
            let mut ring = self.rings.remove(name).unwrap_or(Ring {
                slots: [*counts; SLOTS],
                since: newest,
            });
            ring.slots[slot(newest)] = *counts;
            rings.insert(Arc::clone(name), ring);
        }
        self.rings = rings;
        self.order = current.iter().map(|(name, _)| Arc::clone(name)).collect();
    }

    /// Every rule's last minute, in the order of the rules.
    pub fn view(&self) -> Vec<RuleMinute> {
        let Some(newest) = self.newest else {
            return Vec::new();
        };
        self.order
            .iter()
            .filter_map(|name| Some((name, self.rings.get(name)?)))
            .map(|(name, ring)| RuleMinute {
                name: Arc::clone(name),
                last_60s: ring.over(newest, SLOTS as u64 - 1),
                last_10s: ring.over(newest, 10),
                refused_per_sec: std::array::from_fn(|k| {
                    // Second `newest - 59 + k`, less the one before it.
                    match (newest + k as u64 + 1).checked_sub(SLOTS as u64 - 1) {
                        Some(s) => ring.delta(s.checked_sub(1), s)[limited()],
                        None => 0,
                    }
                }),
            })
            .collect()
    }
}

impl Ring {
    /// Decisions over the `secs` seconds up to `newest`.
    fn over(&self, newest: u64, secs: u64) -> Counts {
        self.delta(newest.checked_sub(secs), newest)
    }

    /// Totals at second `to` less totals at `from` (`None`: before second 0).
    /// A total that went down (made again after its rule left the rules and
    /// came back) counts 0, not a wrap.
    fn delta(&self, from: Option<u64>, to: u64) -> Counts {
        let (a, b) = (self.at(from), self.at(Some(to)));
        std::array::from_fn(|i| b[i].saturating_sub(a[i]))
    }

    fn at(&self, second: Option<u64>) -> Counts {
        match second {
            Some(s) if s >= self.since => self.slots[slot(s)],
            _ => [0; RuleOutcome::ALL.len()],
        }
    }
}

fn slot(second: u64) -> usize {
    (second % SLOTS as u64) as usize
}

fn limited() -> usize {
    RuleOutcome::Limited.index()
}

impl Telemetry {
    /// Samples every rule of `rules` at `second` (of a monotonic clock), and
    /// forgets the totals of names neither in effect nor held by a handle.
    pub fn sample_rules(&self, rules: &RuleSet, second: u64) {
        let current: Vec<(Arc<str>, Counts)> = {
            let mut totals = self.rule_counters.totals.lock();
            let current = rules
                .rules()
                .iter()
                .map(|rule| {
                    let counts = totals.get(&rule.name).map_or([0; 3], |t| {
                        std::array::from_fn(|i| t[i].load(Ordering::Relaxed))
                    });
                    (Arc::clone(&rule.name), counts)
                })
                .collect();
            let names: HashSet<&str> = rules.rules().iter().map(|r| &*r.name).collect();
            // A name still held by a cached handle may count again: keep it,
            // but from zero, so a rule that comes back starts a fresh series
            // rather than showing everything since it first counted.
            totals.retain(|name, t| {
                if names.contains(&**name) {
                    return true;
                }
                let held = Arc::strong_count(t) > 1;
                if held {
                    t.iter().for_each(|c| c.store(0, Ordering::Relaxed));
                }
                held
            });
            current
        };
        self.minute.lock().record(second, &current);
    }

    /// Every rule's last minute as of the last sample, in the order of the rules.
    pub fn rule_minutes(&self) -> Vec<RuleMinute> {
        self.minute.lock().view()
    }
}

#[cfg(test)]
#[path = "minute_tests.rs"]
mod tests;

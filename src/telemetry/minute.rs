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
mod tests {
    use super::*;

    const ALLOWED: usize = 0;
    const LIMITED: usize = 1;
    const SHADOW: usize = 2;

    fn counts(allowed: u64, limited: u64, shadow: u64) -> Counts {
        let mut c = [0; 3];
        c[ALLOWED] = allowed;
        c[LIMITED] = limited;
        c[SHADOW] = shadow;
        c
    }

    fn one(minute: &Minute, name: &str) -> RuleMinute {
        minute
            .view()
            .into_iter()
            .find(|m| &*m.name == name)
            .unwrap_or_else(|| panic!("no series for {name}"))
    }

    #[test]
    fn a_rule_counts_what_happened_in_the_last_60_and_10_seconds() {
        let mut m = Minute::default();
        let a: Arc<str> = "a".into();
        // One refusal and two allowed decisions a second, from second 1000.
        for s in 0..=100u64 {
            m.record(1000 + s, &[(Arc::clone(&a), counts(2 * s, s, 7))]);
        }
        let v = one(&m, "a");
        assert_eq!(v.last_60s, counts(120, 60, 0));
        assert_eq!(v.last_10s, counts(20, 10, 0));
        assert_eq!(RuleMinute::decisions(&v.last_60s), 180);
        assert_eq!(v.refused_per_sec, [1; 60]);
    }

    #[test]
    fn a_new_series_counts_from_zero() {
        let mut m = Minute::default();
        let a: Arc<str> = "a".into();
        // What was decided before the first sample (since the node started)
        // falls in the first second sampled.
        m.record(5, &[(Arc::clone(&a), counts(100, 50, 0))]);
        m.record(6, &[(Arc::clone(&a), counts(100, 53, 1))]);
        let v = one(&m, "a");
        assert_eq!(v.last_60s, counts(100, 53, 1));
        assert_eq!(v.last_10s, counts(100, 53, 1));
        let mut expected = [0; 60];
        expected[58] = 50;
        expected[59] = 3;
        assert_eq!(v.refused_per_sec, expected);
    }

    #[test]
    fn the_ring_rolls_over_and_old_seconds_fall_out() {
        let mut m = Minute::default();
        let a: Arc<str> = "a".into();
        m.record(0, &[(Arc::clone(&a), counts(0, 0, 0))]);
        // A burst of 30 refusals in second 1, then nothing.
        m.record(1, &[(Arc::clone(&a), counts(0, 30, 0))]);
        for s in 2..=60 {
            m.record(s, &[(Arc::clone(&a), counts(0, 30, 0))]);
        }
        let v = one(&m, "a");
        assert_eq!(v.last_60s[LIMITED], 30, "second 1 is 59 s old");
        assert_eq!(v.refused_per_sec[0], 30);
        assert_eq!(v.last_10s[LIMITED], 0);
        // The burst fell between the samples of seconds 0 and 1: a minute
        // after second 1 it is out of the window.
        m.record(61, &[(Arc::clone(&a), counts(0, 30, 0))]);
        let v = one(&m, "a");
        assert_eq!(v.last_60s[LIMITED], 0);
        assert_eq!(v.refused_per_sec, [0; 60]);
    }

    #[test]
    fn a_gap_in_sampling_repeats_the_last_totals() {
        let mut m = Minute::default();
        let a: Arc<str> = "a".into();
        m.record(10, &[(Arc::clone(&a), counts(0, 0, 0))]);
        // The sampler was late: 5 refusals are seen 20 seconds later.
        m.record(30, &[(Arc::clone(&a), counts(0, 5, 0))]);
        let v = one(&m, "a");
        assert_eq!(v.last_60s[LIMITED], 5);
        assert_eq!(v.last_10s[LIMITED], 5);
        assert_eq!(v.refused_per_sec[59], 5);
        assert_eq!(v.refused_per_sec[..59], [0; 59]);
        // A gap longer than the ring.
        m.record(1_000, &[(Arc::clone(&a), counts(0, 6, 0))]);
        assert_eq!(one(&m, "a").last_60s[LIMITED], 1);
        // A clock that went back overwrites the newest second.
        m.record(999, &[(Arc::clone(&a), counts(0, 8, 0))]);
        assert_eq!(one(&m, "a").last_10s[LIMITED], 3);
    }

    #[test]
    fn rules_that_change_keep_their_series_by_name_and_vanished_ones_drop_out() {
        let mut m = Minute::default();
        let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
        m.record(0, &[(Arc::clone(&a), [0; 3]), (Arc::clone(&b), [0; 3])]);
        m.record(
            1,
            &[
                (Arc::clone(&a), counts(0, 2, 0)),
                (Arc::clone(&b), counts(1, 0, 0)),
            ],
        );
        // A reload: b is gone, c is new and first, a moved (its series stays).
        m.record(
            2,
            &[
                (Arc::clone(&c), counts(0, 9, 0)),
                (Arc::clone(&a), counts(0, 3, 0)),
            ],
        );
        let names: Vec<_> = m.view().iter().map(|v| v.name.to_string()).collect();
        assert_eq!(names, ["c", "a"]);
        assert_eq!(one(&m, "a").last_60s[LIMITED], 3);
        assert_eq!(one(&m, "c").last_60s[LIMITED], 9, "new: counted from zero");
        // b comes back: a new series.
        m.record(3, &[(Arc::clone(&b), counts(0, 1, 0))]);
        assert_eq!(one(&m, "b").last_60s, counts(0, 1, 0));
        assert_eq!(m.view().len(), 1);
        // Totals that went down (made again from zero) count nothing, not a wrap.
        m.record(4, &[(Arc::clone(&b), counts(0, 0, 0))]);
        assert_eq!(one(&m, "b").last_60s, [0; 3]);
        assert_eq!(one(&m, "b").refused_per_sec.iter().sum::<u64>(), 1);
    }

    #[test]
    fn the_sampler_reads_what_decisions_counted_and_follows_reloads() {
        use crate::limiter::{Limit, Stamp, Store};
        use crate::policy::{rules_file, Policy, Request};
        use std::num::{NonZeroU32, NonZeroUsize};
        use std::time::Duration;

        let limit = Limit::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(1)).unwrap();
        let store = Store::new(limit, NonZeroUsize::new(100).unwrap());
        let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
        let rules = |names: &[&str]| {
            let text: String = names
                .iter()
                .map(|n| format!("[[rules]]\nname = \"{n}\"\nkey = \"user\"\ncapacity = 1\nrefill_per_sec = 1\n"))
                .collect();
            rules_file::parse(&text).unwrap()
        };
        let policy = Policy::new(rules(&["x", "y"]));
        let telemetry = Telemetry::new();
        let request = |user| Request {
            user,
            route: "/",
            method: "GET",
            tenant: None,
            ip: None,
            plan: None,
        };
        telemetry.sample_rules(&policy.rules(), 0);
        for _ in 0..3 {
            telemetry.count(policy.check(&store, &request("a"), 1, now).as_ref());
        }
        telemetry.sample_rules(&policy.rules(), 1);
        let view = telemetry.rule_minutes();
        let names: Vec<_> = view.iter().map(|m| m.name.to_string()).collect();
        assert_eq!(names, ["x", "y"]);
        // Both rules count user a; the one reported decides: 1 allowed, 2 refused.
        let counted: u64 = view
            .iter()
            .map(|m| RuleMinute::decisions(&m.last_60s))
            .sum();
        assert_eq!(counted, 3);
        assert_eq!(view.iter().map(|m| m.last_10s[LIMITED]).sum::<u64>(), 2);
        let x_before = view[0].last_60s;
        // A reload drops y and puts a new z first: y's series goes, z's starts.
        policy.replace_file(rules(&["z", "x"]));
        telemetry.sample_rules(&policy.rules(), 2);
        let names: Vec<_> = telemetry
            .rule_minutes()
            .iter()
            .map(|m| m.name.to_string())
            .collect();
        assert_eq!(names, ["z", "x"]);
        let view = telemetry.rule_minutes();
        assert_eq!(view[1].last_60s, x_before, "x keeps its series by name");
        assert_eq!(view[0].last_60s, [0; 3]);
        // Once a decision has remade the handles, nothing holds y's totals.
        telemetry.count(policy.check(&store, &request("b"), 1, now).as_ref());
        telemetry.sample_rules(&policy.rules(), 3);
        assert!(!telemetry.rule_counters.totals.lock().contains_key("y"));
        // The last rule leaves: decisions on the others keep the cached
        // handles (x's among them), yet when x comes back its series starts
        // afresh rather than showing all it ever counted in one second.
        assert!(RuleMinute::decisions(&x_before) > 0);
        policy.replace_file(rules(&["z"]));
        telemetry.count(policy.check(&store, &request("c"), 1, now).as_ref());
        telemetry.sample_rules(&policy.rules(), 4);
        policy.replace_file(rules(&["z", "x"]));
        telemetry.sample_rules(&policy.rules(), 5);
        let view = telemetry.rule_minutes();
        assert_eq!(view[1].name.as_ref(), "x");
        assert_eq!(view[1].last_60s, [0; 3]);
    }
}

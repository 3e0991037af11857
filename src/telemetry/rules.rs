//! `limiter_decisions_total{rule,outcome}`: one count per decision, under the
//! rule it is counted for, on handles cached per rule's place in the rules
//! (made again, through the node's recorder, when the rules change). Beside
//! each counter a running total of our own, which the status page's
//! last-minute series (`minute.rs`) samples: the Prometheus handle cannot be read back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use metrics::Counter;
use parking_lot::Mutex;

use super::{Telemetry, DECISIONS};
use crate::policy::{RuleOutcome, Verdict};

/// The `rule` label of a request no rule applies to (no rule may be named so).
const NO_RULE: &str = "";

/// One rule's counters, by [`RuleOutcome::index`].
type Counters = [Counter; RuleOutcome::ALL.len()];

/// One rule's decisions so far, by [`RuleOutcome::index`].
pub(super) type Totals = Arc<[AtomicU64; RuleOutcome::ALL.len()]>;

/// What the hot path counts one rule's decisions on.
struct Handles {
    name: Arc<str>,
    counters: Counters,
    totals: Totals,
}

/// The counters of every rule, in the order of the rules they were made for.
#[derive(Default)]
pub(super) struct RuleCounters {
    rules: ArcSwap<Vec<Handles>>,
    /// Requests no rule applies to (allowed).
    none: OnceLock<Counter>,
    /// Totals by rule name, touched only off the hot path (making handles,
    /// sampling), so a name keeps its totals across reloads and two threads
    /// making handles at once share one.
    pub(super) totals: Mutex<HashMap<Arc<str>, Totals>>,
}

impl Telemetry {
    /// Counts one decision under its rule and outcome (`None`: no rule applied, allowed).
    pub fn count(&self, verdict: Option<&Verdict>) {
        let Some(verdict) = verdict else {
            let none = self.rule_counters.none.get_or_init(|| {
                self.local(
                    || metrics::counter!(DECISIONS, "rule" => NO_RULE, "outcome" => "allowed"),
                )
            });
            return none.increment(1);
        };
        let (rule, outcome) = verdict.outcome();
        let name = &verdict.rules().rules()[rule].name;
        let cached = self.rule_counters.rules.load();
        let outcome = outcome.index();
        match cached
            .get(rule)
            .filter(|h| Arc::ptr_eq(&h.name, name) || h.name == *name)
        {
            Some(handles) => handles.count(outcome),
            None => {
                // The rules changed (a reload or an admin change): make the
                // handles for them, keeping the series of names seen before.
                let made = Arc::new(self.rule_handles(verdict));
                made[rule].count(outcome);
                self.rule_counters.rules.store(made);
            }
        }
    }

    fn rule_handles(&self, verdict: &Verdict) -> Vec<Handles> {
        let counter = |name: &str, outcome: RuleOutcome| {
            self.local(|| {
                metrics::counter!(DECISIONS, "rule" => name.to_string(), "outcome" => outcome.as_str())
            })
        };
        let mut totals = self.rule_counters.totals.lock();
        verdict
            .rules()
            .rules()
            .iter()
            .map(|rule| Handles {
                name: Arc::clone(&rule.name),
                counters: RuleOutcome::ALL.map(|o| counter(&rule.name, o)),
                totals: Arc::clone(totals.entry(Arc::clone(&rule.name)).or_default()),
            })
            .collect()
    }
}

impl Handles {
    /// The hot path's whole cost beyond the Prometheus counter: one relaxed add.
    #[inline]
    fn count(&self, outcome: usize) {
        self.counters[outcome].increment(1);
        self.totals[outcome].fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;

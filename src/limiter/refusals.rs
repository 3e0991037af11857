//! The most-refused bucket keys right now: a Space-Saving summary (Metwally
//! et al.) of fixed capacity, so memory stays bounded however many distinct
//! keys are refused, with counts halved every [`HALF_LIFE`] so that what it
//! reports is recent. Fed only on refusals; time is an argument.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::Stamp;

/// Keys tracked at most.
pub const CAPACITY: usize = 64;

/// Every count is halved once per this period (lazily, at the next use).
pub const HALF_LIFE: Duration = Duration::from_secs(60);

/// One tracked key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The bucket key that refused.
    pub key: Box<str>,
    /// The rule it counts for.
    pub rule: Arc<str>,
    /// Refusals counted (decayed); over by at most `error` when the key took
    /// the place of another.
    pub refusals: u64,
    /// How much of `refusals` may belong to keys it replaced.
    pub error: u64,
    /// The last refusal.
    pub last: Stamp,
}

/// The summary itself (see [`Refusals`] for the shared, locked one).
#[derive(Debug)]
pub struct Summary {
    capacity: usize,
    entries: Vec<Refused>,
    /// Key → place in `entries`.
    places: HashMap<Box<str>, usize, ahash::RandomState>,
    /// When the current half-life period began (`None`: nothing seen yet).
    period: Option<Stamp>,
    /// Where [`Refusals::try_record`] writes a key, reused.
    scratch: String,
}

impl Summary {
    /// An empty summary of at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            entries: Vec::with_capacity(capacity),
            places: HashMap::with_capacity_and_hasher(capacity, ahash::RandomState::new()),
            period: None,
            scratch: String::new(),
        }
    }

    /// Counts one refusal of `key` (counted for `rule`) at `now`: O(1) for a
    /// tracked key, O(capacity) when a new key replaces the smallest.
    pub fn record(&mut self, key: &str, rule: &Arc<str>, now: Stamp) {
        self.decay(now);
        if let Some(&n) = self.places.get(key) {
            let entry = &mut self.entries[n];
            entry.refusals += 1;
            entry.last = entry.last.max(now);
            entry.rule = Arc::clone(rule);
            return;
        }
        let fresh = |refusals, error| Refused {
            key: key.into(),
            rule: Arc::clone(rule),
            refusals,
            error,
            last: now,
        };
        if self.entries.len() < self.capacity {
            self.places.insert(key.into(), self.entries.len());
            self.entries.push(fresh(1, 0));
            return;
        }
        // Full: the new key takes the place (and the count) of the smallest.
        let (n, min) = self
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| (e.refusals, e.last))
            .map(|(n, e)| (n, e.refusals))
            .expect("a full summary has entries");
        self.places.remove(&self.entries[n].key);
        self.places.insert(key.into(), n);
        self.entries[n] = fresh(min + 1, min);
    }

    /// The tracked keys at `now`, most refused first (then most recent), at most `limit`.
    pub fn top(&mut self, limit: usize, now: Stamp) -> Vec<Refused> {
        self.decay(now);
        let mut out = self.entries.clone();
        out.sort_by(|a, b| {
            (b.refusals, b.last)
                .cmp(&(a.refusals, a.last))
                .then_with(|| a.key.cmp(&b.key))
        });
        out.truncate(limit);
        out
    }

    /// When the current half-life period began, if anything was refused.
    pub fn period_start(&self) -> Option<Stamp> {
        self.period
    }

    /// Halves every count once per whole [`HALF_LIFE`] since the period
    /// began, dropping keys that reach zero.
    fn decay(&mut self, now: Stamp) {
        let half = HALF_LIFE.as_nanos() as u64;
        let Some(start) = self.period else {
            self.period = Some(Stamp::from_unix_nanos(now.as_unix_nanos() / half * half));
            return;
        };
        let periods = now.saturating_since(start) / half;
        if periods == 0 {
            return;
        }
        let shift = periods.min(63) as u32;
        self.period = Some(start.saturating_add(Duration::from_nanos(periods * half)));
        for entry in &mut self.entries {
            entry.refusals >>= shift;
            entry.error >>= shift;
        }
        self.entries.retain(|e| e.refusals > 0);
        self.places.clear();
        for (n, entry) in self.entries.iter().enumerate() {
            self.places.insert(entry.key.clone(), n);
        }
    }
}

/// A [`Summary`] shared by the request handlers, locked only to count a
/// refusal or to read it.
#[derive(Debug)]
pub struct Refusals(Mutex<Summary>);

impl Default for Refusals {
    fn default() -> Self {
        Self(Mutex::new(Summary::new(CAPACITY)))
    }
}

impl Refusals {
    /// Counts one refusal of the key `key` writes, unless another handler
    /// holds the summary: a hot refused key (every request a 429) must not
    /// make the workers queue on this lock. Under contention the counts are a
    /// sample, and the heaviest keys still rise to the top.
    pub fn try_record(&self, key: impl FnOnce(&mut String) -> bool, rule: &Arc<str>, now: Stamp) {
        if let Some(mut summary) = self.0.try_lock() {
            summary.scratch.clear();
            let mut scratch = std::mem::take(&mut summary.scratch);
            if key(&mut scratch) {
                summary.record(&scratch, rule, now);
            }
            summary.scratch = scratch;
        }
    }

    /// The most refused keys at `now` (at most `limit`), and when the current
    /// half-life period began.
    pub fn top(&self, limit: usize, now: Stamp) -> (Vec<Refused>, Option<Stamp>) {
        let mut summary = self.0.lock();
        let top = summary.top(limit, now);
        (top, summary.period_start())
    }
}

#[cfg(test)]
#[path = "refusals_tests.rs"]
mod tests;

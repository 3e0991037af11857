//! The bucket store: a concurrent map of keys to bucket states, the decision fast
//! path, and the eviction that keeps memory bounded under any key flood.
//!
//! Memory bound: at most `max_keys` buckets are ever tracked. A full bucket holds
//! no information (an unseen key starts full), so full buckets are what eviction
//! removes. Keys also wait in an insertion-order queue (the CLOCK algorithm):
//! eviction looks at the oldest keys first, drops the full ones, and sends keys
//! still in use to the back for a second chance. An insert at the cap evicts
//! that way; only when [`EVICTION_SAMPLE`] keys in a row are all mid-refill (more
//! keys active at once than the cap allows) does it drop the fullest of them,
//! which loses at most its missing tokens and is counted as a *pressure*
//! eviction so operators can raise the cap. A periodic [`Store::sweep`] walks the
//! whole queue so idle buckets leave memory even below the cap.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use compact_str::CompactString;
use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::bucket::{BucketState, Decision, Limit, Stamp};

/// Keys looked at before an insert at the cap gives up on finding a full
/// bucket: enough that a full one is almost always found, few enough to keep
/// the insert cheap.
pub const EVICTION_SAMPLE: usize = 32;

/// Shards in the map: more than cores, so threads working on different keys
/// rarely wait on the same lock.
const SHARDS: usize = 64;

/// Keys swept per lock of the queue, so inserts are not held up by a long sweep.
const SWEEP_CHUNK: usize = 4096;

/// Counts of evictions since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evictions {
    /// Full buckets dropped: no information lost.
    pub idle: u64,
    /// Buckets dropped before they were full because the store was at its cap.
    pub pressure: u64,
}

/// All buckets of one node.
pub struct Store {
    map: DashMap<CompactString, BucketState, ahash::RandomState>,
    /// Every tracked key exactly once, oldest insert (or second chance) first.
    /// Only the new-key path and eviction lock it, never a decision on a known key.
    order: Mutex<VecDeque<CompactString>>,
    limit: Limit,
    max_keys: usize,
    /// Tracked keys plus slots reserved by inserts under way; kept beside the
    /// map because `DashMap::len` locks every shard.
    len: AtomicUsize,
    evicted_idle: AtomicU64,
    evicted_pressure: AtomicU64,
}

impl Store {
    /// An empty store whose buckets all have `limit`, tracking at most `max_keys` keys.
    pub fn new(limit: Limit, max_keys: NonZeroUsize) -> Self {
        Self {
            map: DashMap::with_hasher_and_shard_amount(ahash::RandomState::new(), SHARDS),
            order: Mutex::new(VecDeque::new()),
            limit,
            max_keys: max_keys.get(),
            len: AtomicUsize::new(0),
            evicted_idle: AtomicU64::new(0),
            evicted_pressure: AtomicU64::new(0),
        }
    }

    /// The limit every bucket has.
    pub fn limit(&self) -> &Limit {
        &self.limit
    }

    /// Decides a request of `cost` tokens for `key` at `now`, taking the tokens if allowed.
    pub fn check(&self, key: &str, cost: u32, now: Stamp) -> Decision {
        if let Some(mut state) = self.map.get_mut(key) {
            return state.take(&self.limit, cost, now);
        }
        self.reserve_slot(now);
        let (decision, inserted) = match self.map.entry(CompactString::new(key)) {
            Entry::Occupied(mut entry) => {
                // Another thread inserted the key meanwhile: give the slot back.
                self.len.fetch_sub(1, Ordering::Relaxed);
                (entry.get_mut().take(&self.limit, cost, now), None)
            }
            Entry::Vacant(entry) => {
                let key = entry.key().clone();
                let mut state = BucketState::full(&self.limit, now);
                let decision = state.take(&self.limit, cost, now);
                entry.insert(state);
                (decision, Some(key))
            }
        };
        // Queued after the shard lock is released: the queue is always locked first.
        if let Some(key) = inserted {
            self.queue().push_back(key);
        }
        decision
    }

    /// The state of `key` as this node sees it, if tracked.
    pub fn get(&self, key: &str) -> Option<BucketState> {
        self.map.get(key).map(|state| *state)
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed).min(self.max_keys)
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cap on tracked keys.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Evictions since start.
    pub fn evictions(&self) -> Evictions {
        Evictions {
            idle: self.evicted_idle.load(Ordering::Relaxed),
            pressure: self.evicted_pressure.load(Ordering::Relaxed),
        }
    }

    /// Drops every bucket that is full at `now`; returns how many.
    pub fn sweep(&self, now: Stamp) -> usize {
        let mut left = self.queue().len();
        let mut dropped = 0;
        while left > 0 {
            let mut order = self.queue();
            for _ in 0..left.min(SWEEP_CHUNK) {
                let Some(key) = order.pop_front() else { break };
                match self.level_at(&key, now) {
                    Some(level) if level < self.limit.full_level() => order.push_back(key),
                    Some(_) => dropped += self.remove_if_full(&key, now, &mut order),
                    None => {}
                }
            }
            left = left.saturating_sub(SWEEP_CHUNK);
        }
        dropped
    }

    /// Takes one slot of the `max_keys` budget, evicting until one is free.
    fn reserve_slot(&self, now: Stamp) {
        loop {
            let len = self.len.load(Ordering::Relaxed);
            if len < self.max_keys {
                if self
                    .len
                    .compare_exchange_weak(len, len + 1, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            self.evict_one(now);
        }
    }

    /// Evicts the oldest full bucket among the next [`EVICTION_SAMPLE`] in the
    /// queue, or failing that the fullest of them.
    fn evict_one(&self, now: Stamp) {
        let mut order = self.queue();
        let mut in_use: Vec<(CompactString, i64)> = Vec::new();
        while in_use.len() < EVICTION_SAMPLE {
            let Some(key) = order.pop_front() else { break };
            match self.level_at(&key, now) {
                Some(level) if level < self.limit.full_level() => in_use.push((key, level)),
                Some(_) if self.remove_if_full(&key, now, &mut order) > 0 => {
                    order.extend(in_use.into_iter().map(|(key, _)| key));
                    return;
                }
                // Taken by a request just now: remove_if_full queued it again.
                Some(_) => {}
                // Not tracked any more: drop the stale queue entry.
                None => {}
            }
        }
        let fullest = (0..in_use.len()).max_by_key(|&i| in_use[i].1);
        if let Some(i) = fullest {
            let (key, _) = in_use.swap_remove(i);
            if self.map.remove(key.as_str()).is_some() {
                self.forget(1, &self.evicted_pressure);
            }
        }
        order.extend(in_use.into_iter().map(|(key, _)| key));
    }

    fn level_at(&self, key: &str, now: Stamp) -> Option<i64> {
        self.map
            .get(key)
            .map(|state| state.level_at(&self.limit, now))
    }

    /// Removes `key` if still full (a request may have just arrived); otherwise
    /// puts it back in the queue. Returns how many were removed.
    fn remove_if_full(
        &self,
        key: &CompactString,
        now: Stamp,
        order: &mut VecDeque<CompactString>,
    ) -> usize {
        let removed = self
            .map
            .remove_if(key.as_str(), |_, state| state.is_full_at(&self.limit, now))
            .is_some();
        if removed {
            self.forget(1, &self.evicted_idle);
        } else if self.map.contains_key(key.as_str()) {
            order.push_back(key.clone());
        }
        usize::from(removed)
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<CompactString>> {
        // A panic elsewhere cannot leave the queue inconsistent (each step is one
        // push or pop), so a poisoned lock is still usable.
        self.order
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn forget(&self, removed: usize, counter: &AtomicU64) {
        if removed > 0 {
            self.len.fetch_sub(removed, Ordering::Relaxed);
            counter.fetch_add(removed as u64, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

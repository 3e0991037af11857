//! An operator's reset of a bucket to full, cluster-wide.
//!
//! The reset's instant travels with the bucket's state and orders states: of
//! two states with different live resets the later reset's wins whole, and
//! two with the same reset merge by the mode's rule. That is a lexicographic
//! join — still commutative, associative and idempotent — so a reset beats
//! every state published before its publisher heard of it, on every node,
//! in any order of arrival.
//!
//! A reset is *live* for [`RESET_HOLD`]: time enough for every node that spent
//! on the key before the reset to hear of it and publish again. After that it
//! orders nothing, since a node that has meanwhile evicted the (full) bucket
//! and tracked it afresh publishes without the reset and must be heard.
//! While live, a reset bucket is kept in memory (it is full, but it turns
//! older states away) and is published even though full.
//!
//! Live resets are few (an operator's doing) and short-lived, so they are
//! kept in a small table beside the map rather than in every bucket: a
//! bucket costs no more for them, and a decision never looks at them. The
//! table is read and written only under the key's shard lock (merges,
//! resets, publishing, eviction), so a key's reset and state change together.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use compact_str::CompactString;
use parking_lot::Mutex;

use super::Store;
use crate::limiter::bucket::{BucketState, Limit, Stamp};

/// How long a reset takes precedence over states from before it.
pub const RESET_HOLD: Duration = Duration::from_secs(60);

/// Most live resets remembered. Only records from the topic can bring more
/// within a minute; then the older half is forgotten (their states merge as
/// usual), which keeps a flood of them O(1) per record.
const MAX_RESETS: usize = if cfg!(test) { 64 } else { 65_536 };

/// The live resets, by key.
#[derive(Default)]
pub(super) struct Resets {
    table: Mutex<HashMap<CompactString, Stamp, ahash::RandomState>>,
    /// Entries in the table, read without the lock: nearly always 0.
    len: AtomicUsize,
}

impl Resets {
    /// `key`'s live reset at `now`, zero if none.
    pub(super) fn of(&self, key: &str, now: Stamp) -> Stamp {
        if self.len() == 0 {
            return Stamp::default();
        }
        let reset = self.table.lock().get(key).copied().unwrap_or_default();
        live_reset(reset, now)
    }

    /// Remembers `reset` as `key`'s (a later one than any it had).
    pub(super) fn set(&self, key: &str, reset: Stamp, now: Stamp) {
        let mut table = self.table.lock();
        if table.len() >= MAX_RESETS && !table.contains_key(key) {
            table.retain(|_, r| live_reset(*r, now) != Stamp::default());
            if table.len() >= MAX_RESETS {
                let mut stamps: Vec<Stamp> = table.values().copied().collect();
                let (_, median, _) = stamps.select_nth_unstable(MAX_RESETS / 2);
                let median = *median;
                table.retain(|_, r| *r > median);
            }
        }
        table.insert(CompactString::new(key), reset);
        self.len.store(table.len(), Ordering::Relaxed);
    }

    /// Resets remembered (live or not yet pruned).
    pub(super) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Forgets the resets that are no longer live.
    pub(super) fn prune(&self, now: Stamp) {
        if self.len() == 0 {
            return;
        }
        let mut table = self.table.lock();
        table.retain(|_, r| live_reset(*r, now) != Stamp::default());
        self.len.store(table.len(), Ordering::Relaxed);
    }
}

/// Slots looked at per shard lock when the map is searched for keys.
const KEY_SCAN_CHUNK: usize = 512;

/// `reset` if it is still live at `now`, else zero (no reset).
pub fn live_reset(reset: Stamp, now: Stamp) -> Stamp {
    if reset != Stamp::default() && now < reset.saturating_add(RESET_HOLD) {
        reset
    } else {
        Stamp::default()
    }
}

impl Store {
    /// Resets `key` to a full bucket of `limit` at `now`, tracking it if it
    /// was not, and queues the reset for replication. Returns the reset's
    /// stamp: `now`, or just after a later reset this node has heard of
    /// (from a peer with a fast clock), so this one is the newest.
    pub fn reset(&self, key: &str, limit: &Limit, now: Stamp) -> Stamp {
        let replicated = self.changed.is_some();
        let (reset, newly_dirty) = self.with_slot(key, limit, now, |slot| {
            let heard = self.resets.of(key, now).as_unix_nanos();
            let reset = now.max(Stamp::from_unix_nanos(heard.saturating_add(1)));
            self.resets.set(key, reset, now);
            slot.limit = *limit;
            slot.state = BucketState::full(limit, now);
            // What was charged for a partition is forgiven with the rest.
            slot.reserve = 0;
            let newly_dirty = replicated && !slot.dirty;
            slot.dirty |= replicated;
            (reset, newly_dirty)
        });
        if newly_dirty {
            self.push_dirty(key);
        }
        reset
    }

    /// Tracked keys that start with `prefix`, at most `max` of them. Walks
    /// the map a stretch of each shard at a time, so requests barely wait;
    /// keys inserted or evicted meanwhile may be missed.
    pub fn keys_with_prefix(&self, prefix: &str, max: usize) -> Vec<CompactString> {
        let mut keys = Vec::new();
        self.map.walk(
            KEY_SCAN_CHUNK,
            |key, _| {
                if keys.len() < max && key.starts_with(prefix) {
                    keys.push(key.clone());
                }
                false
            },
            |_| {},
        );
        keys
    }
}

//! An operator's reset of a bucket to full, cluster-wide.
//!
//! The reset's instant travels with the bucket's state and orders states: of
//! two states with different live resets the later reset's wins whole, and
//! two with the same reset merge by the mode's rule. That is a lexicographic
//! join — still commutative, associative and idempotent — so a reset beats
//! every state published before its publisher heard of it, on every node,
//! in any order of arrival.
//!
//! A reset is *live* for [`reset_hold`]: a minute, plus the time a bucket
//! takes to refill from its deepest debt to full. By then every state from
//! before the reset has refilled to full, so merging it by the plain rule
//! lowers nothing: a node that bootstraps later, or reads the topic late,
//! reaches the same level. After that the reset orders nothing, since a node
//! that has meanwhile evicted the (full) bucket and tracked it afresh
//! publishes without the reset and must be heard. A reset bucket is
//! published even though full, and is not evicted before it is published.
//!
//! Live resets are few (an operator's doing), so they are kept in a small
//! bounded table beside the map rather than in every bucket: a bucket costs
//! no more for them, a decision never looks at them, and a bucket may leave
//! memory while its reset is still remembered. A key's entry is read and
//! written under the key's shard lock (merges, resets, publishing, eviction),
//! so its reset and state change together; only pruning entries no longer
//! live runs outside it.
//!
//! A reset also forgives what the bucket owed when it was last evicted under
//! pressure: the debts sketch cannot forget one key's debt, so while a reset
//! is live its entry keeps the key's debts from after the reset, and a key
//! created then is charged those instead of the sketch's bound. Debts from
//! before it are at most two windows long (see `debts`), so they have run
//! out in the sketch too by the time the reset stops being live.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use compact_str::CompactString;
use parking_lot::Mutex;

use super::{Slot, Store};
use crate::limiter::bucket::{BucketState, Limit, Stamp};

/// The least time a reset takes precedence over states from before it: time
/// for every node that spent before it to hear of it and publish again.
pub const RESET_MARGIN: Duration = Duration::from_secs(60);

/// Most resets remembered, and most bytes of their keys: only records from
/// the topic can bring more; then the older half is forgotten (their states
/// merge as usual), which keeps a flood of them O(1) per record.
const MAX_RESETS: usize = if cfg!(test) { 64 } else { 16_384 };
const MAX_RESET_BYTES: usize = 4 << 20;

/// How long a reset of a bucket of `limit` stays live: [`RESET_MARGIN`] and
/// the time to refill from one full bucket of debt (the deepest a state can
/// be) to full.
pub fn reset_hold(limit: &Limit) -> Duration {
    RESET_MARGIN.saturating_add(limit.window().saturating_mul(2))
}

/// `reset` if a reset then of a bucket of `limit` is still live at `now`,
/// else zero (no reset).
pub fn live_reset(reset: Stamp, limit: &Limit, now: Stamp) -> Stamp {
    if reset != Stamp::default() && now < reset.saturating_add(reset_hold(limit)) {
        reset
    } else {
        Stamp::default()
    }
}

/// The live resets, by key.
#[derive(Default)]
pub(super) struct Resets {
    table: Mutex<Table>,
    /// Entries in the table, read without the lock: nearly always 0.
    len: AtomicUsize,
}

#[derive(Default)]
struct Table {
    resets: HashMap<CompactString, Live, ahash::RandomState>,
    /// Bytes of the keys held.
    bytes: usize,
}

/// One key's live reset.
#[derive(Clone, Copy)]
struct Live {
    reset: Stamp,
    /// When the reset stops being live.
    until: Stamp,
    /// When the bucket, evicted under pressure since the reset, is full
    /// again; zero if it was not.
    full_at: Stamp,
}

impl Table {
    fn retain(&mut self, mut keep: impl FnMut(&Live) -> bool) {
        let mut bytes = self.bytes;
        self.resets.retain(|key, entry| {
            let kept = keep(entry);
            if !kept {
                bytes -= key.len();
            }
            kept
        });
        self.bytes = bytes;
    }
}

impl Resets {
    /// `key`'s live reset at `now`, zero if none.
    pub(super) fn of(&self, key: &str, now: Stamp) -> Stamp {
        if self.len() == 0 {
            return Stamp::default();
        }
        match self.table.lock().resets.get(key) {
            Some(live) if now < live.until => live.reset,
            _ => Stamp::default(),
        }
    }

    /// If `key` has a live reset at `now`: when its bucket, evicted under
    /// pressure since, is full again (zero if it was not). `None` without one.
    pub(super) fn owed_since(&self, key: &str, now: Stamp) -> Option<Stamp> {
        if self.len() == 0 {
            return None;
        }
        match self.table.lock().resets.get(key) {
            Some(live) if now < live.until => Some(live.full_at),
            _ => None,
        }
    }

    /// `key`'s bucket, evicted under pressure at `now`, is full at `full_at`:
    /// kept with its live reset, if any.
    pub(super) fn owe(&self, key: &str, full_at: Stamp, now: Stamp) {
        if self.len() == 0 {
            return;
        }
        if let Some(live) = self.table.lock().resets.get_mut(key) {
            if now < live.until {
                live.full_at = live.full_at.max(full_at);
            }
        }
    }

    /// Remembers `reset` of a bucket of `limit` as `key`'s (a later one than any it had).
    pub(super) fn set(&self, key: &str, reset: Stamp, limit: &Limit, now: Stamp) {
        let until = reset.saturating_add(reset_hold(limit));
        let mut table = self.table.lock();
        let full = table.resets.len() >= MAX_RESETS || table.bytes + key.len() > MAX_RESET_BYTES;
        if full && !table.resets.contains_key(key) {
            table.retain(|live| now < live.until);
            if table.resets.len() >= MAX_RESETS / 2 || table.bytes > MAX_RESET_BYTES / 2 {
                let mut resets: Vec<Stamp> = table.resets.values().map(|e| e.reset).collect();
                let half = resets.len() / 2;
                let (_, median, _) = resets.select_nth_unstable(half);
                let median = *median;
                table.retain(|live| live.reset > median);
            }
        }
        let key = CompactString::new(key);
        let len = key.len();
        // A new reset: nothing owed since.
        let live = Live {
            reset,
            until,
            full_at: Stamp::default(),
        };
        if table.resets.insert(key, live).is_none() {
            table.bytes += len;
        }
        self.len.store(table.resets.len(), Ordering::Relaxed);
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
        table.retain(|live| now < live.until);
        self.len.store(table.resets.len(), Ordering::Relaxed);
    }
}

/// Slots looked at per shard lock when the map is searched for keys.
const KEY_SCAN_CHUNK: usize = 512;

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
            self.resets.set(key, reset, limit, now);
            slot.limit = *limit;
            slot.state = BucketState::full(limit, now);
            slot.forgive(reset);
            let newly_dirty = replicated && !slot.dirty;
            slot.dirty |= replicated;
            (reset, newly_dirty)
        });
        if newly_dirty {
            self.push_dirty(key);
        }
        reset
    }

    /// Tracked keys for which `wanted` holds, at most `max` of them. Walks
    /// the map a stretch of each shard at a time, so requests barely wait;
    /// keys inserted or evicted meanwhile may be missed.
    pub fn keys_where(&self, wanted: impl Fn(&str) -> bool, max: usize) -> Vec<CompactString> {
        let mut keys = Vec::new();
        self.map.walk(
            KEY_SCAN_CHUNK,
            |key, _| {
                if keys.len() < max && wanted(key) {
                    keys.push(key.clone());
                }
                false
            },
            |_| {},
        );
        keys
    }
}

impl Slot {
    /// The bucket was reset at `reset`: what was charged for a partition,
    /// and (counted mode) spending from before the reset, are forgiven.
    pub(super) fn forgive(&mut self, reset: Stamp) {
        self.reserve = 0;
        if let Some(spent) = &mut self.spent {
            spent.forgive_before(reset);
        }
    }
}

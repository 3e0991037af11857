//! The store's list of what replication should publish: keys a decision
//! changed (once per dirty period) and tombstones of published buckets that
//! left memory full.
//!
//! A request only appends to it — O(1) under its lock, never a copy of the
//! list. The list is bounded: at most `max_keys` changed keys and as many
//! tombstones. A changed key that finds its part full is not lost: its slot
//! stays dirty and the list remembers that it overflowed, so the next
//! [`Store::take_changes`] — on the replication thread — also walks the map
//! for dirty slots. A tombstone that finds its part full is dropped: it only
//! leaves an old record of a bucket that has refilled since, which carries
//! nothing, for compaction to keep.

use std::sync::atomic::{AtomicBool, Ordering};

use compact_str::CompactString;
use parking_lot::Mutex;

use super::{Change, Replicated, Slot, Store};
use crate::limiter::bucket::Stamp;

/// Entries per segment of a list: a list grows by whole segments, so a push
/// never copies the entries already there.
const SEGMENT: usize = 1024;

/// Slots looked at per shard lock when the map is walked for dirty slots.
const DIRTY_SCAN_CHUNK: usize = 512;

/// What replication should publish next.
pub(super) struct Changes {
    lists: Mutex<Lists>,
    /// A changed key was not listed (its list was full): the next take walks the map.
    overflowed: AtomicBool,
    bound: usize,
}

#[derive(Default)]
struct Lists {
    dirty: Segmented,
    tombstones: Segmented,
}

/// A list of keys in fixed-size segments.
#[derive(Default)]
struct Segmented {
    segments: Vec<Vec<CompactString>>,
    len: usize,
}

impl Segmented {
    /// Appends `key` unless the list holds `bound` keys; returns whether it did.
    fn push(&mut self, key: CompactString, bound: usize) -> bool {
        if self.len >= bound {
            return false;
        }
        match self.segments.last_mut() {
            Some(last) if last.len() < SEGMENT => last.push(key),
            _ => {
                let mut segment = Vec::with_capacity(SEGMENT);
                segment.push(key);
                self.segments.push(segment);
            }
        }
        self.len += 1;
        true
    }

    fn into_keys(self) -> impl Iterator<Item = CompactString> {
        self.segments.into_iter().flatten()
    }
}

impl Changes {
    /// An empty list holding at most `max_keys` changed keys and as many tombstones.
    pub(super) fn new(max_keys: usize) -> Self {
        Self {
            lists: Mutex::new(Lists::default()),
            overflowed: AtomicBool::new(false),
            bound: max_keys,
        }
    }
}

impl Store {
    /// Marks `key` for publishing again (its last publish failed).
    pub fn mark_dirty(&self, key: &str) {
        let newly_dirty = self.changed.is_some()
            && self
                .map
                .get_mut(key)
                .is_some_and(|mut slot| !std::mem::replace(&mut slot.dirty, true));
        if newly_dirty {
            self.push_dirty(key);
        }
    }

    /// Publishes a tombstone for `key` again (its publish failed): queued now
    /// if the key has left memory, or when it does if it is still held (full,
    /// or spent again: then its next state replaces the old record anyway).
    pub fn retry_tombstone(&self, key: &str) {
        match self.map.get_mut(key) {
            Some(mut slot) => slot.published = true,
            None => self.push_tombstone(CompactString::new(key)),
        }
    }

    /// Keys waiting to be published (changed states and tombstones).
    pub fn pending_changes(&self) -> usize {
        self.changed.as_ref().map_or(0, |changed| {
            let lists = changed.lists.lock();
            lists.dirty.len + lists.tombstones.len
        })
    }

    /// Hands over every key changed since the last call, with its latest state.
    pub fn take_changes(&self, now: Stamp) -> Vec<Change> {
        let Some(changed) = &self.changed else {
            return Vec::new();
        };
        // Before the lists are taken: a key that overflows after this is
        // flagged for the next take.
        let overflowed = changed.overflowed.swap(false, Ordering::AcqRel);
        let lists = std::mem::take(&mut *changed.lists.lock());
        // Gone again, or back in memory (its own dirty entry speaks for it).
        let mut changes: Vec<Change> = lists
            .tombstones
            .into_keys()
            .filter(|key| !self.map.contains_key(key))
            .map(|key| (key, None))
            .collect();
        for key in lists.dirty.into_keys() {
            // Gone: if it had been published, its eviction queued a tombstone.
            let change = self.map.get_mut(&key).and_then(|mut slot| {
                // Under the slot's lock, so the reset and the state agree.
                slot.take_change(self.resets.of(&key, now), now)
            });
            if let Some(change) = change {
                changes.push((key, change));
            }
        }
        if overflowed {
            self.take_unlisted(now, &mut changes);
        }
        changes
    }

    /// Marks every bucket that carries news — not full, or under a live
    /// reset — for publishing again (the topic that held them was lost);
    /// returns how many it marked.
    pub fn republish_all(&self, now: Stamp) -> usize {
        self.mark_all(|key, slot| {
            !slot.state.is_full_at(&slot.limit, now) || self.resets.of(key, now) != Stamp::default()
        })
    }

    /// Marks every bucket with spending this node kept quiet for publishing
    /// (the node is stopping: what it kept to itself goes out now); returns
    /// how many it marked.
    pub fn publish_quiet_spending(&self) -> usize {
        self.mark_all(|_, slot| slot.unpublished > 0)
    }

    /// Marks every slot `pick` chooses dirty, and has the next take walk
    /// the map for them; returns how many were not dirty yet.
    fn mark_all(&self, mut pick: impl FnMut(&CompactString, &Slot) -> bool) -> usize {
        let Some(changed) = &self.changed else {
            return 0;
        };
        let mut marked = 0;
        let visit = |key: &CompactString, slot: &mut Slot| {
            if pick(key, slot) && !std::mem::replace(&mut slot.dirty, true) {
                marked += 1;
            }
            false
        };
        self.map.walk(DIRTY_SCAN_CHUNK, visit, |_| {});
        // Not listed one by one: the next take walks the map for them.
        changed.overflowed.store(true, Ordering::Release);
        marked
    }

    /// Walks the map for dirty slots that did not fit in the list.
    fn take_unlisted(&self, now: Stamp, changes: &mut Vec<Change>) {
        let visit = |key: &CompactString, slot: &mut Slot| {
            if let Some(change) = slot.take_change(self.resets.of(key, now), now) {
                changes.push((key.clone(), change));
            }
            false
        };
        self.map.walk(DIRTY_SCAN_CHUNK, visit, |_| {});
    }

    /// Lists `key` as changed (it just became dirty).
    pub(super) fn push_dirty(&self, key: &str) {
        let Some(changed) = &self.changed else { return };
        let listed = changed
            .lists
            .lock()
            .dirty
            .push(CompactString::new(key), changed.bound);
        if !listed {
            changed.overflowed.store(true, Ordering::Release);
        }
    }

    /// Lists a tombstone for `key` (a published bucket left memory full).
    pub(super) fn push_tombstone(&self, key: CompactString) {
        let Some(changed) = &self.changed else { return };
        changed.lists.lock().tombstones.push(key, changed.bound);
    }
}

impl Slot {
    /// If dirty, what to publish — the latest state, or `None` (a tombstone)
    /// if the bucket is full now and was published — and marks it clean. A
    /// full bucket under a live reset is published all the same: the reset
    /// is the news, and peers must hear it to refuse older states. `reset`
    /// is the key's live reset.
    fn take_change(&mut self, reset: Stamp, now: Stamp) -> Option<Option<Replicated>> {
        if !std::mem::replace(&mut self.dirty, false) {
            return None;
        }
        self.unpublished = 0;
        if reset == Stamp::default() && self.state.is_full_at(&self.limit, now) {
            return std::mem::replace(&mut self.published, false).then_some(None);
        }
        self.published = true;
        Some(Some(Replicated {
            limit: self.limit,
            // Deeper debt is this node's to pay; peers believe one bucket of it.
            state: self.shared_state(),
            spent: self
                .spent
                .as_deref()
                .map(|s| s.published_entries().copied().collect()),
            reset,
        }))
    }
}

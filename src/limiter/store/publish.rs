//! The store's list of what replication should publish: keys a decision
//! changed (once per dirty period) and tombstones of published buckets that
//! left memory full.

use compact_str::CompactString;

use super::{Change, Replicated, Store};
use crate::limiter::bucket::Stamp;

/// An entry of the list of things to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Pending {
    /// A local decision changed this key's bucket (queued once per dirty period).
    Dirty(CompactString),
    /// This node's published bucket left memory full: compaction may drop the key.
    Tombstone(CompactString),
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
            self.push_change(Pending::Dirty(CompactString::new(key)));
        }
    }

    /// Publishes a tombstone for `key` again (its publish failed): queued now
    /// if the key has left memory, or when it does if it is still held (full,
    /// or spent again: then its next state replaces the old record anyway).
    pub fn retry_tombstone(&self, key: &str) {
        match self.map.get_mut(key) {
            Some(mut slot) => slot.published = true,
            None => self.push_change(Pending::Tombstone(CompactString::new(key))),
        }
    }

    /// Keys waiting to be published (changed states and tombstones).
    pub fn pending_changes(&self) -> usize {
        self.changed
            .as_ref()
            .map_or(0, |changed| changed.lock().len())
    }

    /// Hands over every key changed since the last call, with its latest state.
    pub fn take_changes(&self, now: Stamp) -> Vec<Change> {
        let Some(changed) = &self.changed else {
            return Vec::new();
        };
        let pending = std::mem::take(&mut *changed.lock());
        pending
            .into_iter()
            .filter_map(|entry| match entry {
                // Gone again, or back in memory (its own Dirty entry speaks for it).
                Pending::Tombstone(key) => {
                    (!self.map.contains_key(key.as_str())).then_some((key, None))
                }
                // Gone: if it had been published, its eviction queued a tombstone.
                Pending::Dirty(key) => {
                    let mut slot = self.map.get_mut(key.as_str())?;
                    if !std::mem::replace(&mut slot.dirty, false) {
                        return None;
                    }
                    if slot.state.is_full_at(&slot.limit, now) {
                        std::mem::replace(&mut slot.published, false).then_some((key, None))
                    } else {
                        slot.published = true;
                        let replicated = Replicated {
                            limit: slot.limit,
                            // Deeper debt is this node's to pay; peers believe one bucket of it.
                            state: slot.shared_state(),
                            spent: slot
                                .spent
                                .as_deref()
                                .map(|s| s.entries().copied().collect()),
                        };
                        drop(slot);
                        Some((key, Some(replicated)))
                    }
                }
            })
            .collect()
    }

    /// Queues `entry` for publishing. The list grows only while nothing is
    /// taken (Kafka away), and is bounded at twice `max_keys`: at the bound it
    /// is compacted — dirty entries of keys no longer tracked, and duplicates,
    /// go — and if it is still over half the bound, tombstones go too (an
    /// unsent tombstone only leaves an old record for compaction to keep).
    /// Distinct live keys are at most `max_keys`, so a dirty key, queued once
    /// per dirty period, is never dropped, and compaction leaves room for
    /// `max_keys` more pushes.
    pub(super) fn push_change(&self, entry: Pending) {
        let Some(changed) = &self.changed else { return };
        let mut changed = changed.lock();
        if changed.len() >= 2 * self.max_keys {
            let mut seen = std::collections::HashSet::new();
            changed.retain(|e| match e {
                Pending::Dirty(key) => {
                    self.map.contains_key(key.as_str()) && seen.insert(key.clone())
                }
                Pending::Tombstone(_) => true,
            });
            if changed.len() > self.max_keys {
                changed.retain(|e| matches!(e, Pending::Dirty(_)));
            }
        }
        changed.push(entry);
    }
}

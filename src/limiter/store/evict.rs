//! Keeping the store within `max_keys`: the periodic sweep of full buckets
//! and the eviction an insert at the cap makes room with.
//!
//! Both walk the map's shards by position, one shard lock at a time and for
//! a bounded stretch, so neither a sweep nor an insert at the cap holds up
//! requests on other shards, and there is no queue of keys to keep beside
//! the map. Eviction is CLOCK: each shard keeps a hand that moves past the
//! buckets still in use (their second chance) and stops at a full one.

use std::sync::atomic::{AtomicU64, Ordering};

use compact_str::CompactString;

use super::{Slot, Store, EVICTION_SAMPLE};
use crate::limiter::bucket::Stamp;

/// Entries looked at per shard lock by a sweep: short enough that requests
/// on that shard barely wait.
const SWEEP_CHUNK: usize = 512;

impl Store {
    /// Drops every bucket that is full at `now`; returns how many.
    pub fn sweep(&self, now: Stamp) -> usize {
        let mut dropped = 0;
        self.map.walk(
            SWEEP_CHUNK,
            |key, slot| self.is_idle(key, slot, now),
            // Outside the shard lock: tombstones, and freeing the slots.
            |removed| {
                dropped += removed.len();
                self.forget_idle(removed);
            },
        );
        self.resets.prune(now);
        dropped
    }

    /// Full, and not a reset waiting to be published: dropping it loses
    /// nothing (a reset is remembered beside the map).
    fn is_idle(&self, key: &str, slot: &Slot, now: Stamp) -> bool {
        slot.missing_at(now) <= 0 && !self.unpublished_reset(key, slot, now)
    }

    /// A reset bucket that replication has not published yet: full, but
    /// evicting it would keep the reset from the peers.
    fn unpublished_reset(&self, key: &str, slot: &Slot, now: Stamp) -> bool {
        slot.dirty && self.resets.of(key, now) != Stamp::default()
    }

    /// Takes one slot of the `max_keys` budget, evicting until one is free.
    pub(super) fn reserve_slot(&self, now: Stamp) {
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

    /// Evicts the first full bucket among the next [`EVICTION_SAMPLE`] under
    /// the shards' hands (from one shard on to the next), or failing that the
    /// fullest of them.
    fn evict_one(&self, now: Stamp) {
        let shards = self.map.shard_count();
        let first = self.victims.fetch_add(1, Ordering::Relaxed);
        let mut sampled = 0;
        let mut fullest: Option<(CompactString, i64)> = None;
        for n in 0..shards {
            if sampled >= EVICTION_SAMPLE {
                break;
            }
            let (looked, removed) = self.map.clock(
                (first + n) % shards,
                EVICTION_SAMPLE - sampled,
                |key, slot| {
                    if self.is_idle(key, slot, now) {
                        return true;
                    }
                    // An unpublished reset goes last: only if every bucket
                    // sampled is one, so an insert always finds room.
                    let missing = match self.unpublished_reset(key, slot, now) {
                        true => i64::MAX,
                        false => slot.missing_at(now),
                    };
                    if fullest.as_ref().is_none_or(|(_, m)| missing < *m) {
                        fullest = Some((key.clone(), missing));
                    }
                    false
                },
            );
            if let Some(entry) = removed {
                self.forget_idle(std::iter::once(entry));
                return;
            }
            sampled += looked;
        }
        // Under pressure: no tombstone, since a bucket that is not full still
        // limits its user on the peers; and its debt is kept, for this node.
        if let Some((key, _)) = fullest {
            let forget = |slot: &Slot| {
                self.remember_debt(&key, slot, now);
                false
            };
            if self.map.remove_unless(&key, forget).is_some() {
                self.forget(1, &self.evicted_pressure);
            }
        }
    }

    /// Counts full buckets that left memory, and queues tombstones for those
    /// this node had published.
    fn forget_idle(&self, removed: impl Iterator<Item = (CompactString, Slot)>) {
        for (key, slot) in removed {
            self.forget(1, &self.evicted_idle);
            if slot.published {
                self.push_tombstone(key);
            }
        }
    }

    fn forget(&self, removed: usize, counter: &AtomicU64) {
        if removed > 0 {
            self.len.fetch_sub(removed, Ordering::Relaxed);
            counter.fetch_add(removed as u64, Ordering::Relaxed);
        }
    }
}

impl Slot {
    /// Refill time the bucket still needs to be full at `now` (0 or less: full).
    pub(super) fn missing_at(&self, now: Stamp) -> i64 {
        self.limit
            .full_level()
            .saturating_sub(self.state.level_at(&self.limit, now))
    }
}

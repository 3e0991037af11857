//! Limits while cut off: each admitted token is charged as if every node that
//! shares the key spent the same, the extra kept per key as a reserve that
//! pays for the others' spending once they are heard again, and whose rest
//! is given back.

use std::sync::atomic::Ordering;

use compact_str::CompactString;

use super::{Slot, Store};
use crate::limiter::bucket::Limit;

/// Slots looked at per shard lock while releasing reserves.
const RELEASE_CHUNK: usize = 512;

impl Store {
    /// Sets how many nodes share each key's limit: above 1 while this node is
    /// cut off from the others, so that together they stay near the limit.
    pub fn set_share(&self, nodes: u32) {
        self.share.store(nodes.max(1), Ordering::Relaxed);
    }

    /// How many nodes share each key's limit now (1: connected).
    pub fn share(&self) -> u32 {
        self.share.load(Ordering::Relaxed)
    }

    /// Gives back what partition charges no other node's spending used up,
    /// once the node has heard from the others again; returns the keys
    /// credited. Off the request path: one shard lock at a time, briefly.
    pub fn release_reserves(&self) -> usize {
        let mut released = 0;
        let visit = |_: &CompactString, slot: &mut Slot| {
            if slot.reserve > 0 {
                let limit = slot.limit;
                let reserve = std::mem::take(&mut slot.reserve);
                slot.state.credit(&limit, limit.level_of(reserve));
                released += 1;
            }
            false
        };
        self.map.walk(RELEASE_CHUNK, visit, |_| {});
        released
    }
}

impl Slot {
    /// While cut off, an admitted request is charged as if every node that
    /// shares the key spent the same: `cost × (share − 1)` more, kept as a reserve.
    /// No debt floor applies: a token must really cost `share`, or a key
    /// with a small burst would get more than its share; the depth is bounded
    /// by `cost × share` below the level the request found. A spend that
    /// need not be held (`floored`: counted past the limit) is charged no
    /// deeper than the debt floor, so refused calls cannot dig on forever.
    pub(super) fn charge_share(&mut self, limit: &Limit, cost: u32, share: u32, floored: bool) {
        let mut extra = cost.saturating_mul(share - 1).min(u32::MAX - self.reserve);
        if floored {
            let room = limit.tokens_in(self.state.level().saturating_sub(limit.floor_level()));
            extra = extra.min(u32::try_from(room).unwrap_or(u32::MAX));
        }
        self.state.charge(limit.level_of(extra));
        self.reserve += extra;
    }

    /// The state as peers should see it: without this node's partition
    /// charges, which stand for the others' spending, not for its own.
    pub(super) fn shared_state(&self) -> crate::limiter::bucket::BucketState {
        let mut state = self.state;
        state.credit(&self.limit, self.limit.level_of(self.reserve));
        state.bounded(&self.limit)
    }
}

//! Limits while cut off: each admitted token is charged as if every node that
//! shares the key spent the same, the extra kept per key as a reserve that
//! pays for the others' spending once they are heard again, and whose rest
//! is given back.

use std::sync::atomic::Ordering;

use super::{Slot, Store};
use crate::limiter::bucket::Limit;

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
    /// credited. Off the request path: one shard lock at a time.
    pub fn release_reserves(&self) -> usize {
        let mut released = 0;
        for mut slot in self.map.iter_mut() {
            if slot.reserve > 0 {
                let limit = slot.limit;
                let reserve = std::mem::take(&mut slot.reserve);
                slot.state.credit(&limit, limit.level_of(reserve));
                released += 1;
            }
        }
        released
    }
}

impl Slot {
    /// While cut off, an admitted request is charged as if every node that
    /// shares the key spent the same: `cost × (share − 1)` more, kept as a reserve.
    pub(super) fn charge_share(&mut self, limit: &Limit, cost: u32, share: u32) {
        let before = self.state.level();
        let extra = cost.saturating_mul(share - 1);
        self.state.debit(limit, limit.level_of(extra));
        let charged = limit.tokens_in_debit(before - self.state.level());
        self.reserve = self.reserve.saturating_add(charged);
    }
}

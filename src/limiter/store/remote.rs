//! The store as a replica: merging peers' states, and the generation keys
//! under which this node counts its own spending in counted mode.

use std::cmp::Ordering;
use std::sync::atomic::Ordering as Atomic;

use super::{live_reset, Replicated, Store};
use crate::limiter::bucket::{Limit, Stamp};
use crate::limiter::merge::{merge, merge_counted, rescale, MergeMode};
use crate::limiter::spent::Spent;

impl Store {
    /// Merges a peer's state for `key` into this node's, where `limit` is what
    /// this node applies to the key. The peer's state is converted to `limit`
    /// (tokens kept) and held within its bounds, so no record can leave a
    /// bucket more than one full bucket in debt. A full remote state of an
    /// untracked key carries nothing and is not stored (its spending is paid
    /// back already: a full bucket owes nothing) unless it brings a live reset.
    /// Of two different live resets the later one's state wins whole (see the
    /// `reset` module); the counters are joined either way, but spending is
    /// debited only between states of the same reset.
    pub fn merge_remote(&self, key: &str, remote: &Replicated, limit: &Limit, now: Stamp) {
        let remote_reset = live_reset(remote.reset, limit, now);
        if remote_reset == Stamp::default()
            && !self.map.contains_key(key)
            && remote.state.is_full_at(&remote.limit, now)
        {
            return;
        }
        let nodes = self.nodes.load(Atomic::Relaxed);
        let republish = self.with_slot(key, limit, now, |slot| {
            slot.convert_to(limit, now);
            let state = rescale(remote.state, &remote.limit, limit).bounded(limit);
            let counted = match (self.mode, &remote.spent) {
                (MergeMode::Counted, Some(remote_spent)) => Some(remote_spent),
                // A min-max peer (or a min-max node): the plain rule.
                _ => None,
            };
            let ordering = remote_reset.cmp(&self.resets.of(key, now));
            match (ordering, counted) {
                (Ordering::Equal, Some(remote_spent)) => merge_counted(
                    limit,
                    &mut slot.state,
                    slot.spent.get_or_insert_with(|| Box::new(Spent::new(now))),
                    state,
                    remote_spent,
                    &mut slot.reserve,
                ),
                (Ordering::Equal, None) => slot.state = merge(limit, slot.state, state),
                (Ordering::Greater, _) => {
                    // The state after the reset carries all its spending.
                    slot.state = state;
                    self.resets.set(key, remote_reset, limit, now);
                    slot.forgive(remote_reset);
                }
                (Ordering::Less, _) => {}
            }
            // Spending across a reset is forgiven, not debited.
            if let (Ordering::Greater | Ordering::Less, Some(remote_spent)) = (ordering, counted) {
                slot.spent(now).absorb(remote_spent, u64::MAX);
            }
            // Our last record of the key is from before the reset: replace
            // it, so the topic's latest word on the key is after the reset.
            // And spending we kept quiet may matter now that the level fell.
            let news = (ordering == Ordering::Greater && slot.published)
                || !slot.keeps_quiet(&self.quiet, limit, slot.state.level_at(limit, now), nodes);
            let republish = news && !slot.dirty;
            slot.dirty |= republish;
            republish
        });
        if republish {
            self.push_dirty(key);
        }
    }

    /// A fresh key for this node's spending on a key it starts tracking.
    pub(super) fn next_generation(&self) -> u64 {
        let n = self.generations.fetch_add(1, Atomic::Relaxed);
        // splitmix64 of (node, n): distinct generations of distinct nodes collide
        // only by 64-bit chance.
        let mut z = self.me ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

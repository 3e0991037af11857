//! Taking tokens, the decision fast path: a take that waits for the bucket
//! to hold them, a spend that does not (envoyproxy/ratelimit's default
//! counting), and the refund of a take whose request was refused after all.
//! Both kinds of taking account for what they took the same way.

use std::sync::atomic::Ordering;

use super::{MergeMode, Store};
use crate::limiter::bucket::{Decision, Limit, Stamp};

/// Whether a take needs the tokens to be there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Takes them if the bucket holds them; otherwise nothing.
    IfHeld,
    /// Takes them anyway, down to the debt floor.
    Always,
}

impl Store {
    /// Decides a request of `cost` tokens for `key` under `limit` at `now`,
    /// taking the tokens if allowed.
    ///
    /// # Examples
    ///
    /// ```rust
    /// use std::num::{NonZeroU32, NonZeroUsize};
    /// use std::time::Duration;
    /// use crdt_limiter::limiter::{Decision, Limit, Stamp, Store};
    ///
    /// // Two tokens at most, one more every second.
    /// let limit = Limit::new(NonZeroU32::new(2).unwrap(), Duration::from_secs(1)).unwrap();
    /// let store = Store::new(limit, NonZeroUsize::new(1000).unwrap());
    /// let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
    /// assert!(store.check_with("alice", &limit, 2, now).is_allowed());
    /// // The next at the same instant is refused, and told when to come back.
    /// let refused = store.check_with("alice", &limit, 1, now);
    /// assert!(matches!(refused, Decision::Limited { retry_after, .. } if retry_after.as_secs() == 1));
    /// let later = now.saturating_add(Duration::from_secs(1));
    /// assert!(store.check_with("alice", &limit, 1, later).is_allowed());
    /// assert!(store.check_with("bob", &limit, 2, now).is_allowed(), "a bucket per key");
    /// ```
    pub fn check_with(&self, key: &str, limit: &Limit, cost: u32, now: Stamp) -> Decision {
        self.take(key, limit, cost, now, Take::IfHeld)
    }

    /// Takes `cost` tokens for `key` under `limit` at `now` whether or not
    /// the bucket holds them (`--rls-count-over-limit`, envoyproxy/ratelimit's
    /// default counting): a bucket short of them is debited anyway, down to
    /// the debt floor, and the decision says whether it was over (see
    /// [`crate::limiter::BucketState::spend`]). Counted, published and charged while cut off
    /// as any spending is, so peers debit it too and it merges as any does.
    pub fn spend(&self, key: &str, limit: &Limit, cost: u32, now: Stamp) -> Decision {
        self.take(key, limit, cost, now, Take::Always)
    }

    /// Gives back `cost` tokens taken by [`Store::check_with`] under `limit`
    /// (a later limit of the same request refused), capped at full: the
    /// level, the spending count peers would debit, and any partition charge.
    pub fn refund(&self, key: &str, limit: &Limit, cost: u32) {
        if let Some(mut slot) = self.map.get_mut(key) {
            if slot.limit == *limit {
                let extra = slot
                    .reserve
                    .min(cost.saturating_mul(self.share().saturating_sub(1)));
                slot.reserve -= extra;
                let back = limit.level_of(cost).saturating_add(limit.level_of(extra));
                slot.state.credit(limit, back);
                slot.unpublished = slot
                    .unpublished
                    .saturating_sub(cost.min(u32::from(u16::MAX)) as u16);
                if let Some(spent) = &mut slot.spent {
                    spent.unrecord(cost);
                }
            }
        }
    }

    /// Takes `cost` tokens as `how` says, and accounts for what was taken:
    /// the spending record peers debit, the partition charge, and whether
    /// peers should hear of it now.
    #[inline]
    fn take(&self, key: &str, limit: &Limit, cost: u32, now: Stamp, how: Take) -> Decision {
        let replicated = self.changed.is_some();
        let counted = replicated && self.mode == MergeMode::Counted;
        let share = self.share.load(Ordering::Relaxed);
        let nodes = self.nodes.load(Ordering::Relaxed);
        let (decision, newly_dirty) = self.with_slot(key, limit, now, |slot| {
            slot.convert_to(limit, now);
            let decision = match how {
                Take::IfHeld => slot.state.take(limit, cost, now),
                Take::Always => slot.state.spend(limit, cost, now),
            };
            // A refusal takes nothing: peers need to hear nothing of it.
            if !decision.is_allowed() && how == Take::IfHeld {
                return (decision, false);
            }
            if counted {
                let generation = || self.next_generation();
                let window = limit.algorithm().window_and_previous(now);
                slot.own_spent(limit, now)
                    .record_in(window, cost, now, generation);
            }
            if share > 1 {
                slot.charge_share(limit, cost, share, how == Take::Always);
            }
            slot.unpublished = slot
                .unpublished
                .saturating_add(cost.min(u32::from(u16::MAX)) as u16);
            let news =
                replicated && !slot.keeps_quiet(&self.quiet, limit, slot.state.level(), nodes);
            let newly_dirty = news && !slot.dirty;
            slot.dirty |= news;
            (decision, newly_dirty)
        });
        if newly_dirty {
            self.push_dirty(key);
        }
        decision
    }
}

#[cfg(test)]
#[path = "take_tests.rs"]
mod tests;

//! Window states: a fixed or calendar window's count steps back to full at
//! the window's end; a sliding window also weighs the previous window's
//! count by how much of that window the last window length still covers.

use std::time::Duration;

use super::{BucketState, Decision, Limit, Stamp};

impl BucketState {
    /// What a request at `at` could take: the count left in `at`'s window
    /// (full in a later window than the stamp's), for a sliding window less
    /// the previous window's weighted count.
    pub(super) fn window_level_at(&self, limit: &Limit, at: Stamp) -> i64 {
        let full = limit.full_level();
        let Some(length) = limit.algorithm.sliding() else {
            return if limit.algorithm.is_later_window(self.stamp, at) {
                full
            } else {
                self.level.min(full)
            };
        };
        let at = at.max(self.stamp);
        let slid = self.slid_to(limit, at);
        slid.level.min(full) - slid.weighted_prev(limit, at, length)
    }

    /// A sliding window's state said in `at`'s window: one window later its
    /// count becomes the previous one; two or more, both are clear. Monotone
    /// and composing, as refill is, so the merge stays a join.
    pub(super) fn slid_to(&self, limit: &Limit, at: Stamp) -> Self {
        let algorithm = limit.algorithm;
        let full = limit.full_level();
        let stamp = self.stamp.max(at);
        let Some(end) = algorithm.window_end(self.stamp) else {
            return *self;
        };
        if at < end {
            return Self {
                level: self.level.min(full),
                stamp,
                prev: self.prev,
            };
        }
        let next_end = algorithm.window_end(end).unwrap_or(end);
        let prev = if at < next_end {
            (full - self.level).clamp(0, full)
        } else {
            0
        };
        Self {
            level: full,
            stamp,
            prev,
        }
    }

    /// The previous window's count still inside the sliding window at `at`
    /// (the state said in `at`'s window), rounded up: never fewer than the
    /// weighted count, so a node never admits more than it allows.
    fn weighted_prev(&self, limit: &Limit, at: Stamp, length: Duration) -> i64 {
        if self.prev <= 0 {
            return 0;
        }
        let end = limit.algorithm.window_end(at).unwrap_or(at);
        let left = u128::from(end.saturating_since(at));
        let weighted = (self.prev as u128 * left).div_ceil(length.as_nanos().max(1));
        weighted as i64
    }

    /// Counts `level` more spending in the previous window (counted mode:
    /// a peer's spending reported from the window before this one).
    pub(crate) fn count_previous(&mut self, limit: &Limit, level: i64) {
        self.prev = self
            .prev
            .saturating_add(level.max(0))
            .clamp(0, limit.full_level());
    }

    /// A window's take at `now`, brought up to `now` already, its window
    /// ending at `end`.
    pub(super) fn take_window(
        &mut self,
        limit: &Limit,
        cost: u32,
        now: Stamp,
        end: Stamp,
    ) -> Decision {
        let need = limit.level_of(cost);
        let left = end.saturating_since(now);
        let weighted = match limit.algorithm.sliding() {
            Some(length) => self.weighted_prev(limit, now, length),
            None => 0,
        };
        let available = self.level - weighted;
        if available >= need {
            self.level -= need;
            Decision::Allowed {
                remaining: limit.tokens_in(available - need),
                reset: self.window_reset(limit, left),
            }
        } else {
            Decision::Limited {
                remaining: limit.tokens_in(available),
                retry_after: self.window_retry(limit, need, left),
                reset: self.window_reset(limit, left),
            }
        }
    }

    /// Time until the window counts nothing: its end, or for a sliding
    /// window with a count of its own, one window later.
    fn window_reset(&self, limit: &Limit, left: u64) -> Duration {
        let later = match limit.algorithm.sliding() {
            Some(length) if self.level < limit.full_level() => length,
            _ => Duration::ZERO,
        };
        Duration::from_nanos(left) + later
    }

    /// Time until `need` could be taken: the window's end, or for a sliding
    /// window when the previous window's weight has fallen far enough.
    fn window_retry(&self, limit: &Limit, need: i64, left: u64) -> Duration {
        let Some(length) = limit.algorithm.sliding() else {
            return Duration::from_nanos(left);
        };
        let w = length.as_nanos();
        let full = limit.full_level();
        // Within this window: the weight must fall to what is left after `need`.
        if self.level >= need && self.prev > 0 {
            let room = (self.level - need) as u128 * w / self.prev as u128;
            return Duration::from_nanos(left.saturating_sub(room.min(w) as u64));
        }
        // In the next: this window's count is the one weighed.
        let prev = (full - self.level).clamp(0, full);
        if need > full || prev == 0 {
            return Duration::from_nanos(left) + if need > full { length } else { Duration::ZERO };
        }
        let room = (full - need) as u128 * w / prev as u128;
        Duration::from_nanos(left) + Duration::from_nanos((w - room.min(w)) as u64)
    }
}

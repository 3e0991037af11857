//! Token-bucket arithmetic: exact integer refill, take and timing, with time passed in.
//!
//! A bucket's level is kept as *banked refill time* in nanoseconds: one token is
//! worth `interval` ns (the time the bucket needs to earn it), so `level = tokens ×
//! interval`. Refill is then a saturating addition of elapsed nanoseconds — no
//! division, no rounding, no drift however often or rarely a bucket is touched —
//! and every timing answer (`retry_after`, `reset`) is exact to the nanosecond.
//!
//! A window limit (see `window`) keeps the same state with one token worth
//! 1 ns, so its level is its count of requests left; its "refill" is a step
//! to full when a later window begins, still monotone and composable, so the
//! merge and every bound below keep working on levels.

use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

use super::stamp::duration_nanos;
pub use super::stamp::Stamp;
use super::window::Algorithm;

/// The longest time a bucket may take to refill from empty. Keeping
/// `capacity × interval` well inside `i64` leaves headroom for debt (negative
/// levels in counted mode) and for additions, so the arithmetic cannot overflow.
pub const MAX_REFILL_WINDOW: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The deepest debt a bucket may carry, in full buckets: what the counted
/// mode pays back when nodes heard of each other's spending late. Deeper debt
/// would punish a user for the cluster's own over-admission; a shallower
/// floor loses accuracy when delivery is slow against the refill window
/// (5 nodes, 500 ms delivery, 1 s window need 2).
pub const MAX_DEBT_WINDOWS: i64 = 4;

/// Why a limit is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// The refill interval rounds to zero nanoseconds (faster than 10⁹ tokens/s).
    #[error("refill rate is too high: at most 1000000000 tokens per second")]
    RateTooHigh,
    /// `capacity × interval` exceeds [`MAX_REFILL_WINDOW`].
    #[error(
        "the bucket would take longer than 100 years to refill from empty (capacity / refill rate)"
    )]
    WindowTooLong,
    /// A window limit was asked for without a window algorithm.
    #[error("not a window algorithm")]
    NotAWindow,
    /// A calendar window of a unit shorter than a day.
    #[error("a calendar window is a day, week, month or year")]
    NotCalendar,
}

/// A bucket's shape: how many tokens it holds and how fast it earns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limit {
    capacity: NonZeroU32,
    interval_ns: NonZeroU64,
    algorithm: Algorithm,
}

impl Limit {
    /// A bucket of `capacity` tokens earning one token every `interval`.
    pub fn new(capacity: NonZeroU32, interval: Duration) -> Result<Self, LimitError> {
        let interval_ns =
            NonZeroU64::new(duration_nanos(interval)).ok_or(LimitError::RateTooHigh)?;
        let window = u128::from(capacity.get()) * u128::from(interval_ns.get());
        if window > MAX_REFILL_WINDOW.as_nanos() {
            return Err(LimitError::WindowTooLong);
        }
        Ok(Self {
            capacity,
            interval_ns,
            algorithm: Algorithm::TokenBucket,
        })
    }

    /// At most `capacity` requests per window of `algorithm` (a window algorithm).
    pub fn windowed(capacity: NonZeroU32, algorithm: Algorithm) -> Result<Self, LimitError> {
        match algorithm {
            Algorithm::TokenBucket => return Err(LimitError::NotAWindow),
            Algorithm::Calendar(unit, _) if !unit.is_calendar() => {
                return Err(LimitError::NotCalendar)
            }
            _ => {}
        }
        Ok(Self {
            capacity,
            interval_ns: NonZeroU64::MIN,
            algorithm,
        })
    }

    /// How the limit counts.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Tokens the bucket holds when full (the burst).
    pub fn capacity(&self) -> u32 {
        self.capacity.get()
    }

    /// Time to earn one token (1 ns for a window: its level is a count).
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns.get())
    }

    /// Time to refill from empty to full: for a window limit, the longest
    /// its window can last.
    pub fn window(&self) -> Duration {
        match self.algorithm.longest() {
            Some(longest) => longest,
            None => Duration::from_nanos(self.full_level() as u64),
        }
    }

    /// The window `RateLimit-Policy` names (`w=`): the time to refill from
    /// empty, or a window's length (a calendar period's longest).
    pub fn policy_window(&self) -> Duration {
        self.algorithm.sliding().unwrap_or_else(|| self.window())
    }

    /// The level of a full bucket. Fits in `i64` by construction.
    pub(crate) fn full_level(&self) -> i64 {
        (u64::from(self.capacity.get()) * self.interval_ns.get()) as i64
    }

    /// The level `cost` tokens are worth, saturating (a cost that large can never be met).
    pub(crate) fn level_of(&self, cost: u32) -> i64 {
        let level = u128::from(cost) * u128::from(self.interval_ns.get());
        i64::try_from(level).unwrap_or(i64::MAX)
    }

    /// The lowest level a bucket may reach: [`MAX_DEBT_WINDOWS`] full buckets of debt.
    pub(crate) fn floor_level(&self) -> i64 {
        -self.full_level().saturating_mul(MAX_DEBT_WINDOWS)
    }

    /// Whole tokens in `level` (none while in debt).
    pub(crate) fn tokens_in(&self, level: i64) -> u64 {
        level.max(0) as u64 / self.interval_ns.get()
    }
}

/// The outcome of asking a bucket for tokens. Being limited is a result, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The tokens were taken.
    Allowed {
        /// Whole tokens left after this request.
        remaining: u64,
        /// Time until the bucket is full again.
        reset: Duration,
    },
    /// Not enough tokens; nothing was taken.
    Limited {
        /// Whole tokens in the bucket, fewer than the request asked for.
        remaining: u64,
        /// Time until the requested tokens will be available.
        retry_after: Duration,
        /// Time until the bucket is full again.
        reset: Duration,
    },
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }
}

/// One bucket's state: its level (banked refill time, see the module doc) as of `stamp`;
/// for a sliding window also the previous window's count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BucketState {
    level: i64,
    stamp: Stamp,
    /// Requests counted in the window before the stamp's (sliding windows; else 0).
    prev: i64,
}

impl BucketState {
    /// A full bucket as of `now`: what an unseen key has.
    pub fn full(limit: &Limit, now: Stamp) -> Self {
        Self::from_parts(limit.full_level(), now)
    }

    /// A state from its raw parts (as received from a peer).
    pub fn from_parts(level: i64, stamp: Stamp) -> Self {
        Self {
            level,
            stamp,
            prev: 0,
        }
    }

    /// A sliding window's state: `level` left in the stamp's window, `prev`
    /// counted in the one before.
    pub fn from_sliding(level: i64, prev: i64, stamp: Stamp) -> Self {
        Self { level, stamp, prev }
    }

    /// The level as of `stamp`, in nanoseconds of refill time.
    pub fn level(&self) -> i64 {
        self.level
    }

    /// The instant the level was last brought up to date.
    pub fn stamp(&self) -> Stamp {
        self.stamp
    }

    /// A sliding window's count in the window before the stamp's (0 for the others).
    pub fn prev(&self) -> i64 {
        self.prev
    }

    /// The same state said as of `stamp` (a peer's stamp clamped).
    pub fn with_stamp(self, stamp: Stamp) -> Self {
        Self { stamp, ..self }
    }

    /// The level refilled to `at` (no refill for an `at` before the stamp):
    /// what a request at `at` could take.
    pub fn level_at(&self, limit: &Limit, at: Stamp) -> i64 {
        if limit.algorithm.is_window() {
            return self.window_level_at(limit, at);
        }
        let elapsed = i64::try_from(at.saturating_since(self.stamp)).unwrap_or(i64::MAX);
        self.level.saturating_add(elapsed).min(limit.full_level())
    }

    /// Whole tokens available at `at`.
    pub fn tokens_at(&self, limit: &Limit, at: Stamp) -> u64 {
        limit.tokens_in(self.level_at(limit, at))
    }

    /// Whether the bucket has refilled completely by `at`, so forgetting it loses nothing.
    pub fn is_full_at(&self, limit: &Limit, at: Stamp) -> bool {
        self.level_at(limit, at) >= limit.full_level()
    }

    /// This state refilled to `at`: the same bucket, described as of a later instant.
    pub fn refilled_to(&self, limit: &Limit, at: Stamp) -> Self {
        if limit.algorithm.sliding().is_some() {
            return self.slid_to(limit, at);
        }
        Self {
            level: self.level_at(limit, at),
            stamp: self.stamp.max(at),
            prev: 0,
        }
    }

    /// Brings the bucket up to `now`. A stamp ahead of `now` (the wall clock
    /// stepped back, or a peer's clock runs ahead) is pulled back to `now` with
    /// the level kept, so refill resumes at once instead of waiting for the clock
    /// to catch up: the bucket is never stuck, and at most the skew's worth of
    /// refill is forgone.
    fn advance(&mut self, limit: &Limit, now: Stamp) {
        *self = self.refilled_to(limit, now);
        self.stamp = now;
    }

    /// Spends `level` nanoseconds of refill time even below zero (debt): how
    /// consumption seen on other nodes is paid back. Debt stops at
    /// [`MAX_DEBT_WINDOWS`] full buckets, so no bucket is ever stuck for long.
    pub fn debit(&mut self, limit: &Limit, level: i64) {
        // Never raises: a level already below the floor (a partition charge) stays.
        let floor = limit.floor_level().min(self.level);
        self.level = self.level.saturating_sub(level.max(0)).max(floor);
    }

    /// Spends `level` with no floor: a partition charge, which is held as a
    /// reserve and given back or paid for by peers' spending later.
    pub fn charge(&mut self, level: i64) {
        self.level = self.level.saturating_sub(level.max(0));
    }

    /// This state as any one record may state it: at most full, at most one
    /// full bucket of debt (and a previous count of at most a full window).
    /// What a node publishes and what it believes of a peer.
    pub fn bounded(self, limit: &Limit) -> Self {
        let full = limit.full_level();
        Self {
            level: self.level.clamp(-full, full),
            stamp: self.stamp,
            prev: match limit.algorithm.sliding() {
                Some(_) => self.prev.clamp(0, full),
                None => 0,
            },
        }
    }

    /// Gives back `level` nanoseconds of refill time (tokens taken for a
    /// request that was refused after all), never past full.
    pub fn credit(&mut self, limit: &Limit, level: i64) {
        self.level = self
            .level
            .saturating_add(level.max(0))
            .min(limit.full_level());
    }

    /// Takes `cost` tokens at `now` if the bucket holds them; otherwise takes nothing.
    pub fn take(&mut self, limit: &Limit, cost: u32, now: Stamp) -> Decision {
        self.advance(limit, now);
        if let Some(end) = limit.algorithm.window_end(now) {
            return self.take_window(limit, cost, now, end);
        }
        let need = limit.level_of(cost);
        let full = limit.full_level();
        if self.level >= need {
            self.level -= need;
            Decision::Allowed {
                remaining: limit.tokens_in(self.level),
                reset: nanos_until(full, self.level),
            }
        } else {
            Decision::Limited {
                remaining: limit.tokens_in(self.level),
                retry_after: nanos_until(need, self.level),
                reset: nanos_until(full, self.level),
            }
        }
    }
}

impl BucketState {
    /// Takes `cost` tokens at `now` whether or not the bucket holds them
    /// (envoyproxy/ratelimit's default counting): a bucket short of them is
    /// debited anyway, down to the debt floor, and the refusal reports the
    /// bucket as it is after. Over when the bucket held less than `cost`;
    /// with `cost` 0, when it is in debt (a window: counted past its limit).
    pub fn spend(&mut self, limit: &Limit, cost: u32, now: Stamp) -> Decision {
        let decision = self.take(limit, cost, now);
        if decision.is_allowed() {
            return decision;
        }
        self.debit(limit, limit.level_of(cost));
        let mut after = *self;
        after.take(limit, cost, now)
    }
}

fn nanos_until(target: i64, level: i64) -> Duration {
    Duration::from_nanos(u64::try_from(target.saturating_sub(level)).unwrap_or(0))
}

mod windowed;

#[cfg(test)]
#[path = "bucket_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "bucket_window_tests.rs"]
mod window_tests;

#[cfg(test)]
#[path = "bucket_sliding_tests.rs"]
mod sliding_tests;

//! Where "now" comes from: the wall clock in production, a hand-moved clock in tests.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::limiter::Stamp;

/// A source of the current instant, as wall-clock time (nodes compare stamps).
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Stamp;

    /// Lets the clock follow the wall clock a little; called about once a
    /// second, off the request path.
    fn resync(&self) {}
}

/// How fast [`SystemClock`] may run ahead of or behind real time while it
/// follows a wall clock that stepped: 1 %.
const MAX_SLEW_PER_NS: i64 = 100;

/// The system's time: the wall clock read at start, then advanced by the
/// monotonic clock. Stamps stay comparable across nodes (wall time), but a
/// step of the system clock — forward or back, by an operator or NTP —
/// refills or empties no bucket at once: [`Clock::resync`] follows it at most
/// 1 % faster or slower than real time, never backwards.
#[derive(Debug)]
pub struct SystemClock {
    wall_at_start: Stamp,
    started: Instant,
    /// How far this clock has moved towards the wall clock since start.
    offset_ns: AtomicI64,
    /// Monotonic nanoseconds since start at the last resync.
    synced_at_ns: AtomicU64,
    /// How far the clock is set from the wall clock on purpose (`--clock-start`).
    shift_ns: i64,
}

impl SystemClock {
    /// A clock anchored to the wall clock now.
    pub fn new() -> Self {
        Self::anchored(wall_now(), Instant::now())
    }

    /// A clock that reads `wall` at the monotonic instant `at`.
    pub fn anchored(wall: Stamp, at: Instant) -> Self {
        Self {
            wall_at_start: wall,
            started: at,
            offset_ns: AtomicI64::new(0),
            synced_at_ns: AtomicU64::new(0),
            shift_ns: 0,
        }
    }

    /// A clock that reads `start` now and runs on from there at the wall
    /// clock's pace, following the wall clock's steps as [`SystemClock::new`]
    /// does (for tests and drills: a node started just before a boundary).
    pub fn starting_at(start: Stamp) -> Self {
        let wall = wall_now();
        let shift = i128::from(start.as_unix_nanos()) - i128::from(wall.as_unix_nanos());
        Self {
            // Saturated, never dropped: a start beyond ±292 years still reads as far as it can.
            shift_ns: shift.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            ..Self::anchored(start, Instant::now())
        }
    }

    /// Moves at most 1 % of the time since the last call towards `wall`.
    fn follow(&self, wall: Stamp) {
        let elapsed = nanos(self.started.elapsed());
        let since = elapsed.saturating_sub(self.synced_at_ns.swap(elapsed, Ordering::Relaxed));
        let max = i64::try_from(since).unwrap_or(i64::MAX) / MAX_SLEW_PER_NS;
        let ours = self.now().as_unix_nanos();
        let gap = i64::try_from(i128::from(wall.as_unix_nanos()) - i128::from(ours)).unwrap_or(
            if wall.as_unix_nanos() > ours {
                i64::MAX
            } else {
                i64::MIN
            },
        );
        self.offset_ns
            .fetch_add(gap.clamp(-max, max), Ordering::Relaxed);
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Stamp {
        let base = self
            .wall_at_start
            .as_unix_nanos()
            .saturating_add(nanos(self.started.elapsed()));
        Stamp::from_unix_nanos(base.saturating_add_signed(self.offset_ns.load(Ordering::Relaxed)))
    }

    fn resync(&self) {
        let wall = wall_now()
            .as_unix_nanos()
            .saturating_add_signed(self.shift_ns);
        self.follow(Stamp::from_unix_nanos(wall));
    }
}

fn wall_now() -> Stamp {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    Stamp::from_unix_nanos(nanos(since_epoch))
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A clock that moves only when told to: deterministic tests of refill timing.
#[derive(Debug)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Stamp) -> Self {
        Self(AtomicU64::new(start.as_unix_nanos()))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Stamp {
        Stamp::from_unix_nanos(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
#[path = "clock_tests.rs"]
mod tests;

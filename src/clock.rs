//! Where "now" comes from: the wall clock in production, a hand-moved clock in tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::limiter::Stamp;

/// A source of the current instant, as wall-clock time (nodes compare stamps).
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Stamp;
}

/// The system's time: the wall clock read once at start, then advanced by
/// the monotonic clock. Stamps stay comparable across nodes (wall time), but
/// a step of the system clock — forward or back, by an operator or NTP —
/// changes no bucket: refill follows the time that really passed. (NTP's
/// gradual corrections of the rate still apply: the monotonic clock follows
/// them.) A restart reads the wall clock again.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    wall_at_start: Stamp,
    started: Instant,
}

impl SystemClock {
    /// A clock anchored to the wall clock now.
    pub fn new() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        let wall =
            Stamp::from_unix_nanos(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX));
        Self::anchored(wall, Instant::now())
    }

    /// A clock that reads `wall` at the monotonic instant `at`.
    pub fn anchored(wall: Stamp, at: Instant) -> Self {
        Self {
            wall_at_start: wall,
            started: at,
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Stamp {
        self.wall_at_start.saturating_add(self.started.elapsed())
    }
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
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_advances_by_time_passed_not_by_the_wall_clock() {
        // Anchored to a wall time far from the real one (as if the system
        // clock stepped by a decade since start): time goes on from the anchor
        // at the monotonic rate, untouched by what the wall clock says now.
        let anchor = Stamp::from_unix_nanos(1_000_000_000_000_000_000);
        let clock = SystemClock::anchored(anchor, Instant::now());
        let first = clock.now();
        std::thread::sleep(Duration::from_millis(20));
        let second = clock.now();
        assert!(first >= anchor);
        let passed = second.saturating_since(first);
        assert!(passed >= 20_000_000, "{passed} ns");
        assert!(passed < 5_000_000_000, "{passed} ns");
        assert!(second.saturating_since(anchor) < 5_000_000_000);
    }
}

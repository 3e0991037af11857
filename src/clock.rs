//! Where "now" comes from: the wall clock in production, a hand-moved clock in tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::limiter::Stamp;

/// A source of the current instant. The wall clock (not a monotonic one) because
/// stamps are compared across nodes.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Stamp;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Stamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Stamp::from_unix_nanos(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX))
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

//! An instant as the limiter sees it: wall-clock nanoseconds since the Unix
//! epoch, so that nodes can compare stamps.

use std::time::Duration;

/// An instant as nanoseconds since the Unix epoch (wall clock: nodes compare stamps).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp(u64);

impl Stamp {
    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub const fn from_unix_nanos(nanos: u64) -> Self {
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_unix_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is not earlier.
    pub const fn saturating_since(self, earlier: Stamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// `self + by`, saturating at the end of representable time.
    pub fn saturating_add(self, by: Duration) -> Self {
        Self(self.0.saturating_add(duration_nanos(by)))
    }
}

pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

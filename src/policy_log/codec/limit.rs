//! A limit in a policy record. A token bucket is what every version wrote:
//! `{"capacity":N,"interval_ns":I}` in a version 1 value. A window is
//! `{"capacity":N,"algorithm":A,"window":U[,"time_zone":Z]}` in a version 2
//! value, written for window limits only: a node from before windows
//! refuses (and counts) just those records, rather than reading a window
//! as a bucket. Names are read in the one spelling written, a calendar's
//! zone always named (the zone the change was made in, whatever the
//! reader's `--time-zone`), and an unknown name refuses the record.

use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::DecodeError;
use crate::limiter::{Algorithm, Limit, Tz, Unit};
use crate::policy::algorithm::{parse_zone, window_limit, AlgorithmKind};

/// The version of a value that carries a token bucket, or no limit.
pub(super) const VERSION: u8 = 1;

/// The version of a value that carries a window limit.
pub(super) const VERSION_WINDOW: u8 = 2;

/// Longest zone name read (the longest IANA name is about 30 bytes).
const MAX_ZONE: usize = 64;

/// A limit on the wire: exact (a bucket's refill interval in ns, as the
/// buckets keep it), or a window's algorithm, unit and zone.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireLimit {
    capacity: u32,
    #[serde(default, skip_serializing_if = "super::is_zero")]
    interval_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
}

impl WireLimit {
    /// `limit` on the wire, and the version of the value that carries it.
    pub(super) fn of(limit: &Limit) -> (Self, u8) {
        let mut wire = Self {
            capacity: limit.capacity(),
            interval_ns: 0,
            algorithm: None,
            window: None,
            time_zone: None,
        };
        let unit = match limit.algorithm() {
            Algorithm::TokenBucket => {
                wire.interval_ns = limit.interval().as_nanos() as u64;
                return (wire, VERSION);
            }
            Algorithm::FixedWindow(unit) | Algorithm::SlidingWindow(unit) => unit,
            Algorithm::Calendar(unit, tz) => {
                wire.time_zone = Some(tz.name().to_string());
                unit
            }
        };
        wire.algorithm = Some(AlgorithmKind::of(limit.algorithm()).name().to_string());
        wire.window = Some(unit.name().to_string());
        (wire, VERSION_WINDOW)
    }

    /// Whether it is a window limit (what only a version 2 value carries).
    pub(super) fn is_window(&self) -> bool {
        self.algorithm.is_some() || self.window.is_some() || self.time_zone.is_some()
    }

    /// The limit, if this node can run it exactly as written.
    pub(super) fn limit(&self) -> Result<Limit, DecodeError> {
        self.read().map_err(DecodeError)
    }

    fn read(&self) -> Result<Limit, String> {
        let capacity = NonZeroU32::new(self.capacity).ok_or("capacity 0")?;
        let Some(algorithm) = &self.algorithm else {
            if self.is_window() {
                return Err("a window without an algorithm".into());
            }
            let interval = NonZeroU64::new(self.interval_ns).ok_or("interval 0")?;
            let interval = Duration::from_nanos(interval.get());
            return Limit::new(capacity, interval).map_err(|e| e.to_string());
        };
        if self.interval_ns != 0 {
            return Err("a window has no refill interval".into());
        }
        let kind = AlgorithmKind::parse(algorithm)
            .filter(|kind| kind.name() == algorithm && *kind != AlgorithmKind::TokenBucket)
            .ok_or_else(|| format!("unknown algorithm `{}`", cut(algorithm)))?;
        let unit = self.window.as_deref().unwrap_or_default();
        let unit = Unit::parse(unit)
            .filter(|u| u.name() == unit)
            .ok_or_else(|| format!("unknown window `{}`", cut(unit)))?;
        let zone = match (kind, self.time_zone.as_deref()) {
            (AlgorithmKind::Calendar, Some(name)) => (name.len() <= MAX_ZONE)
                .then(|| parse_zone(name))
                .flatten()
                .ok_or_else(|| format!("unknown time zone `{}`", cut(name)))?,
            (AlgorithmKind::Calendar, None) => return Err("a calendar names its zone".into()),
            (_, Some(_)) => return Err("only a calendar has a time zone".into()),
            (_, None) => Tz::UTC,
        };
        window_limit(kind, capacity, unit, zone).map_err(|e| e.to_string())
    }
}

/// A name fit for an error message: at most 64 characters of it.
fn cut(text: &str) -> String {
    text.chars().take(MAX_ZONE).collect()
}

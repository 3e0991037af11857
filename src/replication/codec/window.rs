//! The wire form of a window limit's algorithm (envelope version 5): written
//! only for window keys, so nodes that predate windows skip just those.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DecodeError;
use crate::limiter::{Algorithm, Tz, Unit};

/// Longest zone name accepted (the longest IANA name is about 30 bytes).
const MAX_ZONE: usize = 64;

const FIXED: u8 = 1;
const CALENDAR: u8 = 2;
const SLIDING: u8 = 3;

const UNITS: [Unit; 7] = [
    Unit::Second,
    Unit::Minute,
    Unit::Hour,
    Unit::Day,
    Unit::Week,
    Unit::Month,
    Unit::Year,
];

/// A window algorithm as carried on the topic: kind, unit, and the zone's IANA name.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct WireAlgorithm {
    pub(super) kind: u8,
    pub(super) unit: u8,
    pub(super) time_zone: String,
}

impl WireAlgorithm {
    /// The wire form of a window algorithm; `None` for a token bucket.
    pub(super) fn of(algorithm: Algorithm) -> Option<Self> {
        let (kind, unit, time_zone) = match algorithm {
            Algorithm::TokenBucket => return None,
            Algorithm::FixedWindow(unit) => (FIXED, unit, String::new()),
            Algorithm::SlidingWindow(unit) => (SLIDING, unit, String::new()),
            Algorithm::Calendar(unit, tz) => (CALENDAR, unit, tz.name().to_string()),
        };
        let unit = UNITS.iter().position(|u| *u == unit).unwrap_or(0) as u8;
        Some(Self {
            kind,
            unit,
            time_zone,
        })
    }

    /// The algorithm, if it is one this node knows.
    pub(super) fn algorithm(&self) -> Result<Algorithm, DecodeError> {
        let bad = |why: &str| DecodeError::Limit(format!("window algorithm: {why}"));
        let unit = *UNITS
            .get(usize::from(self.unit))
            .ok_or_else(|| bad("unknown unit"))?;
        match self.kind {
            FIXED if self.time_zone.is_empty() => Ok(Algorithm::FixedWindow(unit)),
            SLIDING if self.time_zone.is_empty() => Ok(Algorithm::SlidingWindow(unit)),
            CALENDAR if self.time_zone.len() <= MAX_ZONE => Tz::from_str(&self.time_zone)
                .map(|tz| Algorithm::Calendar(unit, tz))
                .map_err(|_| bad("unknown time zone")),
            _ => Err(bad("unknown kind")),
        }
    }
}

//! The algorithm a configured limit names (`algorithm`, `time_zone`, in the
//! rules file and in the RLS YAML alike) and the node-wide defaults for
//! limits that name none, turned into a [`Limit`].

use std::num::NonZeroU32;
use std::str::FromStr;

use crate::limiter::{Algorithm, Limit, LimitError, Tz, Unit};

/// An algorithm as written, before its unit and zone are known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AlgorithmKind {
    /// Tokens refilled evenly (the default).
    #[default]
    TokenBucket,
    /// Requests per window aligned on the epoch, as envoyproxy/ratelimit counts.
    FixedWindow,
    /// Fixed windows with the previous one's count weighted in.
    SlidingWindow,
    /// Requests per local calendar day, week, month or year.
    Calendar,
}

impl AlgorithmKind {
    /// Every algorithm as written in a file.
    pub const NAMES: &'static str = "token_bucket, fixed_window, sliding_window, calendar";

    /// Parses a name with `_` or `-` between words, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().replace('-', "_").as_str() {
            "token_bucket" => Self::TokenBucket,
            "fixed_window" => Self::FixedWindow,
            "sliding_window" => Self::SlidingWindow,
            "calendar" => Self::Calendar,
            _ => return None,
        })
    }

    /// The name as written in a file.
    pub fn name(self) -> &'static str {
        match self {
            Self::TokenBucket => "token_bucket",
            Self::FixedWindow => "fixed_window",
            Self::SlidingWindow => "sliding_window",
            Self::Calendar => "calendar",
        }
    }

    /// The kind of `algorithm`.
    pub fn of(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::TokenBucket => Self::TokenBucket,
            Algorithm::FixedWindow(_) => Self::FixedWindow,
            Algorithm::SlidingWindow(_) => Self::SlidingWindow,
            Algorithm::Calendar(..) => Self::Calendar,
        }
    }
}

/// What a limit that names no algorithm or no zone gets (node settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlgorithmDefaults {
    /// For RLS descriptor limits that name no algorithm (`--rls-algorithm`).
    pub rls: AlgorithmKind,
    /// For calendar windows that name no zone (`--time-zone`).
    pub time_zone: Tz,
}

impl Default for AlgorithmDefaults {
    fn default() -> Self {
        Self {
            rls: AlgorithmKind::TokenBucket,
            time_zone: Tz::UTC,
        }
    }
}

/// A named IANA time zone (`America/New_York`, `UTC`); `None` if unknown.
pub fn parse_zone(text: &str) -> Option<Tz> {
    Tz::from_str(text).ok()
}

/// The window limit of `capacity` requests per `unit` under `kind` (not a
/// token bucket), calendar windows in `time_zone`.
pub fn window_limit(
    kind: AlgorithmKind,
    capacity: NonZeroU32,
    unit: Unit,
    time_zone: Tz,
) -> Result<Limit, LimitError> {
    let algorithm = match kind {
        AlgorithmKind::TokenBucket => Algorithm::TokenBucket,
        AlgorithmKind::FixedWindow => Algorithm::FixedWindow(unit),
        AlgorithmKind::SlidingWindow => Algorithm::SlidingWindow(unit),
        AlgorithmKind::Calendar => Algorithm::Calendar(unit, time_zone),
    };
    Limit::windowed(capacity, algorithm)
}

#[cfg(test)]
#[path = "algorithm_tests.rs"]
mod tests;

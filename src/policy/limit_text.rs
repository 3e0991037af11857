//! A limit as written — a rules-file table or an admin API body — checked
//! once for both: `capacity` with `refill_per_sec` (a token bucket), or
//! `capacity` with `algorithm`, `window` and `time_zone` (a window). Each
//! format reads its own syntax into a [`LimitText`]; every mistake in the
//! values is refused here, naming its field, in the same words for both.

use std::num::NonZeroU32;

use super::algorithm::{parse_zone, window_limit, AlgorithmKind};
use super::RulesError;
use crate::limiter::rate::{RateText, RATE_HINT};
use crate::limiter::{Limit, Tz, Unit};

/// One field as written: absent, of a type it cannot have, or a value.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Written<T> {
    /// Not given (a JSON `null` counts as not given).
    #[default]
    Absent,
    /// Given, of the wrong type (or a number out of range).
    WrongType,
    /// Given, of the right type.
    Value(T),
}

impl<T> Written<T> {
    /// Whether the field was given at all.
    pub fn is_given(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// A limit's fields as written, before they are checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LimitText<'a> {
    /// Tokens a bucket holds, or requests a window admits.
    pub capacity: Written<u64>,
    /// A bucket's refill rate.
    pub refill_per_sec: Written<RateText>,
    /// `token_bucket`, `fixed_window`, `sliding_window` or `calendar`.
    pub algorithm: Written<&'a str>,
    /// A window's unit: `second` … `year`.
    pub window: Written<&'a str>,
    /// A calendar window's IANA zone.
    pub time_zone: Written<&'a str>,
}

const TOKENS: &str = "a whole number of tokens, at least 1";
const REQUESTS: &str = "a whole number of requests, at least 1";

impl LimitText<'_> {
    /// The limit written, calendar windows that name no `time_zone` in
    /// `zone` (the node's `--time-zone`); `None` if it names no limit at all
    /// (none of `capacity`, `refill_per_sec`, `algorithm`). Errors name
    /// `place` (`rule "x"`, empty for an admin body) and the field.
    pub fn limit(&self, place: &str, zone: Tz) -> Result<Option<Limit>, RulesError> {
        match self.kind(place)? {
            AlgorithmKind::TokenBucket => self.bucket(place),
            kind => self.windowed(place, kind, zone).map(Some),
        }
    }

    /// The algorithm named; refuses `window` or `time_zone` without a window one.
    fn kind(&self, place: &str) -> Result<AlgorithmKind, RulesError> {
        let kind = match text(&self.algorithm, place, "algorithm")? {
            None => AlgorithmKind::TokenBucket,
            Some(text) => AlgorithmKind::parse(text).ok_or_else(|| {
                let why = format!("`{text}` is not one of {}", AlgorithmKind::NAMES);
                RulesError::at(place, "algorithm", why)
            })?,
        };
        if kind == AlgorithmKind::TokenBucket {
            for (field, given) in [
                ("window", self.window.is_given()),
                ("time_zone", self.time_zone.is_given()),
            ] {
                if given {
                    return Err(RulesError::at(
                        place,
                        field,
                        "only with a window algorithm (fixed_window, sliding_window, calendar)",
                    ));
                }
            }
        }
        Ok(kind)
    }

    /// `capacity` and `refill_per_sec`, both or neither.
    fn bucket(&self, place: &str) -> Result<Option<Limit>, RulesError> {
        let (capacity, rate) = match (&self.capacity, &self.refill_per_sec) {
            (Written::Absent, Written::Absent) => return Ok(None),
            (_, Written::Absent) => {
                let why = "required with capacity";
                return Err(RulesError::at(place, "refill_per_sec", why));
            }
            (Written::Absent, _) => {
                let why = "required with refill_per_sec";
                return Err(RulesError::at(place, "capacity", why));
            }
            (capacity, rate) => (capacity, rate),
        };
        let capacity =
            positive(capacity).ok_or_else(|| RulesError::at(place, "capacity", TOKENS))?;
        let Written::Value(rate) = rate else {
            return Err(RulesError::at(place, "refill_per_sec", RATE_HINT));
        };
        let interval = rate
            .interval()
            .map_err(|e| RulesError::at(place, "refill_per_sec", e))?;
        Limit::new(capacity, interval)
            .map(Some)
            .map_err(|e| RulesError::at(place, "refill_per_sec", e))
    }

    /// `capacity` requests per `window` under `kind`, calendar windows in
    /// `time_zone` or else `zone`.
    fn windowed(&self, place: &str, kind: AlgorithmKind, zone: Tz) -> Result<Limit, RulesError> {
        if self.refill_per_sec.is_given() {
            let why = "a window has no refill rate; give capacity and window";
            return Err(RulesError::at(place, "refill_per_sec", why));
        }
        let capacity = match &self.capacity {
            Written::Absent => {
                return Err(RulesError::at(place, "capacity", "required with algorithm"))
            }
            given => positive(given).ok_or_else(|| RulesError::at(place, "capacity", REQUESTS))?,
        };
        let unit = text(&self.window, place, "window")?
            .ok_or_else(|| RulesError::at(place, "window", format!("required: {}", Unit::NAMES)))?;
        let unit = Unit::parse(unit).ok_or_else(|| {
            let why = format!("`{unit}` is not one of {}", Unit::NAMES);
            RulesError::at(place, "window", why)
        })?;
        if self.time_zone.is_given() && kind != AlgorithmKind::Calendar {
            let why = "only with algorithm = \"calendar\"";
            return Err(RulesError::at(place, "time_zone", why));
        }
        let zone = match text(&self.time_zone, place, "time_zone")? {
            None => zone,
            Some(name) => parse_zone(name).ok_or_else(|| {
                let why = format!("`{name}` is not an IANA time zone such as America/New_York");
                RulesError::at(place, "time_zone", why)
            })?,
        };
        window_limit(kind, capacity, unit, zone).map_err(|e| RulesError::at(place, "window", e))
    }
}

/// A string field's text, if given.
fn text<'a>(
    field: &Written<&'a str>,
    place: &str,
    name: &str,
) -> Result<Option<&'a str>, RulesError> {
    match field {
        Written::Absent => Ok(None),
        Written::Value(text) => Ok(Some(text)),
        Written::WrongType => Err(RulesError::at(place, name, "must be a string")),
    }
}

/// A capacity from 1 to `u32::MAX`.
fn positive(capacity: &Written<u64>) -> Option<NonZeroU32> {
    match capacity {
        Written::Value(n) => u32::try_from(*n).ok().and_then(NonZeroU32::new),
        Written::Absent | Written::WrongType => None,
    }
}

#[cfg(test)]
#[path = "limit_text_tests.rs"]
mod tests;

//! A rules-file limit that names an algorithm: `algorithm`, `window` and
//! `time_zone` beside `capacity`, each refused naming its field.

use std::num::NonZeroU32;

use toml::{Table, Value};

use super::{take_str, RulesError};
use crate::limiter::{Limit, Tz, Unit};
use crate::policy::algorithm::{parse_zone, window_limit, AlgorithmKind};

/// The algorithm a limit table names; token bucket if none. Takes
/// `algorithm`, and refuses `window` or `time_zone` without a window algorithm.
pub(super) fn take_kind(table: &mut Table, place: &str) -> Result<AlgorithmKind, RulesError> {
    let kind = match take_str(table, place, "algorithm")? {
        None => AlgorithmKind::TokenBucket,
        Some(text) => AlgorithmKind::parse(&text).ok_or_else(|| {
            RulesError::at(
                place,
                "algorithm",
                format!("`{text}` is not one of {}", AlgorithmKind::NAMES),
            )
        })?,
    };
    if kind == AlgorithmKind::TokenBucket {
        for field in ["window", "time_zone"] {
            if table.contains_key(field) {
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

/// `capacity` requests per `window` under `kind`, calendar windows in
/// `time_zone` or else `zone` (the node's `--time-zone`).
pub(super) fn take_window(
    table: &mut Table,
    place: &str,
    kind: AlgorithmKind,
    zone: Tz,
) -> Result<Limit, RulesError> {
    if table.remove("refill_per_sec").is_some() {
        return Err(RulesError::at(
            place,
            "refill_per_sec",
            "a window has no refill rate; give capacity and window",
        ));
    }
    let capacity = match table.remove("capacity") {
        None => return Err(RulesError::at(place, "capacity", "required with algorithm")),
        Some(value) => value
            .as_integer()
            .and_then(|c| u32::try_from(c).ok())
            .and_then(NonZeroU32::new)
            .ok_or_else(|| {
                RulesError::at(place, "capacity", "a whole number of requests, at least 1")
            })?,
    };
    let unit = take_str(table, place, "window")?
        .ok_or_else(|| RulesError::at(place, "window", format!("required: {}", Unit::NAMES)))?;
    let unit = Unit::parse(&unit).ok_or_else(|| {
        RulesError::at(
            place,
            "window",
            format!("`{unit}` is not one of {}", Unit::NAMES),
        )
    })?;
    let zone = match table.remove("time_zone") {
        None => zone,
        Some(_) if kind != AlgorithmKind::Calendar => {
            return Err(RulesError::at(
                place,
                "time_zone",
                "only with algorithm = \"calendar\"",
            ))
        }
        Some(Value::String(name)) => parse_zone(&name).ok_or_else(|| {
            RulesError::at(
                place,
                "time_zone",
                format!("`{name}` is not an IANA time zone such as America/New_York"),
            )
        })?,
        Some(_) => return Err(RulesError::at(place, "time_zone", "must be a string")),
    };
    window_limit(kind, capacity, unit, zone)
        .map_err(|e| RulesError::at(place, "window", e.to_string()))
}

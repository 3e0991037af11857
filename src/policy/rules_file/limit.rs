//! A rules-file limit table read into a [`LimitText`] — `capacity` and
//! `refill_per_sec`, or `capacity`, `algorithm`, `window` and `time_zone` —
//! and checked there, as the admin API's bodies are.

use serde::Deserialize;
use toml::{Table, Value};

use super::RulesError;
use crate::limiter::rate::RateText;
use crate::limiter::{Limit, Tz};
use crate::policy::limit_text::{LimitText, Written};

/// The limit a table names (its fields taken out of it), calendar windows
/// that name no `time_zone` in `zone` (the node's `--time-zone`); `None`
/// if it names none.
pub(super) fn take_limit(
    table: &mut Table,
    place: &str,
    zone: Tz,
) -> Result<Option<Limit>, RulesError> {
    let [algorithm, window, time_zone] =
        ["algorithm", "window", "time_zone"].map(|field| table.remove(field));
    let text = LimitText {
        capacity: written(table.remove("capacity"), |v| {
            v.as_integer().and_then(|c| u64::try_from(c).ok())
        }),
        refill_per_sec: written(table.remove("refill_per_sec"), |v| {
            RateText::deserialize(v).ok()
        }),
        algorithm: string(algorithm.as_ref()),
        window: string(window.as_ref()),
        time_zone: string(time_zone.as_ref()),
    };
    text.limit(place, zone)
}

fn written<T>(value: Option<Value>, read: impl FnOnce(Value) -> Option<T>) -> Written<T> {
    match value.map(read) {
        None => Written::Absent,
        Some(None) => Written::WrongType,
        Some(Some(value)) => Written::Value(value),
    }
}

fn string(value: Option<&Value>) -> Written<&str> {
    match value {
        None => Written::Absent,
        Some(Value::String(text)) => Written::Value(text),
        Some(_) => Written::WrongType,
    }
}

//! Window algorithms: where a limit's window starts and ends. A fixed window
//! is aligned on the Unix epoch as envoyproxy/ratelimit aligns it (`start =
//! now − now mod length`); a calendar window is a local day, week, month or
//! year in an IANA time zone. The current calendar period's bounds are cached
//! per thread, so a decision does no time-zone arithmetic and no allocation.

use std::cell::Cell;
use std::time::Duration;

use chrono::{Datelike, Days, LocalResult, Months, NaiveDate, TimeZone};
pub use chrono_tz::Tz;

use super::stamp::Stamp;

const SEC: u64 = 1_000_000_000;
const DAY: u64 = 86_400;

/// A window's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    /// Every unit as written in a file.
    pub const NAMES: &'static str = "second, minute, hour, day, week, month, year";

    /// Parses a unit in any case, as envoyproxy/ratelimit does.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "second" => Self::Second,
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }

    /// Its fixed length; a month is 30 days and a year 365, as in envoyproxy/ratelimit.
    pub fn length(self) -> Duration {
        Duration::from_secs(match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => DAY,
            Self::Week => 7 * DAY,
            Self::Month => 30 * DAY,
            Self::Year => 365 * DAY,
        })
    }

    /// Whether it is a calendar unit (day, week, month or year).
    pub fn is_calendar(self) -> bool {
        matches!(self, Self::Day | Self::Week | Self::Month | Self::Year)
    }

    /// The name as written in a file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

/// How a limit counts: a token bucket or a window of requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Tokens refilled evenly (the default).
    #[default]
    TokenBucket,
    /// `capacity` requests per window of the unit's fixed length, aligned on the epoch.
    FixedWindow(Unit),
    /// As a fixed window, with the previous window's count weighted by how
    /// much of it the last `length` still covers: `prev × (1 − elapsed/W) + current`.
    SlidingWindow(Unit),
    /// `capacity` requests per local calendar day, week (from Monday), month or year.
    Calendar(Unit, Tz),
}

impl Algorithm {
    /// Whether the limit counts requests in windows (no gradual refill).
    pub fn is_window(&self) -> bool {
        !matches!(self, Self::TokenBucket)
    }

    /// The end of the window holding `at` (`None` for a token bucket).
    pub fn window_end(&self, at: Stamp) -> Option<Stamp> {
        match *self {
            Self::TokenBucket => None,
            Self::FixedWindow(unit) | Self::SlidingWindow(unit) => Some(fixed_bounds(unit, at).1),
            Self::Calendar(unit, tz) => Some(calendar_bounds(unit, tz, at).1),
        }
    }

    /// The starts of the window holding `at` and of the one before it
    /// (`None` for a token bucket).
    pub fn window_and_previous(&self, at: Stamp) -> Option<(Stamp, Stamp)> {
        let start = self.window_start(at)?;
        let before = Stamp::from_unix_nanos(start.as_unix_nanos().saturating_sub(1));
        Some((start, self.window_start(before).unwrap_or(start)))
    }

    /// The start of the window holding `at` (`None` for a token bucket).
    pub fn window_start(&self, at: Stamp) -> Option<Stamp> {
        match *self {
            Self::TokenBucket => None,
            Self::FixedWindow(unit) | Self::SlidingWindow(unit) => Some(fixed_bounds(unit, at).0),
            Self::Calendar(unit, tz) => Some(calendar_bounds(unit, tz, at).0),
        }
    }

    /// Whether `later` falls in a later window than `earlier`.
    pub fn is_later_window(&self, earlier: Stamp, later: Stamp) -> bool {
        self.window_end(earlier).is_some_and(|end| later >= end)
    }

    /// The length of a sliding window (`None` for the others).
    pub fn sliding(&self) -> Option<Duration> {
        match *self {
            Self::SlidingWindow(unit) => Some(unit.length()),
            _ => None,
        }
    }

    /// The longest a window's spending counts: the fixed length (two for a
    /// sliding window, whose previous window still counts), or a calendar
    /// period with a daylight-saving hour added (a zone's offset changes at
    /// most once in a day).
    pub fn longest(&self) -> Option<Duration> {
        match *self {
            Self::TokenBucket => None,
            Self::FixedWindow(unit) => Some(unit.length()),
            Self::SlidingWindow(unit) => Some(unit.length() * 2),
            Self::Calendar(unit, _) => {
                let days = match unit {
                    Unit::Week => 7,
                    Unit::Month => 31,
                    Unit::Year => 366,
                    _ => 1,
                };
                Some(Duration::from_secs(days * DAY + 3600))
            }
        }
    }
}

fn fixed_bounds(unit: Unit, at: Stamp) -> (Stamp, Stamp) {
    let length = unit.length().as_secs() * SEC;
    let nanos = at.as_unix_nanos();
    let start = nanos - nanos % length;
    (
        Stamp::from_unix_nanos(start),
        Stamp::from_unix_nanos(start.saturating_add(length)),
    )
}

/// A calendar period's bounds, as nanoseconds since the epoch.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Period {
    unit: Unit,
    tz: Tz,
    start: u64,
    end: u64,
}

/// Periods kept per thread: a node runs few distinct calendar limits.
const CACHED: usize = 4;

thread_local! {
    static PERIODS: Cell<[Option<Period>; CACHED]> = const { Cell::new([None; CACHED]) };
}

fn calendar_bounds(unit: Unit, tz: Tz, at: Stamp) -> (Stamp, Stamp) {
    let nanos = at.as_unix_nanos();
    let cached = PERIODS.with(Cell::get);
    let hit = cached
        .iter()
        .flatten()
        .find(|p| p.unit == unit && p.tz == tz && p.start <= nanos && nanos < p.end);
    let period = match hit {
        Some(period) => *period,
        None => {
            let (start, end) = compute_calendar(unit, tz, nanos);
            let period = Period {
                unit,
                tz,
                start,
                end,
            };
            // The newest first; the oldest falls off.
            let mut next = [Some(period); CACHED];
            next[1..].copy_from_slice(&cached[..CACHED - 1]);
            PERIODS.with(|p| p.set(next));
            period
        }
    };
    (
        Stamp::from_unix_nanos(period.start),
        Stamp::from_unix_nanos(period.end),
    )
}

/// The local period holding `nanos`, from the zone's rules (cold path).
fn compute_calendar(unit: Unit, tz: Tz, nanos: u64) -> (u64, u64) {
    let local = tz.timestamp_nanos(i64::try_from(nanos).unwrap_or(i64::MAX));
    let date = local.date_naive();
    let start = match unit {
        Unit::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
        Unit::Month => date.with_day(1).unwrap_or(date),
        Unit::Year => date.with_ordinal(1).unwrap_or(date),
        _ => date,
    };
    let end = match unit {
        Unit::Week => start + Days::new(7),
        Unit::Month => start + Months::new(1),
        Unit::Year => start + Months::new(12),
        _ => start + Days::new(1),
    };
    (midnight(tz, start), midnight(tz, end))
}

/// The first instant of `date` in `tz`: local midnight, or where a
/// daylight-saving jump skips midnight, the first local time that exists.
fn midnight(tz: Tz, date: NaiveDate) -> u64 {
    let mut time = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..96 {
        match tz.from_local_datetime(&time) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                let nanos = t.timestamp_nanos_opt().unwrap_or(0);
                return u64::try_from(nanos).unwrap_or(0);
            }
            LocalResult::None => time += chrono::Duration::minutes(15),
        }
    }
    0
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;

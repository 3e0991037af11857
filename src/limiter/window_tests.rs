//! Tests of window bounds: epoch-aligned fixed windows, and calendar periods
//! across daylight saving, month lengths, leap years and week starts.

use super::*;
use chrono_tz::{America, Europe, UTC};

const SEC: u64 = 1_000_000_000;

fn at_secs(secs: u64) -> Stamp {
    Stamp::from_unix_nanos(secs * SEC)
}

/// An RFC 3339 instant as a stamp.
fn at(text: &str) -> Stamp {
    let t = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    Stamp::from_unix_nanos(t.timestamp_nanos_opt().unwrap() as u64)
}

fn bounds(algorithm: Algorithm, instant: &str) -> (Stamp, Stamp) {
    let t = at(instant);
    (
        algorithm.window_start(t).unwrap(),
        algorithm.window_end(t).unwrap(),
    )
}

fn hours(a: Stamp, b: Stamp) -> u64 {
    b.saturating_since(a) / (3600 * SEC)
}

#[test]
fn fixed_windows_start_at_now_minus_now_mod_length_as_upstream() {
    let minute = Algorithm::FixedWindow(Unit::Minute);
    // 1_700_000_030 mod 60 = 50.
    let t = at_secs(1_700_000_030);
    assert_eq!(minute.window_start(t), Some(at_secs(1_699_999_980)));
    assert_eq!(minute.window_end(t), Some(at_secs(1_700_000_040)));
    // The end belongs to the next window.
    assert_eq!(
        minute.window_start(at_secs(1_700_000_040)),
        Some(at_secs(1_700_000_040))
    );
    let month = Algorithm::FixedWindow(Unit::Month);
    let start = month.window_start(t).unwrap().as_unix_nanos() / SEC;
    assert_eq!(
        start % (30 * 86_400),
        0,
        "a month is 30 days from the epoch"
    );
}

#[test]
fn a_later_window_is_told_by_the_end_of_the_earlier_one() {
    let second = Algorithm::FixedWindow(Unit::Second);
    let t = at_secs(100);
    assert!(!second.is_later_window(t, Stamp::from_unix_nanos(101 * SEC - 1)));
    assert!(second.is_later_window(t, at_secs(101)));
    assert!(
        !second.is_later_window(at_secs(101), t),
        "an earlier instant is not later"
    );
    assert!(!Algorithm::TokenBucket.is_later_window(t, at_secs(1000)));
}

#[test]
fn a_calendar_month_starts_at_local_midnight_on_the_first() {
    let month = Algorithm::Calendar(Unit::Month, America::New_York);
    let (start, end) = bounds(month, "2026-01-31T23:59:50-05:00");
    assert_eq!(start, at("2026-01-01T00:00:00-05:00"));
    assert_eq!(end, at("2026-02-01T00:00:00-05:00"));
    // Already February in UTC, still January in New York.
    let (_, utc_end) = bounds(
        Algorithm::Calendar(Unit::Month, UTC),
        "2026-02-01T04:00:00Z",
    );
    assert_eq!(utc_end, at("2026-03-01T00:00:00Z"));
}

#[test]
fn month_lengths_follow_the_calendar_with_leap_years() {
    let month = Algorithm::Calendar(Unit::Month, UTC);
    let days = |instant| {
        let (s, e) = bounds(month, instant);
        hours(s, e) / 24
    };
    assert_eq!(days("2024-02-10T00:00:00Z"), 29, "2024 is a leap year");
    assert_eq!(days("2026-02-10T00:00:00Z"), 28);
    assert_eq!(days("2026-04-30T23:59:59Z"), 30);
    assert_eq!(days("2026-12-31T12:00:00Z"), 31);
    let year = Algorithm::Calendar(Unit::Year, UTC);
    let (s, e) = bounds(year, "2024-06-01T00:00:00Z");
    assert_eq!(hours(s, e) / 24, 366);
    let (s, e) = bounds(year, "2026-06-01T00:00:00Z");
    assert_eq!((s, hours(s, e) / 24), (at("2026-01-01T00:00:00Z"), 365));
}

#[test]
fn daylight_saving_days_last_23_and_25_hours() {
    let day = Algorithm::Calendar(Unit::Day, America::New_York);
    let (s, e) = bounds(day, "2026-03-08T12:00:00-04:00");
    assert_eq!((s, hours(s, e)), (at("2026-03-08T00:00:00-05:00"), 23));
    let (s, e) = bounds(day, "2026-11-01T12:00:00-05:00");
    assert_eq!((s, hours(s, e)), (at("2026-11-01T00:00:00-04:00"), 25));
    // The month of the change has one hour less than its 31 days.
    let month = Algorithm::Calendar(Unit::Month, America::New_York);
    let (s, e) = bounds(month, "2026-03-15T00:00:00-04:00");
    assert_eq!(hours(s, e), 31 * 24 - 1);
}

#[test]
fn a_day_whose_midnight_is_skipped_starts_at_the_first_local_time() {
    // Brazil moved its clocks from 00:00 to 01:00 on 2018-11-04.
    let day = Algorithm::Calendar(Unit::Day, America::Sao_Paulo);
    let (s, _) = bounds(day, "2018-11-04T12:00:00-02:00");
    assert_eq!(s, at("2018-11-04T01:00:00-02:00"));
}

#[test]
fn weeks_start_on_monday_at_local_midnight() {
    let week = Algorithm::Calendar(Unit::Week, Europe::Berlin);
    // Saturday 2026-12-05: the week began on Monday 2026-11-30.
    let (s, e) = bounds(week, "2026-12-05T10:00:00+01:00");
    assert_eq!(s, at("2026-11-30T00:00:00+01:00"));
    assert_eq!(e, at("2026-12-07T00:00:00+01:00"));
    // A Monday's own midnight begins its week.
    let (s, _) = bounds(week, "2026-12-07T00:00:00+01:00");
    assert_eq!(s, at("2026-12-07T00:00:00+01:00"));
}

#[test]
fn cached_periods_agree_with_fresh_arithmetic_across_zones() {
    let zones = [
        UTC,
        America::New_York,
        Europe::Berlin,
        America::Sao_Paulo,
        Tz::Asia__Kolkata,
    ];
    let units = [Unit::Day, Unit::Week, Unit::Month, Unit::Year];
    // More zone×unit pairs than the cache holds, visited twice, so both
    // hits and evictions are checked against the uncached computation.
    for round in 0..2 {
        for (i, tz) in zones.iter().enumerate() {
            for unit in units {
                let t = 1_780_000_000 * SEC + (i as u64 + round) * 7_777 * SEC;
                let algorithm = Algorithm::Calendar(unit, *tz);
                let (start, end) = compute_calendar(unit, *tz, t);
                assert_eq!(
                    algorithm
                        .window_start(Stamp::from_unix_nanos(t))
                        .unwrap()
                        .as_unix_nanos(),
                    start
                );
                assert_eq!(
                    algorithm
                        .window_end(Stamp::from_unix_nanos(t))
                        .unwrap()
                        .as_unix_nanos(),
                    end
                );
            }
        }
    }
}

#[test]
fn units_parse_in_any_case_and_only_day_and_longer_are_calendar() {
    assert_eq!(Unit::parse("MONTH"), Some(Unit::Month));
    assert_eq!(Unit::parse("fortnight"), None);
    assert!(Unit::Day.is_calendar() && !Unit::Hour.is_calendar());
}

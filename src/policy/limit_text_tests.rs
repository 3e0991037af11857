//! Unit tests of `limit_text`: what each set of fields makes, and each
//! mistake refused naming its field (the rules file's own tests cover the
//! TOML side, the admin API's the JSON side).

use std::time::Duration;

use chrono_tz::Europe;

use super::*;
use crate::limiter::Algorithm;

fn window(algorithm: &'static str, unit: &'static str) -> LimitText<'static> {
    LimitText {
        capacity: Written::Value(10),
        algorithm: Written::Value(algorithm),
        window: Written::Value(unit),
        ..LimitText::default()
    }
}

fn field_of(text: &LimitText) -> String {
    text.limit("", Tz::UTC).unwrap_err().field
}

#[test]
fn a_bucket_or_a_window_or_nothing() {
    let bucket = LimitText {
        capacity: Written::Value(5),
        refill_per_sec: Written::Value(RateText::Text("1/2".into())),
        ..LimitText::default()
    };
    let limit = bucket.limit("", Tz::UTC).unwrap().unwrap();
    assert_eq!(limit.algorithm(), Algorithm::TokenBucket);
    assert_eq!(limit.interval(), Duration::from_secs(2));
    let fixed = window("fixed_window", "minute").limit("", Tz::UTC);
    assert_eq!(
        fixed.unwrap().unwrap().algorithm(),
        Algorithm::FixedWindow(Unit::Minute)
    );
    // No zone named: the node's.
    let day = window("calendar", "day").limit("", Europe::Paris);
    assert_eq!(
        day.unwrap().unwrap().algorithm(),
        Algorithm::Calendar(Unit::Day, Europe::Paris)
    );
    let named = LimitText {
        time_zone: Written::Value("Europe/Berlin"),
        ..window("calendar", "week")
    };
    assert_eq!(
        named.limit("", Europe::Paris).unwrap().unwrap().algorithm(),
        Algorithm::Calendar(Unit::Week, Europe::Berlin)
    );
    assert_eq!(LimitText::default().limit("", Tz::UTC), Ok(None));
}

#[test]
fn each_mistake_names_its_field() {
    let cases = [
        (window("leaky_bucket", "day"), "algorithm"),
        (window("calendar", "hour"), "window"),
        (window("fixed_window", "fortnight"), "window"),
        (
            LimitText {
                window: Written::Absent,
                ..window("fixed_window", "")
            },
            "window",
        ),
        (
            LimitText {
                time_zone: Written::Value("Mars/Olympus"),
                ..window("calendar", "day")
            },
            "time_zone",
        ),
        (
            LimitText {
                time_zone: Written::Value("UTC"),
                ..window("fixed_window", "day")
            },
            "time_zone",
        ),
        (
            LimitText {
                refill_per_sec: Written::Value(RateText::Integer(1)),
                ..window("sliding_window", "second")
            },
            "refill_per_sec",
        ),
        (
            LimitText {
                capacity: Written::Value(0),
                ..window("fixed_window", "second")
            },
            "capacity",
        ),
        (
            LimitText {
                algorithm: Written::WrongType,
                ..window("", "day")
            },
            "algorithm",
        ),
        (
            LimitText {
                capacity: Written::Value(5),
                refill_per_sec: Written::Value(RateText::Integer(1)),
                window: Written::Value("day"),
                ..LimitText::default()
            },
            "window",
        ),
        (
            LimitText {
                capacity: Written::Value(u64::from(u32::MAX) + 1),
                refill_per_sec: Written::Value(RateText::Integer(1)),
                ..LimitText::default()
            },
            "capacity",
        ),
    ];
    for (text, field) in cases {
        assert_eq!(field_of(&text), field, "{text:?}");
    }
}

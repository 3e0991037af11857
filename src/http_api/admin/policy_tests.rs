//! Unit tests of `policy`: the admin API's limit bodies, read with the
//! rules file's checks (the same limits, the same refusals).

use chrono_tz::{America, Europe};

use super::*;
use crate::limiter::{Algorithm, Unit};
use crate::policy::rules_file::parse_in;
use crate::policy::RuleLimit;

fn limit(body: &str, zone: Tz) -> Result<Limit, ApiError> {
    let mut scratch = Vec::new();
    parse_body::<LimitBody>(body.as_bytes(), &mut scratch)?.limit(zone)
}

fn refused_field(body: &str) -> String {
    match limit(body, Tz::UTC) {
        Err(ApiError::InvalidField { field, .. }) => field,
        other => panic!("{body}: {other:?}"),
    }
}

/// The limit a rules-file rule with these TOML fields makes.
fn from_file(fields: &str, zone: Tz) -> Limit {
    let text = format!("[[rules]]\nname = \"r\"\nkey = \"user\"\n{fields}");
    match parse_in(&text, zone).unwrap().rules()[0].limit {
        RuleLimit::Fixed(limit) => limit,
        RuleLimit::UserPlan => panic!("a fixed limit"),
    }
}

#[test]
fn a_body_names_the_same_limits_as_the_rules_file() {
    let cases = [
        (
            r#"{"capacity":5,"refill_per_sec":"1/2"}"#,
            "capacity = 5\nrefill_per_sec = \"1/2\"",
        ),
        (
            r#"{"capacity":100,"algorithm":"fixed_window","window":"hour"}"#,
            "capacity = 100\nalgorithm = \"fixed_window\"\nwindow = \"hour\"",
        ),
        (
            r#"{"capacity":9,"algorithm":"sliding-window","window":"Minute","time_zone":null}"#,
            "capacity = 9\nalgorithm = \"sliding-window\"\nwindow = \"Minute\"",
        ),
        (
            r#"{"capacity":30,"algorithm":"calendar","window":"month","time_zone":"Europe/Paris"}"#,
            "capacity = 30\nalgorithm = \"calendar\"\nwindow = \"month\"\ntime_zone = \"Europe/Paris\"",
        ),
        (
            r#"{"capacity":30,"algorithm":"calendar","window":"day"}"#,
            "capacity = 30\nalgorithm = \"calendar\"\nwindow = \"day\"",
        ),
    ];
    for (body, fields) in cases {
        let zone = America::Chicago;
        assert_eq!(
            limit(body, zone).unwrap(),
            from_file(fields, zone),
            "{body}"
        );
    }
    let day = limit(
        r#"{"capacity":3,"algorithm":"calendar","window":"day"}"#,
        Europe::Oslo,
    );
    assert_eq!(
        day.unwrap().algorithm(),
        Algorithm::Calendar(Unit::Day, Europe::Oslo),
        "no zone named: the node's --time-zone"
    );
}

#[test]
fn each_mistake_in_a_body_names_its_field() {
    for (body, field) in [
        (
            r#"{"capacity":5,"algorithm":"leaky","window":"day"}"#,
            "algorithm",
        ),
        (
            r#"{"capacity":5,"algorithm":7,"window":"day"}"#,
            "algorithm",
        ),
        (r#"{"capacity":5,"algorithm":"fixed_window"}"#, "window"),
        (
            r#"{"capacity":5,"algorithm":"calendar","window":"hour"}"#,
            "window",
        ),
        (
            r#"{"capacity":5,"algorithm":"calendar","window":"day","time_zone":"Mars/Olympus"}"#,
            "time_zone",
        ),
        (
            r#"{"capacity":5,"algorithm":"fixed_window","window":"day","time_zone":"UTC"}"#,
            "time_zone",
        ),
        (
            r#"{"capacity":5,"algorithm":"fixed_window","window":"day","refill_per_sec":1}"#,
            "refill_per_sec",
        ),
        (
            r#"{"capacity":5,"refill_per_sec":1,"window":"day"}"#,
            "window",
        ),
        (r#"{"algorithm":"fixed_window","window":"day"}"#, "capacity"),
        (r#"{"capacity":5}"#, "refill_per_sec"),
        (r#"{}"#, "capacity"),
        (r#"{"capacity":5,"refill_per_sec":1,"burst":2}"#, "burst"),
    ] {
        assert_eq!(refused_field(body), field, "{body}");
    }
}

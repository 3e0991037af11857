//! Unit tests of `codec`.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono_tz::America::New_York;

use super::*;
use crate::limiter::{Algorithm, Tz, Unit};

fn limit(capacity: u32, interval_ms: u64) -> Limit {
    Limit::new(
        NonZeroU32::new(capacity).unwrap(),
        Duration::from_millis(interval_ms),
    )
    .unwrap()
}

#[test]
fn every_change_survives_encoding() {
    let changes = [
        PolicyChange::SetPlan {
            name: "pro".into(),
            limit: limit(100, 10),
        },
        PolicyChange::DeletePlan { name: "pro".into() },
        PolicyChange::ClearPlan { name: "pro".into() },
        PolicyChange::SetUserPlan {
            user: "alice".into(),
            plan: "pro".into(),
        },
        PolicyChange::ClearUserPlan {
            user: "alice".into(),
        },
        PolicyChange::SetRuleLimit {
            rule: "global".into(),
            limit: limit(1000, 1),
        },
        PolicyChange::ClearRuleLimit {
            rule: "global".into(),
        },
        PolicyChange::SetApiKey {
            hash: KeyHash::of("k1"),
            owner: KeyOwner {
                user: "alice".into(),
                plan: Some("pro".into()),
            },
        },
        PolicyChange::SetApiKey {
            hash: KeyHash::of("k2"),
            owner: KeyOwner {
                user: "bob".into(),
                plan: None,
            },
        },
        PolicyChange::ClearApiKey {
            hash: KeyHash::of("k1"),
        },
    ];
    let version = Version { at: 7, by: 9 };
    for change in changes {
        let (key, value) = encode(&change, version);
        assert_eq!(decode(&key, Some(&value)), Ok((change, version)));
    }
}

#[test]
fn a_record_without_a_value_clears_at_version_zero() {
    let cleared = PolicyChange::ClearUserPlan {
        user: "alice".into(),
    };
    assert_eq!(
        decode("user/alice", None),
        Ok((cleared, Version::default()))
    );
    assert!(decode(
        "plan/pro",
        Some(br#"{"v":1,"cleared":true,"deleted":true}"#)
    )
    .is_err());
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let key_of_k1 = format!("apikey/{}", KeyHash::of("k1"));
    let upper = key_of_k1
        .to_uppercase()
        .replace("APIKEY/SHA256:", "apikey/sha256:");
    let cases: &[(&str, Option<&[u8]>)] = &[
        ("plan/pro", Some(&b"{"[..])),
        ("plan/pro", Some(b"{\"v\":9}")),
        (
            "plan/pro",
            Some(b"{\"v\":1,\"limit\":{\"capacity\":0,\"interval_ns\":1}}"),
        ),
        ("plan/pro", Some(b"{\"v\":1,\"evil\":1}")),
        ("user/alice", Some(b"{\"v\":1}")),
        ("nokind", None),
        ("color/red", None),
        ("plan/has space", None),
        ("user/", None),
        ("user/alice", Some(b"{\"v\":1,\"deleted\":true}")),
        (
            "user/alice",
            Some(b"{\"v\":1,\"plan\":\"pro\",\"user\":\"x\"}"),
        ),
        ("apikey/sha256:00", None),
        (&upper, None),
        (&upper, Some(b"{\"v\":1,\"user\":\"a\"}")),
        (&key_of_k1, Some(b"{\"v\":1}")),
        (&key_of_k1, Some(b"{\"v\":1,\"plan\":\"pro\"}")),
        (&key_of_k1, Some(b"{\"v\":1,\"user\":\"\"}")),
        (
            &key_of_k1,
            Some(b"{\"v\":1,\"user\":\"a\",\"plan\":\"no spaces\"}"),
        ),
        (
            &key_of_k1,
            Some(b"{\"v\":1,\"user\":\"a\",\"limit\":{\"capacity\":1,\"interval_ns\":1}}"),
        ),
    ];
    for &(key, value) in cases {
        let error = decode(key, value).unwrap_err().0;
        assert!(!error.contains(&key_of_k1[14..]), "{error}");
    }
}

fn window(capacity: u32, algorithm: Algorithm) -> Limit {
    Limit::windowed(NonZeroU32::new(capacity).unwrap(), algorithm).unwrap()
}

#[test]
fn every_algorithm_survives_encoding() {
    let limits = [
        (limit(5, 1000), 1),
        (window(10, Algorithm::FixedWindow(Unit::Minute)), 2),
        (window(10, Algorithm::SlidingWindow(Unit::Second)), 2),
        (window(30, Algorithm::Calendar(Unit::Month, New_York)), 2),
        (window(30, Algorithm::Calendar(Unit::Day, Tz::UTC)), 2),
    ];
    let version = Version { at: 7, by: 9 };
    for (limit, v) in limits {
        for change in [
            PolicyChange::SetPlan {
                name: "pro".into(),
                limit,
            },
            PolicyChange::SetRuleLimit {
                rule: "daily".into(),
                limit,
            },
        ] {
            let (key, value) = encode(&change, version);
            let json: serde_json::Value = serde_json::from_slice(&value).unwrap();
            assert_eq!(json["v"], v, "{json}");
            assert_eq!(decode(&key, Some(&value)), Ok((change, version)));
        }
    }
}

#[test]
fn a_calendar_is_written_with_its_zone_in_the_rules_file_spelling() {
    let change = PolicyChange::SetRuleLimit {
        rule: "daily".into(),
        limit: window(30, Algorithm::Calendar(Unit::Day, New_York)),
    };
    let (_, value) = encode(&change, Version { at: 7, by: 9 });
    assert_eq!(
        std::str::from_utf8(&value).unwrap(),
        r#"{"v":2,"limit":{"capacity":30,"algorithm":"calendar","window":"day","time_zone":"America/New_York"},"at":7,"by":9}"#
    );
}

#[test]
fn a_bucket_is_written_and_read_as_nodes_before_windows_did() {
    let old = br#"{"v":1,"limit":{"capacity":5,"interval_ns":1000000000},"at":3,"by":4}"#;
    let change = PolicyChange::SetRuleLimit {
        rule: "global".into(),
        limit: limit(5, 1000),
    };
    let version = Version { at: 3, by: 4 };
    assert_eq!(
        decode("rule/global", Some(old)),
        Ok((change.clone(), version))
    );
    assert_eq!(encode(&change, version).1, old.to_vec());
}

#[test]
fn unknown_algorithms_units_and_zones_are_refused() {
    let long_zone = format!("Europe/{}", "x".repeat(100));
    let values = [
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"leaky_bucket","window":"day"}}"#.to_string(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"token_bucket","window":"day"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"Fixed-Window","window":"day"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"fixed_window","window":"fortnight"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"fixed_window"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"calendar","window":"day","time_zone":"Mars/Olympus"}}"#.into(),
        format!(r#"{{"v":2,"limit":{{"capacity":5,"algorithm":"calendar","window":"day","time_zone":"{long_zone}"}}}}"#),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"calendar","window":"day"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"calendar","window":"hour","time_zone":"UTC"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"fixed_window","window":"day","time_zone":"UTC"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"fixed_window","window":"day","interval_ns":1}}"#.into(),
        r#"{"v":2,"limit":{"capacity":0,"algorithm":"fixed_window","window":"day"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"window":"day"}}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"interval_ns":1}}"#.into(),
        r#"{"v":1,"limit":{"capacity":5,"algorithm":"fixed_window","window":"day"}}"#.into(),
        r#"{"v":3,"limit":{"capacity":5,"algorithm":"fixed_window","window":"day"}}"#.into(),
        r#"{"v":2,"cleared":true}"#.into(),
        r#"{"v":2,"limit":{"capacity":5,"algorithm":"fixed_window","window":"day","burst":1}}"#.into(),
    ];
    for value in &values {
        assert!(
            decode("rule/daily", Some(value.as_bytes())).is_err(),
            "{value}"
        );
        assert!(
            decode("plan/pro", Some(value.as_bytes())).is_err(),
            "{value}"
        );
    }
    let error = decode("plan/pro", Some(values[6].as_bytes()))
        .unwrap_err()
        .0;
    assert!(error.len() < 200, "the name is cut: {error}");
}

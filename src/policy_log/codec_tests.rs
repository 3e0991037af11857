//! Unit tests of `codec`.

use super::*;

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

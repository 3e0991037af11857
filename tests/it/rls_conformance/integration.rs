//! upstream's `test/integration/integration_test.go` scenarios, in our words,
//! against the binary serving upstream's runtime directory
//! (`test/integration/runtime/current/ratelimit/config/`) over gRPC. What
//! counts runs on a fixed-window node started at a window's start; the
//! reload scenario counts nothing and runs on the default node.

use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;

use super::harness::{config_dir, fixed_window_flags, request, upstream, Rls, Status};
use crate::helpers::eventually;

const RUNTIME: &str = "test/integration/runtime/current/ratelimit";

/// The node serving a copy of upstream's runtime `config/` directory.
pub fn runtime_node(name: &str, extra: &[&str]) -> (Rls, std::path::PathBuf) {
    let files = ["another.yaml", "basic.yaml", "share_threshold.yaml"]
        .map(|f| format!("{RUNTIME}/config/{f}"));
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let dir = config_dir(name, &files);
    (
        Rls::start(&format!("integration_test.go {name}"), &dir, extra),
        dir,
    )
}

/// What upstream expects of one status: code, limit, remaining; the reset is
/// within the unit (a window ends, or a bucket refills a token, within it).
#[track_caller]
fn expect(step: &str, status: &Status, code: Code, limit: (u32, Unit), remaining: u32) {
    let seen = (status.code, status.limit(), status.remaining);
    let want = (code, Some((limit.0, limit.1 as i32)), remaining);
    assert_eq!(seen, want, "integration_test.go {step}: {status:?}");
    let window = match limit.1 {
        Unit::Second => 1,
        Unit::Minute => 60,
        Unit::Hour => 3600,
        _ => 86_400,
    };
    let reset = status
        .reset
        .unwrap_or_else(|| panic!("{step}: no duration_until_reset"));
    assert!(
        (0..=window).contains(&reset),
        "{step}: reset {reset} s past the window"
    );
}

/// `testBasicBaseConfig`, its first steps: an unknown domain, then one hit
/// on `basic` (50 a second), counted under `basic.key1`.
pub fn first_steps(rls: &Rls) {
    let unknown = rls.one("TestBasicConfig foo", "foo", &[("hello", "world")], 1);
    assert_eq!(
        (unknown.code, unknown.limit, unknown.remaining),
        (Code::Ok, None, 0)
    );
    let basic = rls.one("TestBasicConfig key1", "basic", &[("key1", "foo")], 1);
    expect(
        "TestBasicConfig key1",
        &basic,
        Code::Ok,
        (50, Unit::Second),
        49,
    );
    assert_eq!(
        rls.counted("basic.key1", "ok"),
        1.0,
        "total_hits of basic.key1"
    );
}

/// `testBasicBaseConfig`, the 25 hits on 20 a minute: the 21st and later are
/// over, each counted.
pub fn twenty_five_hits(rls: &Rls) {
    for i in 0..25u32 {
        let step = format!("TestBasicConfig key2 hit {}", i + 1);
        let status = rls.one(&step, "another", &[("key2", "12345")], 1);
        let (code, remaining) = if i >= 20 {
            (Code::OverLimit, 0)
        } else {
            (Code::Ok, 19 - i)
        };
        expect(&step, &status, code, (20, Unit::Minute), remaining);
    }
    assert_eq!(
        rls.counted("another.key2", "over_limit"),
        5.0,
        "over_limit of another.key2"
    );
}

/// `testBasicBaseConfig`, two descriptors at once, 15 times: key3 (10 an
/// hour) refuses from the 11th. Decided all or nothing, key2 keeps what it
/// had then: upstream's `STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT` answer.
fn two_descriptors(rls: &Rls) {
    for i in 0..15u32 {
        let step = format!("TestBasicConfig key2+key3 hit {}", i + 1);
        let both: [&[(&str, &str)]; 2] = [&[("key2", "67890")], &[("key3", "67890")]];
        let response = rls.call(&step, request("another", &both, 1));
        let (key2, key3) = (
            Status::of(&response.statuses[0]),
            Status::of(&response.statuses[1]),
        );
        let over = i >= 10;
        let overall = if over { Code::OverLimit } else { Code::Ok };
        assert_eq!(response.overall_code, overall as i32, "{step}");
        expect(
            &step,
            &key2,
            Code::Ok,
            (20, Unit::Minute),
            if over { 10 } else { 19 - i },
        );
        let key3_code = if over { Code::OverLimit } else { Code::Ok };
        expect(
            &step,
            &key3,
            key3_code,
            (10, Unit::Hour),
            if over { 0 } else { 9 - i },
        );
    }
}

/// `testBasicBaseConfig`'s last step: a window's reset counts down.
fn reset_counts_down(rls: &Rls) {
    let ask = || rls.one("TestBasicConfig key4", "another", &[("key4", "durTest")], 1);
    let first = ask().reset.expect("duration_until_reset");
    eventually(
        Duration::from_secs(5),
        "key4's reset below the first",
        || ask().reset.expect("duration_until_reset") < first,
    );
}

/// `TestBasicConfig` (each of its backends: the answers are the same).
#[test]
fn integration_basic_config_counts_as_upstream_in_fixed_windows() {
    let (rls, _dir) = runtime_node("basic", &fixed_window_flags());
    first_steps(&rls);
    twenty_five_hits(&rls);
    two_descriptors(&rls);
    reset_counts_down(&rls);
}

/// `TestShareThreshold`: every value under a shared wildcard spends one
/// window; without `share_threshold` each value has its own.
pub fn share_threshold(rls: &Rls) {
    let domain = "share-threshold-test";
    for i in 1..=10 {
        let step = format!("TestShareThreshold files/a.pdf hit {i}");
        let status = rls.one(&step, domain, &[("files", "files/a.pdf")], 1);
        expect(&step, &status, Code::Ok, (10, Unit::Hour), 10 - i);
    }
    let step = "TestShareThreshold files/b.csv";
    let other = rls.one(step, domain, &[("files", "files/b.csv")], 1);
    expect(step, &other, Code::OverLimit, (10, Unit::Hour), 0);
    for i in 0..10 {
        let value = format!("files_no_share/{i}-unique");
        let step = format!("TestShareThreshold {value}");
        let status = rls.one(&step, domain, &[("files_no_share", &value)], 1);
        expect(&step, &status, Code::Ok, (10, Unit::Hour), 9);
    }
}

#[test]
fn integration_share_threshold_shares_one_window() {
    let (rls, _dir) = runtime_node("share", &fixed_window_flags());
    share_threshold(&rls);
}

/// `TestBasicReloadConfig`: a file added to the directory is loaded (its
/// domain answers), and its removal is a reload too.
#[test]
fn integration_reload_picks_up_a_file_added_and_removed() {
    let (rls, dir) = runtime_node("reload", &[]);
    let applied = || {
        rls.node
            .metric(r#"limiter_rls_config_reloads_total{outcome="applied"}"#)
    };
    let block = rls.one(
        "TestBasicReloadConfig block",
        "reload",
        &[("block", "foo")],
        1,
    );
    assert_eq!(
        (block.code, block.limit),
        (Code::Ok, None),
        "before the reload"
    );
    let before = applied();
    std::fs::copy(
        upstream(&format!("{RUNTIME}/reload.yaml")),
        dir.join("reload.yaml"),
    )
    .unwrap();
    eventually(Duration::from_secs(10), "reload.yaml loaded", || {
        applied() > before
    });
    let key1 = rls.one(
        "TestBasicReloadConfig key1",
        "reload",
        &[("key1", "foo")],
        1,
    );
    assert_eq!(
        (key1.code, key1.limit(), key1.remaining),
        (Code::Ok, Some((50, Unit::Second as i32)), 49)
    );
    let loaded = applied();
    std::fs::remove_file(dir.join("reload.yaml")).unwrap();
    eventually(
        Duration::from_secs(10),
        "reload.yaml's removal loaded",
        || applied() > loaded,
    );
    let gone = rls.one(
        "TestBasicReloadConfig after",
        "reload",
        &[("key1", "foo")],
        1,
    );
    assert_eq!(gone.limit, None, "reload's domain is gone with its file");
}

//! envoyproxy/ratelimit's global settings over real gRPC: `SHADOW_MODE`
//! (`--rls-shadow`), `QUOTA_MODE` (`--rls-quota-mode`) and
//! `LIMIT_RESPONSE_HEADERS_ENABLED` with its header names
//! (`--rls-response-headers`, `--rls-limit-header`, …).

use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitResponse;

use super::{ok, request, Rls};

const ALICE: &[(&str, &str)] = &[("user", "alice")];
const LOGIN: &[(&str, &str)] = &[("path", "/login/form")];
const ACME: &[(&str, &str)] = &[("tenant", "acme")];

/// The answer's headers to add, as (name, value).
fn headers(response: &RateLimitResponse) -> Vec<(String, String)> {
    let headers = response.response_headers_to_add.iter();
    headers.map(|h| (h.key.clone(), h.value.clone())).collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let pairs = expected.iter();
    pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn global_shadow_mode_answers_ok_with_the_over_status_and_counts_it() {
    let mut rls = Rls::start("rls-global-shadow", &["--rls-shadow"]);
    for remaining in [2, 1, 0] {
        assert_eq!(rls.ask(&[ALICE]).statuses[0].limit_remaining, remaining);
    }
    let over = rls.ask(&[ALICE, ACME]);
    assert!(ok(&over), "never OVER_LIMIT overall");
    assert_eq!(over.statuses[0].code, Code::OverLimit as i32);
    assert_eq!(over.statuses[0].limit_remaining, 0);
    assert_eq!(over.statuses[1].code, Code::Ok as i32);
    assert!(over.response_headers_to_add.is_empty(), "no retry-after");
    let calls = |outcome: &str| {
        let series = format!(r#"limiter_rls_requests_total{{outcome="{outcome}"}}"#);
        rls.node.metric(&series)
    };
    assert_eq!(calls("shadow_limited"), 1.0);
    assert_eq!(calls("ok"), 3.0);
    assert_eq!(calls("over_limit"), 0.0);
    let alice = r#"limiter_rls_descriptors_total{descriptor="edge.user",outcome="over_limit"}"#;
    assert_eq!(rls.node.metric(alice), 1.0);
    // As a refused call, it took nothing from acme's limit.
    assert_eq!(rls.ask(&[ACME]).statuses[0].limit_remaining, 99);
}

#[test]
fn global_quota_mode_refuses_only_when_every_descriptor_is_over() {
    let mut rls = Rls::start("rls-global-quota", &["--rls-quota-mode"]);
    for _ in 0..2 {
        assert!(ok(&rls.ask(&[ALICE, LOGIN])));
    }
    // The login limit (2 an hour) is over; alice's (3 a minute) passes, and is taken.
    let one_over = rls.ask(&[ALICE, LOGIN]);
    assert!(ok(&one_over));
    assert_eq!(one_over.statuses[0].code, Code::Ok as i32);
    assert_eq!(one_over.statuses[0].limit_remaining, 0);
    assert_eq!(one_over.statuses[1].code, Code::OverLimit as i32);
    let both_over = rls.ask(&[ALICE, LOGIN]);
    assert_eq!(both_over.overall_code, Code::OverLimit as i32);
    // A descriptor without a limit counts as a quota descriptor never over,
    // as upstream's QUOTA_MODE counts it.
    let with_nothing = rls.ask(&[ALICE, &[("nothing", "here")]]);
    assert!(ok(&with_nothing));
    assert_eq!(with_nothing.statuses[0].code, Code::OverLimit as i32);
    // A request's own limit is in quota mode too.
    let mut own = request("edge", &[ALICE, &[("user", "bob")]], 0);
    own.descriptors[0].limit = Some(
        envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::RateLimitOverride {
            requests_per_unit: 0,
            unit: 2,
        },
    );
    let own = rls.call(own).unwrap();
    assert!(ok(&own), "{own:?}");
    assert_eq!(own.statuses[0].code, Code::OverLimit as i32);
}

#[test]
fn global_quota_mode_holds_for_the_files_read_again() {
    let mut rls = Rls::start("rls-global-quota-reload", &["--rls-quota-mode"]);
    let file = rls.dir.join("edge.yaml");
    let changed = super::CONFIG.replace("requests_per_unit: 3", "requests_per_unit: 1");
    std::fs::write(&file, changed).unwrap();
    crate::helpers::eventually(
        Duration::from_secs(10),
        "the changed file in effect",
        || {
            let status = &rls.ask(&[&[("user", "probe")]]).statuses[0];
            status.current_limit.as_ref().unwrap().requests_per_unit == 1
        },
    );
    assert!(ok(&rls.ask(&[ALICE, ACME])));
    // alice (1 a minute now) is over, acme is not: a quota limit lets it pass.
    let one_over = rls.ask(&[ALICE, ACME]);
    assert!(ok(&one_over));
    assert_eq!(one_over.statuses[0].code, Code::OverLimit as i32);
    assert!(!ok(&rls.ask(&[ALICE])), "alone, every descriptor is over");
}

#[test]
fn response_headers_report_the_descriptor_nearest_its_limit() {
    let mut rls = Rls::start("rls-headers", &["--rls-response-headers"]);
    // alice: 3 a minute, refilled one every 20 s; acme: 100 an hour.
    let first = rls.ask(&[ACME, ALICE]);
    assert_eq!(
        headers(&first),
        pairs(&[
            ("RateLimit-Limit", "3"),
            ("RateLimit-Remaining", "2"),
            ("RateLimit-Reset", "20"),
        ])
    );
    rls.ask(&[ALICE]);
    rls.ask(&[ALICE]);
    let refused = rls.ask(&[ACME, ALICE]);
    assert!(!ok(&refused));
    let reset = refused.statuses[1].duration_until_reset.unwrap();
    let reset = (reset.seconds + i64::from(reset.nanos > 0)).to_string();
    assert_eq!(
        headers(&refused),
        pairs(&[
            ("RateLimit-Limit", "3"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", &reset),
            ("retry-after", &reset),
        ])
    );
    // No descriptor with a limit: no headers.
    assert!(rls
        .ask(&[&[("nothing", "here")]])
        .response_headers_to_add
        .is_empty());
}

#[test]
fn response_headers_in_fixed_windows_reset_at_the_window_end_under_their_names() {
    let flags = [
        "--rls-response-headers",
        "--rls-limit-header",
        "A-Ratelimit-Limit",
        "--rls-remaining-header",
        "A-Ratelimit-Remaining",
        "--rls-reset-header",
        "A-Ratelimit-Reset",
        "--rls-algorithm",
        "fixed-window",
    ];
    let mut rls = Rls::start("rls-headers-windows", &flags);
    // The test clock is 20 s into a minute: upstream's `60 - now % 60` is 40,
    // and 2 s later 38.
    let first = rls.ask(&[ALICE]);
    assert_eq!(
        headers(&first),
        pairs(&[
            ("A-Ratelimit-Limit", "3"),
            ("A-Ratelimit-Remaining", "2"),
            ("A-Ratelimit-Reset", "40"),
        ])
    );
    rls.node.clock.advance(Duration::from_millis(1_500));
    let later = rls.ask(&[ALICE]);
    assert_eq!(headers(&later)[2].1, "39", "38.5 s, rounded up");
}

#[test]
fn a_bad_header_name_refuses_the_start_naming_the_setting() {
    let out = crate::helpers::NodeProcess::command()
        .env("LIMITER_RLS_RESET_HEADER", "Reset Time")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let failure = String::from_utf8(out.stderr).unwrap();
    assert!(
        failure.contains("`rls-reset-header`")
            && failure.contains("LIMITER_RLS_RESET_HEADER")
            && failure.contains("not a valid header name"),
        "{failure}"
    );
}

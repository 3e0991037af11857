//! Unit tests of the answers: which descriptor the rate-limit headers report
//! (envoyproxy/ratelimit's choice), their values, and global shadow mode.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitResponse;

use super::{respond, Answers, HeaderNames};
use crate::policy::descriptors::{DescriptorLimit, DescriptorVerdict, LimitKind, Outcome, Unit};
use crate::telemetry::RlsOutcome;

/// A limit of `requests` a minute, in quota mode or not.
fn limit(requests: u32, quota_mode: bool) -> Arc<DescriptorLimit> {
    Arc::new(DescriptorLimit {
        path: "edge.k".into(),
        name: None,
        requests_per_unit: requests,
        unit: Unit::Minute,
        kind: LimitKind::of(requests, Unit::Minute).unwrap(),
        shadow: false,
        replaces: Vec::new(),
        detailed_metric: false,
        value_to_metric: false,
        quota_mode,
        metadata: None,
        overridden: false,
    })
}

fn verdict(outcome: Outcome, requests: u32, remaining: u64, reset_ms: u64) -> DescriptorVerdict {
    DescriptorVerdict {
        outcome,
        limit: (outcome != Outcome::NoLimit).then(|| limit(requests, false)),
        remaining,
        reset: Duration::from_millis(reset_ms),
    }
}

fn quota(mut v: DescriptorVerdict) -> DescriptorVerdict {
    let requests = v.limit.as_ref().unwrap().requests_per_unit;
    v.limit = Some(limit(requests, true));
    v
}

fn with_headers() -> Answers {
    Answers {
        shadow: false,
        headers: Some(HeaderNames::default()),
    }
}

/// The headers of an answer, as (name, value).
fn headers(response: &RateLimitResponse) -> Vec<(&str, &str)> {
    let headers = response.response_headers_to_add.iter();
    headers.map(|h| (&*h.key, &*h.value)).collect()
}

/// The limit, remaining and reset the headers report.
fn reported(passed: bool, verdicts: &[DescriptorVerdict]) -> Option<[String; 3]> {
    let (response, _) = respond(passed, verdicts, &with_headers());
    let headers = headers(&response);
    let value = |name: &str| {
        headers
            .iter()
            .find(|h| h.0 == name)
            .map(|h| h.1.to_string())
    };
    Some([
        value("RateLimit-Limit")?,
        value("RateLimit-Remaining")?,
        value("RateLimit-Reset")?,
    ])
}

#[test]
fn headers_report_the_descriptor_with_the_fewest_remaining_the_first_of_equals() {
    let verdicts = [
        verdict(Outcome::NoLimit, 0, 0, 0),
        verdict(Outcome::Ok, 10, 7, 1_500),
        verdict(Outcome::Ok, 20, 3, 59_001),
        verdict(Outcome::Ok, 30, 3, 1_000),
    ];
    // The reset in whole seconds, rounded up.
    assert_eq!(reported(true, &verdicts).unwrap(), ["20", "3", "60"]);
    let (response, outcome) = respond(true, &verdicts, &with_headers());
    assert!(matches!(outcome, RlsOutcome::Ok));
    assert_eq!(response.overall_code, Code::Ok as i32);
    assert_eq!(
        headers(&response),
        [
            ("RateLimit-Limit", "20"),
            ("RateLimit-Remaining", "3"),
            ("RateLimit-Reset", "60")
        ],
        "in upstream's order, no retry-after on OK"
    );
}

#[test]
fn headers_report_the_last_descriptor_over_a_limit_not_in_quota_mode() {
    let verdicts = [
        verdict(Outcome::OverLimit, 1, 0, 5_000),
        verdict(Outcome::Ok, 10, 0, 1_000),
        verdict(Outcome::OverLimit, 2, 0, 30_000),
        quota(verdict(Outcome::OverLimit, 3, 0, 7_000)),
    ];
    assert_eq!(reported(false, &verdicts).unwrap(), ["2", "0", "30"]);
    let (response, _) = respond(false, &verdicts, &with_headers());
    assert_eq!(headers(&response)[3], ("retry-after", "30"), "it stays");
    // A quota limit over is reported by the fewest remaining only: the first at 0.
    let verdicts = [
        verdict(Outcome::Ok, 10, 4, 1_000),
        quota(verdict(Outcome::OverLimit, 3, 0, 7_000)),
        verdict(Outcome::Ok, 5, 0, 9_000),
    ];
    assert_eq!(reported(true, &verdicts).unwrap(), ["3", "0", "7"]);
}

#[test]
fn no_headers_without_a_descriptor_with_a_limit_or_when_they_are_off() {
    let none = [verdict(Outcome::NoLimit, 0, 0, 0)];
    let (response, _) = respond(true, &none, &with_headers());
    assert!(response.response_headers_to_add.is_empty());
    let unlimited = [DescriptorVerdict {
        outcome: Outcome::Unlimited,
        limit: Some(limit(1, false)),
        remaining: u64::from(u32::MAX),
        reset: Duration::ZERO,
    }];
    assert_eq!(reported(true, &unlimited), None);
    let ok = [verdict(Outcome::Ok, 10, 7, 1_500)];
    let (response, _) = respond(true, &ok, &Answers::default());
    assert!(response.response_headers_to_add.is_empty());
    let over = [verdict(Outcome::OverLimit, 10, 0, 1_500)];
    let (response, outcome) = respond(false, &over, &Answers::default());
    assert_eq!(headers(&response), [("retry-after", "2")]);
    assert!(matches!(outcome, RlsOutcome::OverLimit));
}

#[test]
fn custom_header_names_carry_the_same_values() {
    let answers = Answers {
        shadow: false,
        headers: Some(HeaderNames {
            limit: "A-Ratelimit-Limit".into(),
            remaining: "A-Ratelimit-Remaining".into(),
            reset: "A-Ratelimit-Reset".into(),
        }),
    };
    let over = [
        verdict(Outcome::OverLimit, 10, 0, 58_000),
        verdict(Outcome::NoLimit, 0, 0, 0),
    ];
    let (response, _) = respond(false, &over, &answers);
    assert_eq!(
        headers(&response),
        [
            ("A-Ratelimit-Limit", "10"),
            ("A-Ratelimit-Remaining", "0"),
            ("A-Ratelimit-Reset", "58"),
            ("retry-after", "58")
        ]
    );
}

#[test]
fn global_shadow_mode_answers_ok_with_the_statuses_still_over() {
    let answers = Answers {
        shadow: true,
        headers: None,
    };
    let over = [
        verdict(Outcome::OverLimit, 10, 0, 5_000),
        verdict(Outcome::NoLimit, 0, 0, 0),
    ];
    let (response, outcome) = respond(false, &over, &answers);
    assert_eq!(response.overall_code, Code::Ok as i32);
    assert_eq!(response.statuses[0].code, Code::OverLimit as i32);
    assert_eq!(response.statuses[0].limit_remaining, 0);
    assert_eq!(response.statuses[1].code, Code::Ok as i32);
    assert!(matches!(outcome, RlsOutcome::ShadowLimited));
    assert!(
        response.response_headers_to_add.is_empty(),
        "no retry-after"
    );
    // A call within its limits is an ordinary OK.
    let ok = [verdict(Outcome::Ok, 10, 3, 5_000)];
    assert!(matches!(respond(true, &ok, &answers).1, RlsOutcome::Ok));
    // The headers are still computed: the call was over.
    let both = Answers {
        shadow: true,
        headers: Some(HeaderNames::default()),
    };
    let (response, _) = respond(false, &over, &both);
    assert_eq!(headers(&response)[1], ("RateLimit-Remaining", "0"));
    assert_eq!(response.response_headers_to_add.len(), 3);
}

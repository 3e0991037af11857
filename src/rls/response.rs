//! The answer to a decided call: one status per descriptor, the overall code
//! (never `OVER_LIMIT` under `--rls-shadow`, envoyproxy/ratelimit's
//! `SHADOW_MODE`), `retry-after` when it is `OVER_LIMIT`, and with
//! `--rls-response-headers` the rate-limit headers of the descriptor
//! envoyproxy/ratelimit reports (`LIMIT_RESPONSE_HEADERS_ENABLED`).

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::HeaderValue;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit as PbUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    Code, DescriptorStatus, RateLimit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitResponse;
use envoy_types::pb::google::protobuf::Duration as PbDuration;

use crate::policy::descriptors::{DescriptorLimit, DescriptorVerdict, Outcome, Unit};
use crate::telemetry::RlsOutcome;

/// How the service answers: node settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    /// Never `OVER_LIMIT` overall (`--rls-shadow`): the statuses still say
    /// which descriptors are over, and nothing over them is taken.
    pub shadow: bool,
    /// The rate-limit headers' names (`--rls-response-headers`); `None`: none are sent.
    pub headers: Option<HeaderNames>,
}

/// The names of the rate-limit headers, valid header names (the settings check them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderNames {
    /// The limit's `requests_per_unit` (`--rls-limit-header`).
    pub limit: String,
    /// Requests remaining (`--rls-remaining-header`).
    pub remaining: String,
    /// Whole seconds until the limit resets (`--rls-reset-header`).
    pub reset: String,
}

impl Default for HeaderNames {
    /// envoyproxy/ratelimit's defaults.
    fn default() -> Self {
        Self {
            limit: "RateLimit-Limit".into(),
            remaining: "RateLimit-Remaining".into(),
            reset: "RateLimit-Reset".into(),
        }
    }
}

/// The answer to a call decided as `passed` with `verdicts`, and its outcome to count.
pub(super) fn respond(
    passed: bool,
    verdicts: &[DescriptorVerdict],
    answers: &Answers,
) -> (RateLimitResponse, RlsOutcome) {
    let statuses: Vec<DescriptorStatus> = verdicts.iter().map(status).collect();
    // Empty, without allocating, unless headers are asked for or the call is refused.
    let mut headers = Vec::new();
    if let Some(names) = &answers.headers {
        if let Some(reported) = reported(&statuses, verdicts) {
            headers.extend(rate_limit_headers(names, reported));
        }
    }
    let outcome = match (passed, answers.shadow) {
        (true, _) => RlsOutcome::Ok,
        (false, true) => RlsOutcome::ShadowLimited,
        (false, false) => {
            // Envoy adds these to its 429: when the refused descriptors allow again.
            headers.push(header("retry-after", retry_after(verdicts)));
            RlsOutcome::OverLimit
        }
    };
    let overall = match outcome {
        RlsOutcome::OverLimit => Code::OverLimit,
        _ => Code::Ok,
    };
    let response = RateLimitResponse {
        overall_code: overall as i32,
        statuses,
        response_headers_to_add: headers,
        ..Default::default()
    };
    (response, outcome)
}

/// Whole seconds until the refused descriptors allow again, at least 1.
fn retry_after(verdicts: &[DescriptorVerdict]) -> u64 {
    let wait = verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::OverLimit)
        .map(|v| v.reset)
        .max()
        .unwrap_or_default();
    whole_seconds(wait).max(1)
}

/// The status the rate-limit headers report, picked as envoyproxy/ratelimit
/// picks it: the last one over a limit not in quota mode; else the first with
/// the fewest requests remaining among those with a limit (and fewer than
/// 2³²−1 remaining); `None` when no status has a limit.
pub(super) fn reported<'s>(
    statuses: &'s [DescriptorStatus],
    verdicts: &[DescriptorVerdict],
) -> Option<&'s DescriptorStatus> {
    let mut fewest = u32::MAX;
    let mut reported = None;
    for (status, verdict) in statuses.iter().zip(verdicts) {
        if status.current_limit.is_some() && status.limit_remaining < fewest {
            reported = Some(status);
            fewest = status.limit_remaining;
        }
        let quota = verdict.limit.as_ref().is_some_and(|l| l.quota_mode);
        if status.code == Code::OverLimit as i32 && !quota {
            reported = Some(status);
            fewest = 0;
        }
    }
    reported
}

/// The three headers of `status`: its limit, what remains, and its
/// `duration_until_reset` in whole seconds (rounded up).
fn rate_limit_headers(names: &HeaderNames, status: &DescriptorStatus) -> [HeaderValue; 3] {
    let limit = status
        .current_limit
        .as_ref()
        .map_or(0, |l| l.requests_per_unit);
    let reset = status.duration_until_reset.as_ref().map_or(0, |d| {
        let seconds = u64::try_from(d.seconds).unwrap_or_default();
        seconds.saturating_add(u64::from(d.nanos > 0))
    });
    [
        header(&names.limit, limit),
        header(&names.remaining, status.limit_remaining),
        header(&names.reset, reset),
    ]
}

fn header(name: &str, value: impl ToString) -> HeaderValue {
    HeaderValue {
        key: name.into(),
        value: value.to_string(),
        ..Default::default()
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

fn status(verdict: &DescriptorVerdict) -> DescriptorStatus {
    let over = verdict.outcome == Outcome::OverLimit;
    // Over a limit (a shadow one too) nothing remains, as envoyproxy/ratelimit reports.
    let remaining = match verdict.outcome {
        Outcome::OverLimit | Outcome::ShadowOverLimit => 0,
        _ => u32::try_from(verdict.remaining).unwrap_or(u32::MAX),
    };
    DescriptorStatus {
        code: if over { Code::OverLimit } else { Code::Ok } as i32,
        current_limit: verdict
            .limit
            .as_deref()
            .filter(|_| verdict.outcome != Outcome::Unlimited)
            .map(current_limit),
        limit_remaining: remaining,
        duration_until_reset: verdict.limit.as_ref().map(|_| duration(verdict.reset)),
        ..Default::default()
    }
}

fn current_limit(limit: &DescriptorLimit) -> RateLimit {
    RateLimit {
        name: limit.name.as_deref().unwrap_or_default().to_string(),
        requests_per_unit: limit.requests_per_unit,
        unit: unit(limit.unit) as i32,
    }
}

fn unit(unit: Unit) -> PbUnit {
    match unit {
        Unit::Second => PbUnit::Second,
        Unit::Minute => PbUnit::Minute,
        Unit::Hour => PbUnit::Hour,
        Unit::Day => PbUnit::Day,
        Unit::Week => PbUnit::Week,
        Unit::Month => PbUnit::Month,
        Unit::Year => PbUnit::Year,
    }
}

fn duration(d: Duration) -> PbDuration {
    PbDuration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: d.subsec_nanos() as i32,
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;

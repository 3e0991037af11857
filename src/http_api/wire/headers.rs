//! The rate-limit headers every decision route answers with: `RateLimit-Policy`,
//! `RateLimit`, the `X-RateLimit-*` trio, on a refusal `Retry-After`, and
//! `RateLimit-Shadow` when a shadow rule would have refused.

use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::web::{Bytes, BytesMut};
use actix_web::HttpResponseBuilder;

use super::response::{ceil_secs, numbers, write_int};
use crate::policy::Verdict;

static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
static RATELIMIT_SHADOW: HeaderName = HeaderName::from_static("ratelimit-shadow");

/// `RateLimit-Policy: "RULE";q=CAPACITY;w=WINDOW` (window: seconds to refill
/// from empty), `RateLimit: "RULE";r=REMAINING;t=RESET`, the `X-RateLimit-*`
/// trio, and on a refusal `Retry-After`, all for the rule the verdict reports.
/// Every value is written into `buf` and split off it, so the headers share
/// the body's allocation.
pub fn insert_rate_headers(
    response: &mut HttpResponseBuilder,
    buf: &mut BytesMut,
    verdict: &Verdict,
) {
    let (remaining, reset, retry_after) = numbers(&verdict.decision);
    let reset_secs = ceil_secs(reset);
    let quoted_rule = |buf: &mut BytesMut| {
        buf.extend_from_slice(b"\"");
        buf.extend_from_slice(verdict.rule().as_bytes());
        buf.extend_from_slice(b"\"");
    };
    quoted_rule(buf);
    buf.extend_from_slice(b";q=");
    write_int(buf, u64::from(verdict.limit.capacity()));
    buf.extend_from_slice(b";w=");
    write_int(buf, ceil_secs(verdict.limit.policy_window()).max(1));
    let policy = header_value(buf.split().freeze());
    quoted_rule(buf);
    buf.extend_from_slice(b";r=");
    write_int(buf, remaining);
    buf.extend_from_slice(b";t=");
    write_int(buf, reset_secs);
    let ratelimit = header_value(buf.split().freeze());
    write_int(buf, remaining);
    let x_remaining = header_value(buf.split().freeze());
    write_int(buf, reset_secs);
    let x_reset = header_value(buf.split().freeze());
    write_int(buf, u64::from(verdict.limit.capacity()));
    let x_limit = header_value(buf.split().freeze());
    response
        .insert_header((RATELIMIT_POLICY.clone(), policy))
        .insert_header((RATELIMIT.clone(), ratelimit))
        .insert_header((X_LIMIT.clone(), x_limit))
        .insert_header((X_REMAINING.clone(), x_remaining))
        .insert_header((X_RESET.clone(), x_reset));
    if !verdict.decision.is_allowed() {
        // Whole seconds, rounded up, at least 1: a client that waits that long succeeds.
        write_int(buf, ceil_secs(retry_after).max(1));
        response.insert_header((RETRY_AFTER, header_value(buf.split().freeze())));
    }
    if let Some((rule, wait)) = verdict.shadow_limited() {
        // `"RULE";retry-after=SECONDS`: the refusal the shadow rule would have made.
        buf.extend_from_slice(b"\"");
        buf.extend_from_slice(rule.as_bytes());
        buf.extend_from_slice(b"\";retry-after=");
        write_int(buf, ceil_secs(wait).max(1));
        response.insert_header((RATELIMIT_SHADOW.clone(), header_value(buf.split().freeze())));
    }
}

fn header_value(bytes: Bytes) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes)
        .expect("written from digits, rule names and ASCII punctuation")
}

//! `POST /protected`: the hot path. Validates the user, asks the rules and
//! the store, and answers 200 or 429 with the rate-limit headers, all from memory.

use std::time::{Duration, Instant};

use actix_web::http::header::{ContentType, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

use super::error::{validate_id, validate_user_id, ApiError};
use super::AppState;
use crate::limiter::Decision;
use crate::policy::{Request, Verdict};

const USER_ID: &str = "x-user-id";
const TENANT_ID: &str = "x-tenant-id";
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Decides one request for the user named in `X-User-ID` (tenant in the
/// optional `X-Tenant-ID`), as route `/protected`, method `POST`.
pub async fn protected(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (user, tenant) = identify(&req).inspect_err(|e| state.telemetry.bad_request(e.code()))?;
    let request = Request {
        user,
        route: "/protected",
        method: "POST",
        tenant,
        ip: req.peer_addr().map(|a| a.ip()),
    };
    let started = Instant::now();
    let verdict = state
        .policy
        .check(&state.store, &request, 1, state.clock.now());
    state.telemetry.verdict(verdict.as_ref(), started.elapsed());
    Ok(respond(verdict.as_ref()))
}

fn identify(req: &HttpRequest) -> Result<(&str, Option<&str>), ApiError> {
    let mut values = req.headers().get_all(USER_ID);
    let value = values.next().ok_or(ApiError::MissingUserId)?;
    if values.next().is_some() {
        return Err(ApiError::MultipleUserIds);
    }
    let user = validate_user_id(value.as_bytes())?;
    let mut tenants = req.headers().get_all(TENANT_ID);
    let tenant = match tenants.next() {
        None => None,
        Some(_) if tenants.next().is_some() => {
            return Err(ApiError::field("X-Tenant-ID", "send at most one"))
        }
        Some(value) => Some(validate_id(
            "X-Tenant-ID",
            value
                .to_str()
                .map_err(|_| ApiError::field("X-Tenant-ID", "must be visible ASCII"))?,
        )?),
    };
    Ok((user, tenant))
}

/// Builds the 200 or 429 of `/protected`. Body and every per-request header
/// value are written into one buffer and split off it, so a response costs
/// one allocation of ours.
pub fn respond(verdict: Option<&Verdict>) -> HttpResponse {
    let mut buf = BytesMut::with_capacity(256);
    let status = match verdict.map(|v| v.decision) {
        None => {
            buf.extend_from_slice(b"{\"allowed\":true}");
            StatusCode::OK
        }
        Some(Decision::Allowed { remaining, .. }) => {
            write_json(&mut buf, b"{\"allowed\":true,\"remaining\":", remaining);
            StatusCode::OK
        }
        Some(Decision::Limited { retry_after, .. }) => {
            write_json(
                &mut buf,
                b"{\"error\":\"too_many_requests\",\"retry_after_ms\":",
                ceil_millis(retry_after),
            );
            StatusCode::TOO_MANY_REQUESTS
        }
    };
    let body = buf.split().freeze();
    let mut response = HttpResponse::build(status);
    response.insert_header(ContentType::json());
    if let Some(verdict) = verdict {
        insert_rate_headers(&mut response, &mut buf, verdict);
    }
    response.body(body)
}

/// The decision's remaining tokens, time to full, and wait (zero if allowed).
pub fn numbers(decision: &Decision) -> (u64, Duration, Duration) {
    match *decision {
        Decision::Allowed { remaining, reset } => (remaining, reset, Duration::ZERO),
        Decision::Limited {
            remaining,
            retry_after,
            reset,
        } => (remaining, reset, retry_after),
    }
}

/// `RateLimit-Policy: "RULE";q=CAPACITY;w=WINDOW` (window: seconds to refill
/// from empty), `RateLimit: "RULE";r=REMAINING;t=RESET`, the `X-RateLimit-*`
/// trio, and on a refusal `Retry-After`, all for the rule the verdict reports.
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
    write_int(buf, ceil_secs(verdict.limit.window()).max(1));
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
}

fn write_json(buf: &mut BytesMut, prefix: &[u8], n: u64) {
    buf.extend_from_slice(prefix);
    write_int(buf, n);
    buf.extend_from_slice(b"}");
}

fn write_int(buf: &mut BytesMut, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

pub(super) fn header_value(bytes: Bytes) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes)
        .expect("written from digits, rule names and ASCII punctuation")
}

pub(super) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

pub(super) fn ceil_millis(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_up_never_promises_too_early() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_nanos(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_millis(Duration::from_nanos(1_000_001)), 2);
        assert_eq!(ceil_millis(Duration::from_millis(700)), 700);
    }
}

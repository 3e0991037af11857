//! `POST /protected`: the hot path. Validates the user, asks the store, and
//! answers 200 or 429 with the rate-limit headers, all from memory.

use std::time::{Duration, Instant};

use actix_web::http::header::{ContentType, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};

use super::error::{validate_user_id, ApiError};
use super::AppState;
use crate::limiter::{Decision, Limit};

const USER_ID: &str = "x-user-id";
static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
static X_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
static X_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
static X_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// Header values that depend only on the limit, built once.
#[derive(Clone)]
pub struct PolicyHeaders {
    policy: HeaderValue,
    limit: HeaderValue,
}

impl PolicyHeaders {
    /// `RateLimit-Policy: "default";q=CAPACITY;w=WINDOW` (window: seconds to refill from empty).
    pub fn new(limit: &Limit) -> Self {
        let policy = format!(
            "\"default\";q={};w={}",
            limit.capacity(),
            ceil_secs(limit.window()).max(1)
        );
        Self {
            policy: HeaderValue::from_str(&policy)
                .expect("digits and quotes are valid header text"),
            limit: HeaderValue::from(limit.capacity()),
        }
    }
}

/// Decides one request for the user named in `X-User-ID`.
pub async fn protected(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_id(&req).inspect_err(|e| state.telemetry.bad_request(e.code()))?;
    let started = Instant::now();
    let decision = state.store.check(user, 1, state.clock.now());
    state.telemetry.decision(&decision, started.elapsed());
    Ok(respond(&state.policy_headers, decision))
}

fn user_id(req: &HttpRequest) -> Result<&str, ApiError> {
    let mut values = req.headers().get_all(USER_ID);
    let value = values.next().ok_or(ApiError::MissingUserId)?;
    if values.next().is_some() {
        return Err(ApiError::MultipleUserIds);
    }
    validate_user_id(value.as_bytes())
}

/// Builds the 200 or 429. Body and every per-request header value are written
/// into one buffer and split off it, so a response costs one allocation of ours.
pub fn respond(policy: &PolicyHeaders, decision: Decision) -> HttpResponse {
    let mut buf = BytesMut::with_capacity(192);
    let (status, remaining, reset, retry_after) = match decision {
        Decision::Allowed { remaining, reset } => {
            write_json(&mut buf, b"{\"allowed\":true,\"remaining\":", remaining);
            (StatusCode::OK, remaining, reset, None)
        }
        Decision::Limited {
            remaining,
            retry_after,
            reset,
        } => {
            let millis = ceil_millis(retry_after);
            write_json(
                &mut buf,
                b"{\"error\":\"too_many_requests\",\"retry_after_ms\":",
                millis,
            );
            (
                StatusCode::TOO_MANY_REQUESTS,
                remaining,
                reset,
                Some(retry_after),
            )
        }
    };
    let body = buf.split().freeze();
    let reset_secs = ceil_secs(reset);

    buf.extend_from_slice(b"\"default\";r=");
    write_int(&mut buf, remaining);
    buf.extend_from_slice(b";t=");
    write_int(&mut buf, reset_secs);
    let ratelimit = header_value(buf.split().freeze());
    write_int(&mut buf, remaining);
    let x_remaining = header_value(buf.split().freeze());
    write_int(&mut buf, reset_secs);
    let x_reset = header_value(buf.split().freeze());

    let mut response = HttpResponse::build(status);
    response
        .insert_header(ContentType::json())
        .insert_header((RATELIMIT_POLICY.clone(), policy.policy.clone()))
        .insert_header((RATELIMIT.clone(), ratelimit))
        .insert_header((X_LIMIT.clone(), policy.limit.clone()))
        .insert_header((X_REMAINING.clone(), x_remaining))
        .insert_header((X_RESET.clone(), x_reset));
    if let Some(retry_after) = retry_after {
        // Whole seconds, rounded up, at least 1: a client that waits that long succeeds.
        write_int(&mut buf, ceil_secs(retry_after).max(1));
        response.insert_header((RETRY_AFTER, header_value(buf.split().freeze())));
    }
    response.body(body)
}

fn write_json(buf: &mut BytesMut, prefix: &[u8], n: u64) {
    buf.extend_from_slice(prefix);
    write_int(buf, n);
    buf.extend_from_slice(b"}");
}

fn write_int(buf: &mut BytesMut, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn header_value(bytes: Bytes) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes).expect("written from digits and ASCII punctuation")
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn ceil_millis(d: Duration) -> u64 {
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

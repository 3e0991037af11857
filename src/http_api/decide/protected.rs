//! `POST /protected`: the hot path. Validates the user, asks the rules and
//! the store, and answers 200 or 429 with the rate-limit headers, all from memory.

use std::time::Instant;

use actix_web::http::header::{ContentType, HeaderName};
use actix_web::http::StatusCode;
use actix_web::web::{self, BytesMut};
use actix_web::{HttpRequest, HttpResponse};

use crate::http_api::wire::error::{validate_id, validate_user_id, ApiError};
use crate::http_api::wire::headers::insert_rate_headers;
use crate::http_api::wire::response::{ceil_millis, write_int};
use crate::http_api::AppState;
use crate::limiter::Decision;
use crate::policy::{Request, Verdict};
use crate::telemetry::traces::RequestSpan;

/// The header that names the user on `/protected`.
pub static USER_ID: HeaderName = HeaderName::from_static("x-user-id");
static TENANT_ID: HeaderName = HeaderName::from_static("x-tenant-id");

/// Decides one request for the user named in `X-User-ID` (tenant in the
/// optional `X-Tenant-ID`), as route `/protected`, method `POST`.
pub async fn protected(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state
        .decision
        .check(req.headers(), true, &state.telemetry)?;
    let (user, tenant) =
        identify(&req, &USER_ID).inspect_err(|e| state.telemetry.bad_request(e.code()))?;
    let request = Request {
        user,
        route: "/protected",
        method: "POST",
        tenant,
        ip: req.peer_addr().map(|a| a.ip()),
        plan: None,
    };
    Ok(decide(&state, &request, None))
}

/// Decides `request` at cost 1, records it, and answers 200 or 429: the one
/// decision path of the routes that describe a request by its headers.
/// With `span`, the decision is noted on it too.
pub(super) fn decide(
    state: &AppState,
    request: &Request<'_>,
    span: Option<&mut RequestSpan>,
) -> HttpResponse {
    let started = Instant::now();
    let now = state.clock.now();
    let verdict = state.policy.check(&state.store, request, 1, now);
    state.telemetry.verdict(verdict.as_ref(), started.elapsed());
    if let Some(span) = span {
        span.verdict(verdict.as_ref());
    }
    super::note(state, verdict.as_ref(), request, now);
    respond(verdict.as_ref())
}

/// The user (exactly one `user_header`, checked by [`validate_user_id`]) and
/// the optional tenant (at most one `X-Tenant-ID`).
pub(super) fn identify<'r>(
    req: &'r HttpRequest,
    user_header: &HeaderName,
) -> Result<(&'r str, Option<&'r str>), ApiError> {
    let mut values = req.headers().get_all(user_header);
    let value = values.next().ok_or(ApiError::MissingUserId)?;
    if values.next().is_some() {
        return Err(ApiError::MultipleUserIds);
    }
    let user = validate_user_id(value.as_bytes())?;
    let mut tenants = req.headers().get_all(&TENANT_ID);
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
            write_number_object(&mut buf, b"{\"allowed\":true,\"remaining\":", remaining);
            StatusCode::OK
        }
        Some(Decision::Limited { retry_after, .. }) => {
            write_number_object(
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

/// `PREFIX` N `}`: a body that ends in one number.
fn write_number_object(buf: &mut BytesMut, prefix: &[u8], n: u64) {
    buf.extend_from_slice(prefix);
    write_int(buf, n);
    buf.extend_from_slice(b"}");
}

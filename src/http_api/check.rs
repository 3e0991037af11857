//! `POST /v1/check`: the decision for services and gateways, from a JSON
//! description of the call, through the same rules as `/protected`.

use std::net::IpAddr;
use std::time::Instant;

use actix_web::http::header::ContentType;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::HttpResponse;
use serde_json::{Map, Value};

use super::error::{validate_id, ApiError};
use super::headers::insert_rate_headers;
use super::request::{parse_object, string_field};
use super::response::{ceil_millis, numbers};
use super::AppState;
use crate::limiter::{Request, Verdict};

/// Longest route accepted.
const MAX_ROUTE: usize = 512;

const FIELDS: [&str; 6] = ["user", "route", "method", "tenant", "ip", "cost"];

/// Decides `{"user", "route", "method", "tenant", "ip", "cost"}` (all but
/// `user` optional); 200 whether allowed or not, with the rate-limit headers.
pub async fn check(body: Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let body = parse_object(&body).inspect_err(|e| state.telemetry.bad_request(e.code()))?;
    let (request, cost) = request(&body).inspect_err(|e| state.telemetry.bad_request(e.code()))?;
    let started = Instant::now();
    let verdict = state
        .policy
        .check(&state.store, &request, cost, state.clock.now());
    state.telemetry.verdict(verdict.as_ref(), started.elapsed());
    if let Some(verdict) = verdict.as_ref().filter(|v| cost > v.limit.capacity()) {
        // Refused without taking anything; no wait would ever let it pass.
        let error = ApiError::field(
            "cost",
            format!(
                "{cost} tokens is more than rule `{}` can ever hold ({})",
                verdict.rule(),
                verdict.limit.capacity()
            ),
        );
        state.telemetry.bad_request(error.code());
        return Err(error);
    }
    Ok(respond(verdict.as_ref()))
}

/// The request and cost a body describes.
pub fn request(body: &Map<String, Value>) -> Result<(Request<'_>, u32), ApiError> {
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::field(
            unknown.as_str(),
            "unknown field; the fields are user, route, method, tenant, ip and cost",
        ));
    }
    let user = string_field(body, "user")?.ok_or_else(|| ApiError::field("user", "required"))?;
    let user = validate_id("user", user)?;
    let route = string_field(body, "route")?.unwrap_or("");
    if !route.is_empty()
        && (!route.starts_with('/')
            || route.len() > MAX_ROUTE
            || !route.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ApiError::field(
            "route",
            "a path starting with '/', at most 512 bytes of visible ASCII",
        ));
    }
    let method = string_field(body, "method")?.unwrap_or("");
    if method.len() > 32 || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::field(
            "method",
            "an HTTP method such as GET or POST",
        ));
    }
    let tenant = string_field(body, "tenant")?
        .map(|t| validate_id("tenant", t))
        .transpose()?;
    let ip = string_field(body, "ip")?
        .map(|ip| {
            ip.parse::<IpAddr>().map_err(|_| {
                ApiError::field("ip", format!("`{ip}` is not an IPv4 or IPv6 address"))
            })
        })
        .transpose()?;
    let cost = match body.get("cost") {
        None | Some(Value::Null) => 1,
        Some(value) => value
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .filter(|&c| c >= 1)
            .ok_or_else(|| {
                ApiError::field("cost", "a whole number of tokens from 1 to 4294967295")
            })?,
    };
    Ok((
        Request {
            user,
            route,
            method,
            tenant,
            ip,
        },
        cost,
    ))
}

/// `{"allowed","limit","remaining","reset_ms","retry_after_ms","rule"}`; the
/// numbers are those of the rule that limits soonest (`null` when no rule applies).
pub fn respond(verdict: Option<&Verdict>) -> HttpResponse {
    let body = match verdict {
        None => serde_json::json!({
            "allowed": true, "limit": null, "remaining": null,
            "reset_ms": 0, "retry_after_ms": 0, "rule": null,
        }),
        Some(verdict) => {
            let (remaining, reset, retry_after) = numbers(&verdict.decision);
            serde_json::json!({
                "allowed": verdict.decision.is_allowed(),
                "limit": verdict.limit.capacity(),
                "remaining": remaining,
                "reset_ms": ceil_millis(reset),
                "retry_after_ms": ceil_millis(retry_after),
                "rule": verdict.rule(),
            })
        }
    };
    let mut response = HttpResponse::Ok();
    response.insert_header(ContentType::json());
    if let Some(verdict) = verdict {
        insert_rate_headers(&mut response, &mut BytesMut::with_capacity(128), verdict);
    }
    response.body(body.to_string())
}

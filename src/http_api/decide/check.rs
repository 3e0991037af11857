//! `POST /v1/check`: the decision for services and gateways, from a JSON
//! description of the call, through the same rules as `/protected`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

use actix_web::http::header::ContentType;
use actix_web::web::{self, BytesMut};
use actix_web::HttpResponse;
use serde::Deserialize;

use crate::http_api::wire::body::JsonBody;
use crate::http_api::wire::error::{validate_id, ApiError};
use crate::http_api::wire::headers::insert_rate_headers;
use crate::http_api::wire::request::{parse_body, Body, Field};
use crate::http_api::wire::response::{ceil_millis, numbers, write_int, write_json};
use crate::http_api::wire::tokens::MayDecide;
use crate::http_api::AppState;
use crate::limiter::Stamp;
use crate::policy::{Request, Verdict};

/// Longest route accepted.
const MAX_ROUTE: usize = 512;

/// Decides `{"user", "route", "method", "tenant", "ip", "cost"}` (all but
/// `user` optional); 200 whether allowed or not, with the rate-limit headers.
pub async fn check(
    _: MayDecide,
    JsonBody(body): JsonBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let bad_request = |e: &ApiError| state.telemetry.bad_request(e.code());
    let mut scratch = Vec::new();
    let wire: CheckBody = parse_body(&body, &mut scratch).inspect_err(bad_request)?;
    let check = Check::try_from(&wire).inspect_err(bad_request)?;
    let verdict = decide(&state, &check, state.clock.now())?;
    Ok(respond(verdict.as_ref()))
}

/// Decides one valid check at `now` and records it. A cost more than a
/// matching rule can ever hold is refused without taking anything (no wait
/// would ever let it pass), as a 400 naming `cost`.
pub fn decide(state: &AppState, check: &Check, now: Stamp) -> Result<Option<Verdict>, ApiError> {
    let started = Instant::now();
    let verdict = state
        .policy
        .check(&state.store, &check.request, check.cost, now);
    state.telemetry.verdict(verdict.as_ref(), started.elapsed());
    match over_capacity(verdict.as_ref(), check.cost) {
        Some(error) => {
            state.telemetry.bad_request(error.code());
            Err(error)
        }
        None => {
            super::note(state, verdict.as_ref(), &check.request, now);
            Ok(verdict)
        }
    }
}

/// The 400 of a `cost` more than the verdict's rule can ever hold, if it is.
pub fn over_capacity(verdict: Option<&Verdict>, cost: u32) -> Option<ApiError> {
    // A shadow rule never refuses, whatever the cost.
    let verdict = verdict.filter(|v| cost > v.limit.capacity() && !v.decision.is_allowed())?;
    Some(ApiError::field(
        "cost",
        format!(
            "{cost} tokens is more than rule `{}` can ever hold ({})",
            verdict.rule(),
            verdict.limit.capacity()
        ),
    ))
}

/// A `/v1/check` body as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckBody<'a> {
    #[serde(borrow)]
    pub user: Field<Cow<'a, str>>,
    #[serde(borrow)]
    pub route: Field<Cow<'a, str>>,
    #[serde(borrow)]
    pub method: Field<Cow<'a, str>>,
    #[serde(borrow)]
    pub tenant: Field<Cow<'a, str>>,
    #[serde(borrow)]
    pub ip: Field<Cow<'a, str>>,
    pub cost: Field<u64>,
}

impl<'a> Body<'a> for CheckBody<'a> {
    const UNKNOWN: &'static str =
        "unknown field; the fields are user, route, method, tenant, ip and cost";
}

/// What `/v1/check` decides: the call, and what it costs in tokens.
#[derive(Debug)]
pub struct Check<'a> {
    pub request: Request<'a>,
    pub cost: u32,
}

impl<'a> TryFrom<&'a CheckBody<'_>> for Check<'a> {
    type Error = ApiError;

    /// Checks the fields in the order the API has always checked them, so a
    /// body with several mistakes is told about the same one.
    fn try_from(body: &'a CheckBody<'_>) -> Result<Self, ApiError> {
        let user = body
            .user
            .text("user")?
            .ok_or_else(|| ApiError::field("user", "required"))?;
        let request = Request {
            user: validate_id("user", user)?,
            route: route(body.route.text("route")?.unwrap_or(""))?,
            method: method(body.method.text("method")?.unwrap_or(""))?,
            tenant: body
                .tenant
                .text("tenant")?
                .map(|t| validate_id("tenant", t))
                .transpose()?,
            ip: body.ip.text("ip")?.map(ip).transpose()?,
            plan: None,
        };
        Ok(Check {
            request,
            cost: cost(&body.cost)?,
        })
    }
}

fn route(route: &str) -> Result<&str, ApiError> {
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
    Ok(route)
}

fn method(method: &str) -> Result<&str, ApiError> {
    if method.len() > 32 || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::field(
            "method",
            "an HTTP method such as GET or POST",
        ));
    }
    Ok(method)
}

fn ip(ip: &str) -> Result<IpAddr, ApiError> {
    ip.parse()
        .map_err(|_| ApiError::field("ip", format!("`{ip}` is not an IPv4 or IPv6 address")))
}

/// One token when not given.
fn cost(cost: &Field<u64>) -> Result<u32, ApiError> {
    const COST: &str = "a whole number of tokens from 1 to 4294967295";
    match cost.optional("cost", COST)? {
        None => Ok(1),
        Some(&cost) => u32::try_from(cost)
            .ok()
            .filter(|&c| c >= 1)
            .ok_or_else(|| ApiError::field("cost", COST)),
    }
}

/// The 200 of `/v1/check`: the body [`write_result`] writes, and the
/// rate-limit headers. Body and header values are written into one buffer,
/// as `/protected`'s are.
pub fn respond(verdict: Option<&Verdict>) -> HttpResponse {
    let mut buf = BytesMut::with_capacity(256);
    write_result(&mut buf, verdict);
    let body = buf.split().freeze();
    let mut response = HttpResponse::Ok();
    response.insert_header(ContentType::json());
    if let Some(verdict) = verdict {
        insert_rate_headers(&mut response, &mut buf, verdict);
    }
    response.body(body)
}

/// Appends the answer to one check: `{"allowed","limit","remaining",
/// "reset_ms","retry_after_ms","rule"}`, the numbers those of the rule that
/// limits soonest (`null` when no rule applies), and `"shadow_limited":
/// "RULE"` only when a shadow rule would have refused. By hand, as serializing a
/// derived struct measured ~7% slower (bench `check_respond`); `/v1/checks`
/// writes each of its results with it, so the two answer the same bytes.
pub fn write_result(buf: &mut BytesMut, verdict: Option<&Verdict>) {
    match verdict {
        None => buf.extend_from_slice(
            br#"{"allowed":true,"limit":null,"remaining":null,"reset_ms":0,"retry_after_ms":0,"rule":null}"#,
        ),
        Some(verdict) => {
            let (remaining, reset, retry_after) = numbers(&verdict.decision);
            buf.extend_from_slice(if verdict.decision.is_allowed() {
                br#"{"allowed":true,"limit":"#
            } else {
                br#"{"allowed":false,"limit":"#
            });
            write_int(buf, u64::from(verdict.limit.capacity()));
            buf.extend_from_slice(br#","remaining":"#);
            write_int(buf, remaining);
            buf.extend_from_slice(br#","reset_ms":"#);
            write_int(buf, ceil_millis(reset));
            buf.extend_from_slice(br#","retry_after_ms":"#);
            write_int(buf, ceil_millis(retry_after));
            buf.extend_from_slice(br#","rule":"#);
            write_json(buf, verdict.rule());
            if let Some((rule, _)) = verdict.shadow_limited() {
                buf.extend_from_slice(br#","shadow_limited":"#);
                write_json(buf, rule);
            }
            buf.extend_from_slice(b"}");
        }
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;

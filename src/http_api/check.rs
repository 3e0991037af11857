//! `POST /v1/check`: the decision for services and gateways, from a JSON
//! description of the call, through the same rules as `/protected`.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::Instant;

use actix_web::http::header::ContentType;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::HttpResponse;
use serde::Deserialize;

use super::error::{validate_id, ApiError};
use super::headers::insert_rate_headers;
use super::request::{parse_body, Body, Field};
use super::response::{ceil_millis, numbers};
use super::AppState;
use crate::limiter::{Request, Verdict};

/// Longest route accepted.
const MAX_ROUTE: usize = 512;

/// Decides `{"user", "route", "method", "tenant", "ip", "cost"}` (all but
/// `user` optional); 200 whether allowed or not, with the rate-limit headers.
pub async fn check(body: Bytes, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let bad_request = |e: &ApiError| state.telemetry.bad_request(e.code());
    let mut scratch = Vec::new();
    let wire: CheckBody = parse_body(&body, &mut scratch).inspect_err(bad_request)?;
    let Check { request, cost } = Check::try_from(&wire).inspect_err(bad_request)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str) -> Result<String, ApiError> {
        let mut scratch = Vec::new();
        let wire: CheckBody = parse_body(body.as_bytes(), &mut scratch)?;
        Check::try_from(&wire).map(|c| format!("{:?} {}", c.request, c.cost))
    }

    #[test]
    fn fields_are_checked_in_their_order_and_named() {
        let refused = |body: &str| check(body).map_err(|e| e.to_string());
        assert_eq!(
            refused(r#"{"user":"","route":"api"}"#),
            Err("`user`: must be 1-256 bytes".into())
        );
        assert_eq!(
            refused(r#"{"cost":0,"route":"api","user":"a"}"#),
            Err("`route`: a path starting with '/', at most 512 bytes of visible ASCII".into())
        );
        assert_eq!(
            refused(r#"{"user":7}"#),
            Err("`user`: must be a string".into())
        );
        assert_eq!(refused(r#"{"user":null}"#), Err("`user`: required".into()));
        assert_eq!(
            refused(r#"{"user":"a","cost":4294967296}"#),
            Err("`cost`: a whole number of tokens from 1 to 4294967295".into())
        );
        assert!(check(r#"{"user":"a","ip":"::1","cost":null,"tenant":null}"#).is_ok());
    }
}

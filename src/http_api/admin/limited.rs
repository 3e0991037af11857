//! `GET /v1/admin/limited`: the most-refused bucket keys right now, as the
//! decision routes counted them (`decide::note`).

use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::access::Authorized;
use crate::http_api::wire::error::ApiError;
use crate::http_api::wire::request::query_pairs;
use crate::http_api::AppState;
use crate::limiter::refusals::{CAPACITY, HALF_LIFE};

/// `GET /v1/admin/limited[?limit=N]`: the most refused keys, most first.
pub(super) async fn limited(
    _: Authorized,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_from(req.query_string())?;
    let now = state.clock.now();
    let (top, since) = state.refusals.top(limit, now);
    let keys: Vec<_> = top
        .iter()
        .map(|e| {
            json!({
                "key": &*e.key,
                "rule": &*e.rule,
                "refusals": e.refusals,
                "overcount": e.error,
                "last_refused_unix_ms": e.last.as_unix_nanos() / 1_000_000,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "keys": keys,
        "window": {
            "half_life_secs": HALF_LIFE.as_secs(),
            "period_since_unix_ms": since.map(|s| s.as_unix_nanos() / 1_000_000),
            "capacity": CAPACITY,
        },
    })))
}

/// The `limit` query parameter (1 to [`CAPACITY`], default all); any
/// other parameter is refused, naming it.
fn limit_from(query: &str) -> Result<usize, ApiError> {
    let hint = || format!("a whole number from 1 to {CAPACITY}");
    let mut limit = CAPACITY;
    for (_, value) in query_pairs(query, &["limit"])? {
        limit = value
            .parse()
            .ok()
            .filter(|n| (1..=CAPACITY).contains(n))
            .ok_or_else(|| ApiError::field("limit", hint()))?;
    }
    Ok(limit)
}

#[cfg(test)]
#[path = "limited_tests.rs"]
mod tests;

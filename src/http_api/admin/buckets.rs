//! The admin API's buckets: inspect one as this node sees it, and reset one,
//! or all of a user's, to full across the cluster. A reset takes effect here
//! at once and goes to every peer with the next publish, where it beats
//! every state of the bucket from before it (see `limiter::store::reset`).

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::access::Authorized;
use super::policy::limit_json;
use crate::http_api::wire::error::{validate_id, ApiError};
use crate::http_api::AppState;
use crate::limiter::Stamp;

/// Most buckets one user reset touches (their `user+route` buckets are many).
const MAX_RESET_KEYS: usize = 1000;

/// `GET /v1/admin/buckets/{key}`: the bucket as this node sees it.
pub(super) async fn get_bucket(
    _: Authorized,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = key.into_inner();
    let now = state.clock.now();
    let view = state
        .policy
        .inspect(&state.store, &key, now)
        .ok_or_else(|| ApiError::UnknownBucket(key.clone()))?;
    let interval = view.limit.interval().as_nanos() as f64;
    let level = view.state.level();
    let mut body = json!({
        "key": key,
        "rule": &*view.rule,
        "limit": limit_json(&view.limit),
        "tokens": view.state.tokens_at(&view.limit, now),
        "level": level as f64 / interval,
        "level_ns": level,
        "stamp_unix_ms": view.state.stamp().as_unix_nanos() / 1_000_000,
    });
    // A window's level is a count, not refill time: say when it starts again instead.
    if let Some(end) = view.limit.algorithm().window_end(now) {
        body["level_ns"] = Value::Null;
        body["window_end_unix_ms"] = json!(end.as_unix_nanos() / 1_000_000);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// `DELETE /v1/admin/buckets/{key}`: resets the bucket to full, cluster-wide.
pub(super) async fn reset_bucket(
    _: Authorized,
    key: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let key = key.into_inner();
    let now = state.clock.now();
    let at = state
        .policy
        .reset_key(&state.store, &key, now)
        .ok_or_else(|| ApiError::NoSuchBucket(key.clone()))?;
    Ok(HttpResponse::Ok().json(answer(&state, vec![key], at)))
}

/// `POST /v1/admin/users/{user}/reset`: resets every bucket counted per the
/// user to full, cluster-wide.
pub(super) async fn reset_user(
    _: Authorized,
    user: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = validate_id("user", &user)?;
    let now = state.clock.now();
    let reset = state
        .policy
        .reset_user(&state.store, user, now, MAX_RESET_KEYS);
    let mut answer = answer(&state, reset.keys, reset.at);
    answer["truncated"] = reset.truncated.into();
    Ok(HttpResponse::Ok().json(answer))
}

fn answer(state: &AppState, keys: Vec<String>, at: Stamp) -> Value {
    // Who reset what stays on record; a key's user is an ID, not a secret.
    tracing::info!(?keys, "buckets reset by the admin API");
    json!({
        "reset": keys,
        "reset_at_unix_ms": at.as_unix_nanos() / 1_000_000,
        "cluster_wide": state.cluster.is_some(),
    })
}

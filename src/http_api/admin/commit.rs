//! Committing an admin change: validated against the rules in effect, made
//! durable through the policy log, then acknowledged.

use actix_web::HttpResponse;
use serde_json::Value;

use super::access::admin;
use crate::http_api::wire::error::ApiError;
use crate::http_api::AppState;
use crate::policy::PolicyChange;

/// Validates `change` against the rules in effect, commits it, and answers `body`.
pub(super) async fn commit(
    state: &AppState,
    change: PolicyChange,
    body: Value,
) -> Result<HttpResponse, ApiError> {
    state
        .policy
        .validate(&change)
        .map_err(|e| ApiError::field(e.field.clone(), e.reason.clone()))?;
    admin(state)
        .log
        .commit(change.clone())
        .await
        .map_err(ApiError::NotCommitted)?;
    tracing::info!(?change, "admin change committed");
    Ok(HttpResponse::Ok().json(body))
}

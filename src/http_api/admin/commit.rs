//! Committing an admin change: validated against the rules in effect, made
//! durable through the policy log, then acknowledged.

use actix_web::HttpResponse;
use serde_json::Value;

use super::access::admin;
use crate::http_api::wire::error::ApiError;
use crate::http_api::AppState;
use crate::policy::PolicyChange;
use crate::policy_log::LogError;

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
        .map_err(not_committed)?;
    tracing::info!(?change, "admin change committed");
    Ok(HttpResponse::Ok().json(body))
}

/// The answer to a change the log did not take: a conflict when the policy
/// refuses it (409), else a 503, since it may still arrive and repeating it
/// is harmless.
fn not_committed(error: LogError) -> ApiError {
    tracing::warn!(%error, "admin change not committed");
    match error {
        LogError::Refused(refused) => ApiError::Conflict(refused.to_string()),
        LogError::Undecodable(_)
        | LogError::Journal(_)
        | LogError::NotStored(_)
        | LogError::WriterStopped(_) => ApiError::NotCommitted(error.to_string()),
    }
}

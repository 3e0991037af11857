//! Tokens callers present: `Authorization: Bearer` (the scheme in any case,
//! RFC 9110 §11.1), compared in constant time; and who may ask the decision
//! APIs (`/protected`, `/v1/check`, `/v1/checks`, `/v1/forward-auth`).
//!
//! The decision APIs trust their caller to name the user, so a caller who
//! may reach them may spend anyone's tokens. With `--decision-token` they
//! answer only callers presenting it; a gateway without one keeps them
//! closed, as its listener is its clients'.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use actix_web::{web, FromRequest, HttpRequest};

use super::error::ApiError;
use crate::http_api::AppState;
use crate::settings::Secret;
use crate::telemetry::{Refusal, Telemetry};

/// The header a proxy adds without touching the client's `Authorization`.
pub static X_LIMITER_TOKEN: HeaderName = HeaderName::from_static("x-limiter-token");

/// The token of an `Authorization: Bearer TOKEN` header.
pub fn bearer(value: &HeaderValue) -> Option<&[u8]> {
    let (scheme, token) = value.as_bytes().split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

/// Who may ask the decision APIs.
#[derive(Debug)]
pub enum DecisionAccess {
    /// Anyone who reaches the listener (no token, no gateway).
    Open,
    /// Callers that present this token.
    Token(Secret),
    /// Nobody: a gateway without a token.
    Closed,
}

impl DecisionAccess {
    /// The access that `token` (if set) and gateway mode make.
    pub fn new(token: Option<Secret>, gateway: bool) -> Self {
        match (token, gateway) {
            (Some(token), _) => Self::Token(token),
            (None, false) => Self::Open,
            (None, true) => Self::Closed,
        }
    }

    /// Whether a request with `headers` may ask; a refusal is counted.
    /// `authorization`: whether `Authorization: Bearer` may carry the token
    /// (on forward-auth it is the client's own, forwarded by the proxy, so
    /// only `X-Limiter-Token` counts there).
    pub fn check(
        &self,
        headers: &HeaderMap,
        authorization: bool,
        telemetry: &Telemetry,
    ) -> Result<(), ApiError> {
        let refused = match self {
            Self::Open => return Ok(()),
            Self::Closed => ApiError::DecisionApisClosed,
            Self::Token(token) => match presented(headers, authorization) {
                Some(presented) if token.matches(presented) => return Ok(()),
                Some(_) => ApiError::BadDecisionToken,
                None => ApiError::MissingDecisionToken {
                    header_only: !authorization,
                },
            },
        };
        telemetry.http_refusal(match refused {
            ApiError::DecisionApisClosed => Refusal::DecisionClosed,
            _ => Refusal::DecisionToken,
        });
        Err(refused)
    }
}

/// The token presented: `X-Limiter-Token`, else (if allowed) a bearer token.
fn presented(headers: &HeaderMap, authorization: bool) -> Option<&[u8]> {
    if let Some(value) = headers.get(&X_LIMITER_TOKEN) {
        return Some(value.as_bytes().trim_ascii());
    }
    let value = headers.get(AUTHORIZATION).filter(|_| authorization)?;
    // Another scheme is no decision token: said as such, not as a wrong one.
    bearer(value)
}

/// Proof that the request may ask for decisions. As an extractor it runs
/// before the body is read.
pub struct MayDecide;

impl FromRequest for MayDecide {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = match req.app_data::<web::Data<AppState>>() {
            Some(state) => state
                .decision
                .check(req.headers(), true, &state.telemetry)
                .map(|()| MayDecide),
            None => Err(ApiError::DecisionApisClosed),
        };
        ready(checked)
    }
}

#[cfg(test)]
#[path = "tokens_tests.rs"]
mod tests;

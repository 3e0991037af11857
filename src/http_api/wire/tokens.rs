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
use subtle::ConstantTimeEq;

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

/// Compares in constant time (`subtle`), so timing tells a caller nothing
/// about how much of a guess was right (only whether its length was).
pub fn same(presented: &[u8], expected: &[u8]) -> bool {
    presented.ct_eq(expected).into()
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
mod tests {
    use super::*;

    fn value(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for text in ["Bearer t0k", "bearer t0k", "BEARER t0k", "bEaReR  t0k "] {
            assert_eq!(bearer(&value(text)), Some(&b"t0k"[..]), "{text}");
        }
        for text in ["Basic dDprZXk=", "Bearer", "Bearert0k", ""] {
            assert_eq!(bearer(&value(text)), None, "{text}");
        }
    }

    #[test]
    fn the_decision_token_is_taken_from_its_header_or_a_bearer_when_allowed() {
        let token = "decision-token-0123456789";
        let telemetry = Telemetry::new();
        let access = DecisionAccess::Token(Secret::new(token.into()));
        let check = |headers: &[(&'static str, String)], authorization| {
            let mut map = HeaderMap::new();
            for (name, text) in headers {
                map.append(HeaderName::from_static(name), value(text));
            }
            access.check(&map, authorization, &telemetry)
        };
        let by_header = [("x-limiter-token", token.to_string())];
        let by_bearer = [("authorization", format!("bearer {token}"))];
        assert_eq!(check(&by_header, true), Ok(()));
        assert_eq!(check(&by_header, false), Ok(()));
        assert_eq!(check(&by_bearer, true), Ok(()));
        // On forward-auth the bearer is the client's: not the proxy's token.
        assert_eq!(
            check(&by_bearer, false),
            Err(ApiError::MissingDecisionToken { header_only: true })
        );
        // The proxy's header counts beside a client's own bearer.
        let both = [
            ("x-limiter-token", token.to_string()),
            ("authorization", "Bearer client-jwt".to_string()),
        ];
        assert_eq!(check(&both, false), Ok(()));
        let wrong = [("x-limiter-token", format!("{token}x"))];
        assert_eq!(check(&wrong, true), Err(ApiError::BadDecisionToken));
        assert_eq!(
            check(&[], true),
            Err(ApiError::MissingDecisionToken { header_only: false })
        );
        let closed = DecisionAccess::new(None, true);
        let refused = closed.check(&HeaderMap::new(), true, &telemetry);
        assert_eq!(refused, Err(ApiError::DecisionApisClosed));
        let open = DecisionAccess::new(None, false);
        assert_eq!(open.check(&HeaderMap::new(), true, &telemetry), Ok(()));
    }
}

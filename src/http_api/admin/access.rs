//! Who may call the admin API: the admin token, checked by the
//! [`Authorized`] extractor before any route's work, and the admin API's
//! settings ([`Admin`]).

use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};

use crate::http_api::wire::error::ApiError;
use crate::http_api::wire::tokens::bearer;
use crate::http_api::AppState;
use crate::limiter::Tz;
use crate::policy_log::PolicyLog;
use crate::settings::Secret;

/// The admin API's settings.
pub struct Admin {
    /// The bearer token.
    pub token: Secret,
    /// Where changes are committed.
    pub log: Arc<dyn PolicyLog>,
    /// Where calendar windows that name no `time_zone` count (`--time-zone`).
    pub time_zone: Tz,
    /// Held while an API-key change is checked and committed, so two calls
    /// on this node cannot both find a key free and both take it.
    pub(super) key_changes: tokio::sync::Mutex<()>,
}

impl Admin {
    /// The admin API with `token`, committing to `log`, calendar windows in
    /// `time_zone` unless named.
    pub fn new(token: Secret, log: Arc<dyn PolicyLog>, time_zone: Tz) -> Self {
        Self {
            token,
            log,
            time_zone,
            key_changes: tokio::sync::Mutex::new(()),
        }
    }
}

/// Proof that the request carries the admin token. As an extractor it runs
/// before the body is read and before any route's work.
pub struct Authorized;

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(admin) = req
            .app_data::<web::Data<AppState>>()
            .and_then(|state| state.admin.as_ref())
        else {
            return ready(Err(ApiError::AdminDisabled));
        };
        let presented = req.headers().get(AUTHORIZATION).and_then(bearer);
        ready(match presented {
            Some(token) if admin.accepts(token) => Ok(Authorized),
            _ => Err(ApiError::Unauthorized),
        })
    }
}

impl Admin {
    /// Whether `presented` is the admin token.
    pub(crate) fn accepts(&self, presented: &[u8]) -> bool {
        self.token.matches(presented)
    }
}

pub(super) fn admin(state: &AppState) -> &Admin {
    // Authorized exists only when the admin API is on.
    state
        .admin
        .as_ref()
        .expect("authorized implies an admin API")
}

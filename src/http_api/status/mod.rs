//! `GET /status` and `GET /`: the read-only status page, one self-contained
//! HTML page (rendered in `html.rs`) of the cluster view, the rules
//! and plans in effect, decisions per rule over the last minute, and (with
//! the admin token only: they hold user IDs) the most-limited keys.
//!
//! Query: `refresh=N` (seconds between reloads, 0 = never; default 2) and
//! `keys=1` (ask the browser for the admin token: a 401 with HTTP Basic).

use actix_web::http::header::{self, HeaderValue, AUTHORIZATION};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::prelude::{Engine, BASE64_STANDARD};

pub mod cluster;
pub(super) mod health;
mod html;
mod query;
mod spark;

use crate::http_api::admin::rules_view::{plan_rows, rule_rows};
use crate::http_api::admin::Admin;
use crate::http_api::wire::error::ApiError;
use crate::http_api::wire::tokens::bearer;
use crate::http_api::AppState;
use crate::limiter::refusals::CAPACITY;
use html::{render, Keys, Page};
use query::query_from;

/// No script may run and nothing may load from elsewhere: the page needs
/// only its inline style and inline SVG, so injected markup could do little.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

/// Whether the request may see the most-limited keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Access {
    /// The admin API is off: keys are never shown.
    Off,
    /// No admin token, or a wrong one.
    Denied,
    /// The admin token, as a bearer token or a Basic password.
    Granted,
}

/// The handler.
pub(super) async fn status(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query_from(req.query_string())?;
    let access = access(&state, &req);
    if query.keys && access == Access::Denied {
        return Err(ApiError::KeysUnauthorized);
    }
    let rules = state.policy.rules();
    let now = state.clock.now();
    let keys = match access {
        Access::Off => Keys::Off,
        Access::Denied => Keys::Hidden,
        Access::Granted => Keys::Shown(state.refusals.top(CAPACITY, now).0),
    };
    let page = Page {
        query,
        now_unix_ms: now.as_unix_nanos() / 1_000_000,
        cluster: cluster::current(&state),
        rules: rule_rows(&rules, state.policy.shadow_all()),
        plans: plan_rows(&rules),
        default_plan: rules.default_plan(),
        minutes: state.telemetry.rule_minutes(),
        keys,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // Keys are user IDs: no cache keeps them.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(render(&page)))
}

/// Whether `req` carries the admin token, compared in constant time by the
/// admin API's own check.
fn access(state: &AppState, req: &HttpRequest) -> Access {
    access_of(state.admin.as_ref(), req.headers().get(AUTHORIZATION))
}

/// [`access`] given the admin API and the `Authorization` header.
fn access_of(admin: Option<&Admin>, authorization: Option<&HeaderValue>) -> Access {
    let Some(admin) = admin else {
        return Access::Off;
    };
    let granted = authorization.is_some_and(|value| match bearer(value) {
        Some(token) => admin.accepts(token),
        None => basic_password(value).is_some_and(|password| admin.accepts(&password)),
    });
    if granted {
        Access::Granted
    } else {
        Access::Denied
    }
}

/// The password of `Authorization: Basic base64(user:password)` (the scheme
/// in any case, as RFC 9110 allows); any user name.
fn basic_password(value: &HeaderValue) -> Option<Vec<u8>> {
    let bytes = value.as_bytes();
    let (scheme, encoded) = bytes.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = BASE64_STANDARD.decode(encoded.trim_ascii()).ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some(decoded[colon + 1..].to_vec())
}

#[cfg(test)]
mod tests;

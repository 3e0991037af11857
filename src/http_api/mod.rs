//! The HTTP API, one room per surface: `decide/` (the decision routes),
//! `admin/` (the admin API), `status/` (the status page, `/v1/cluster`,
//! `/metrics`, `/healthz`, `/readyz`), `gateway/` (gateway mode's HTTP
//! side), `wire/` (what they share on the wire) and `server/` (the server
//! and its bounds). Here: the routes, the shared request state, and the
//! request-metrics middleware.

pub mod admin;
pub mod decide;
pub mod gateway;
pub mod server;
mod status;
pub mod traced;
pub mod wire;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, CONTENT_TYPE};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};

use crate::clock::Clock;
use crate::limiter::refusals::Refusals;
use crate::limiter::Store;
use crate::policy::Policy;
use crate::replication::ClusterView;
use crate::telemetry::{Telemetry, ROUTES};
pub use admin::Admin;
use status::health;
pub use wire::error::ApiError;

/// What every request handler shares.
pub struct AppState {
    /// This node's buckets.
    pub store: Arc<Store>,
    /// The rules in effect.
    pub policy: Arc<Policy>,
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// Metric handles.
    pub telemetry: Arc<Telemetry>,
    /// Set once the node may serve decisions that reflect the cluster.
    pub ready: Arc<AtomicBool>,
    /// The admin API; `None` when it is off.
    pub admin: Option<Admin>,
    /// The header that names the user on `/v1/forward-auth`.
    pub forward_auth_user_header: HeaderName,
    /// What replication knows of the peers; `None` for a standalone node.
    pub cluster: Option<Arc<ClusterView>>,
    /// The most refused bucket keys right now (`GET /v1/admin/limited`).
    pub refusals: Refusals,
    /// Gateway mode's routes; `None` when it is off.
    pub gateway: Option<Arc<crate::gateway::live::LiveGateway>>,
    /// The ID this node was given (`--node-id`), shown standalone too.
    pub node_id: Option<String>,
    /// Who may ask the decision APIs.
    pub decision: wire::tokens::DecisionAccess,
    /// Time a client has to send the body of a JSON API request.
    pub body_timeout: std::time::Duration,
    /// Traces over OTLP; `None`: off (the handlers then skip them entirely).
    pub traces: Option<Arc<crate::telemetry::traces::Traces>>,
}

/// Registers every route; unknown paths get a JSON 404, wrong methods a JSON 405.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/protected")
            .route(web::post().to(decide::protected::protected))
            .default_service(web::to(|| async { not_allowed("/protected", "POST") })),
    );
    cfg.service(
        web::resource("/v1/check")
            .route(web::post().to(decide::check::check))
            .default_service(web::to(|| async { not_allowed("/v1/check", "POST") })),
    );
    cfg.service(
        web::resource("/v1/checks")
            .app_data(wire::body::BodyLimit(decide::batch::MAX_BATCH_BYTES))
            .route(web::post().to(decide::batch::checks))
            .default_service(web::to(|| async { not_allowed("/v1/checks", "POST") })),
    );
    // Any method: proxies ask with the method of the request they hold, and
    // Envoy's ext_authz appends the original path.
    cfg.service(
        web::resource([decide::forward_auth::PATH, "/v1/forward-auth/{path:.*}"])
            .to(decide::forward_auth::forward_auth),
    );
    admin::routes(cfg);
    for (path, handler) in [
        ("/metrics", health::metrics as health::Handler),
        ("/healthz", health::healthz),
        ("/readyz", health::readyz),
        ("/v1/cluster", status::cluster::cluster),
    ] {
        cfg.service(
            web::resource(path)
                .route(web::get().to(handler))
                .default_service(web::to(move || async move { not_allowed(path, "GET") })),
        );
    }
    // The status page, under both paths (browsers open `/`).
    for path in ["/status", "/"] {
        cfg.service(
            web::resource(path)
                .route(web::get().to(status::status))
                .default_service(web::to(move || async move { not_allowed(path, "GET") })),
        );
    }
    // Every other path: a gateway route's, or a JSON 404.
    cfg.default_service(web::to(gateway::gateway));
}

fn not_allowed(route: &'static str, allow: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed { route, allow })
}

/// Counts and times every request by route and status, and turns a
/// refusal actix made itself (an extractor's) into the JSON error every
/// other refusal is.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = Instant::now();
    let path = match req.path() {
        admin if admin.starts_with("/v1/admin/") => "/v1/admin",
        auth if auth.starts_with("/v1/forward-auth/") => decide::forward_auth::PATH,
        path => path,
    };
    let route = ROUTES
        .iter()
        .position(|r| *r == path)
        .unwrap_or(ROUTES.len() - 1);
    let response = json_errors(next.call(req).await?);
    // The response carries its request, so the shared state is reached
    // without cloning anything per request.
    if let Some(state) = response.request().app_data::<web::Data<AppState>>() {
        state
            .telemetry
            .http_request(route, response.status().as_u16(), started.elapsed());
    }
    Ok(response)
}

/// `response` as it is, unless it is an error of actix's own in plain text.
fn json_errors<B>(response: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let plain = response.response().error().filter(|_| {
        let json = response.headers().get(CONTENT_TYPE);
        json.is_none_or(|v| !v.as_bytes().starts_with(b"application/json"))
    });
    let Some(error) = plain else {
        return response.map_into_left_body();
    };
    let json = ApiError::Http {
        status: response.status(),
        detail: error.to_string(),
    }
    .error_response();
    let (req, _) = response.into_parts();
    ServiceResponse::new(req, json).map_into_right_body()
}

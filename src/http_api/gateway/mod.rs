//! Gateway mode's entry: a request that no API route serves and a gateway
//! route does is put in canonical form, identified, and decided like
//! `/v1/check`; if allowed, `forward.rs` sends it upstream, with the headers that cross
//! (`headers.rs`) and every wait bounded in time (`timing.rs`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Instant, SystemTime};

use actix_web::dev::PeerAddr;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};

pub mod forward;
mod headers;
mod timing;

use crate::gateway::identity::{Headers, Identity};
use crate::gateway::path::canonical;
use crate::gateway::routes::Route;
use crate::gateway::Gateway;
use crate::http_api::decide::protected::respond;
use crate::http_api::traced::{answered, RequestHeaders};
use crate::http_api::wire::error::ApiError;
use crate::http_api::AppState;
use crate::limiter::Decision;
use crate::policy::{Request, Verdict};
use crate::telemetry::traces::RequestSpan;
use forward::{content_length, forward, Clients, Forwarding};
use opentelemetry::KeyValue;

/// The request's headers as the identity layer reads them.
struct HeaderMapView<'h>(&'h HeaderMap);

impl Headers for HeaderMapView<'_> {
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.0.get_all(name).map(HeaderValue::as_bytes)
    }
}

/// Serves every path the API does not: a gateway route's, or a JSON 404;
/// in a span of its own when traces are on.
pub async fn gateway(
    req: HttpRequest,
    payload: web::Payload,
    peer: Option<PeerAddr>,
    state: web::Data<AppState>,
    clients: Option<web::Data<Clients>>,
) -> Result<HttpResponse, ApiError> {
    let (Some(live), Some(clients)) = (&state.gateway, clients) else {
        return Err(ApiError::NotFound);
    };
    // Boxed: held across the await, so off it adds a pointer to the future, not a span.
    let mut span = state.traces.as_ref().map(|traces| {
        let method = KeyValue::new("http.request.method", req.method().to_string());
        Box::new(traces.server_span("gateway", &RequestHeaders(req.headers()), vec![method]))
    });
    // Held to the request's end: a reload meanwhile does not change its route.
    let gateway = &live.current();
    // Decided before anything is awaited: off, the only future here is forward's.
    let answer = match admit(&req, peer, &state, gateway, span.as_deref_mut()) {
        Ok(Admitted::Forward(admitted)) => {
            let client = clients.for_tls(gateway.upstream_tls());
            let forwarding = Forwarding {
                gateway,
                index: admitted.index,
                route: gateway.route(admitted.index),
                path: &admitted.path,
                identity: &admitted.identity,
                trusted_peer: gateway.trusts(admitted.peer),
                length: admitted.length,
                telemetry: &state.telemetry,
                span: span.as_deref(),
            };
            let verdict = admitted.verdict.as_ref();
            forward(&client, &forwarding, &req, payload, verdict).await
        }
        Ok(Admitted::Refused(response)) => Ok(response),
        Err(error) => Err(error),
    };
    if let Some(span) = &mut span {
        answered(span, &answer);
    }
    answer
}

/// What became of a request before it is forwarded.
enum Admitted {
    /// Allowed: on its way upstream.
    Forward(Allowed),
    /// Refused by a rule: the 429.
    Refused(HttpResponse),
}

/// An allowed request: its route, canonical path, caller, the connection's
/// peer (a trusted proxy or not), declared length and decision.
struct Allowed {
    index: usize,
    path: String,
    identity: Identity,
    peer: IpAddr,
    length: Option<u64>,
    verdict: Option<Verdict>,
}

/// Finds the route, identifies the caller and decides, noting each on `span`.
fn admit(
    req: &HttpRequest,
    peer: Option<PeerAddr>,
    state: &AppState,
    gateway: &Gateway,
    mut span: Option<&mut RequestSpan>,
) -> Result<Admitted, ApiError> {
    let path = canonical(req.path()).map_err(|e| ApiError::field("path", e.to_string()))?;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let Some((index, route)) = gateway.find(host, req.method().as_str(), &path) else {
        return Err(ApiError::NotFound);
    };
    if let Some(span) = span.as_deref_mut() {
        span.rename(format!("{} {}", req.method(), route.name));
        span.set("http.route", route.name.clone());
    }
    // Before anything is taken: a body too large is refused for free.
    let length = content_length(req.headers(), route)?;
    let peer_ip = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
    let identity = identify(state, gateway, (index, route), req, peer_ip)?;
    let request = Request {
        user: &identity.user,
        route: &path,
        method: req.method().as_str(),
        tenant: identity.tenant.as_deref(),
        ip: Some(identity.ip),
        plan: identity.plan.as_deref(),
    };
    let started = Instant::now();
    let now = state.clock.now();
    let verdict = state.policy.check(&state.store, &request, 1, now);
    state.telemetry.verdict(verdict.as_ref(), started.elapsed());
    crate::http_api::decide::note(state, verdict.as_ref(), &request, now);
    if let Some(span) = span {
        decided(span, &identity, verdict.as_ref());
    }
    if let Some(Decision::Limited { .. }) = verdict.as_ref().map(|v| v.decision) {
        return Ok(Admitted::Refused(respond(verdict.as_ref())));
    }
    Ok(Admitted::Forward(Allowed {
        index,
        path,
        identity,
        peer: peer_ip,
        length,
        verdict,
    }))
}

/// The caller and the decision on the span (the user ID, never a credential).
fn decided(span: &mut RequestSpan, identity: &Identity, verdict: Option<&Verdict>) {
    span.set("enduser.id", identity.user.to_string());
    span.set("limiter.identity", identity.method.name());
    span.verdict(verdict);
}

/// Who the caller is, by the route's identity methods; a 401 saying why if
/// no credential was given or the one given is not valid.
fn identify(
    state: &AppState,
    gateway: &Gateway,
    (index, route): (usize, &Route),
    req: &HttpRequest,
    peer: IpAddr,
) -> Result<Identity, ApiError> {
    let headers = HeaderMapView(req.headers());
    gateway
        .identify(index, &headers, peer, SystemTime::now(), &|hash| {
            state.policy.api_key(hash)
        })
        .map_err(|e| {
            state.telemetry.bad_request(e.code());
            ApiError::Unauthenticated {
                route: route.name.clone(),
                code: e.code(),
                detail: e.to_string(),
            }
        })
}

//! Gateway mode: a request that no API route serves and a gateway route
//! does is identified, decided like `/protected`, and — if allowed —
//! forwarded to one of the route's upstreams, the response streamed back
//! with the rate-limit headers. Bodies stream both ways (never buffered);
//! each worker keeps its own pool of keep-alive connections to upstreams.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::PeerAddr;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use awc::error::SendRequestError;
use futures_util::StreamExt;

use super::error::ApiError;
use super::headers::insert_rate_headers;
use super::protected::respond;
use super::AppState;
use crate::gateway::identity::{Headers, Identity};
use crate::gateway::routes::{Route, Upstream};
use crate::gateway::Gateway;
use crate::limiter::Decision;
use crate::policy::{Request, Verdict};

/// Headers that describe one connection, not the message: never forwarded
/// (RFC 9110 §7.6.1), nor any the `Connection` header names.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Idle keep-alive connections kept per upstream address by one worker.
const POOL_PER_HOST: usize = 256;

/// The client a worker forwards with: keep-alive connections pooled per
/// upstream address, no timeout of its own (each route sets one).
pub fn client() -> awc::Client {
    let connector = awc::Connector::new()
        .limit(0)
        .conn_keep_alive(std::time::Duration::from_secs(60))
        .timeout(std::time::Duration::from_secs(5));
    let _ = POOL_PER_HOST;
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .no_default_headers()
        .timeout(std::time::Duration::from_secs(3600))
        .finish()
}

/// The request's headers as the identity layer reads them.
struct HeaderMapView<'h>(&'h HeaderMap);

impl Headers for HeaderMapView<'_> {
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.0.get_all(name).map(HeaderValue::as_bytes)
    }
}

/// Serves every path the API does not: a gateway route's, or a JSON 404.
pub async fn gateway(
    req: HttpRequest,
    payload: web::Payload,
    peer: Option<PeerAddr>,
    state: web::Data<AppState>,
    client: Option<web::Data<awc::Client>>,
) -> Result<HttpResponse, ApiError> {
    let (Some(gateway), Some(client)) = (&state.gateway, client) else {
        return Err(ApiError::NotFound);
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let Some((index, route)) = gateway.find(host, req.method().as_str(), req.path()) else {
        return Err(ApiError::NotFound);
    };
    let identity = identify(&state, gateway, (index, route), &req, peer)?;
    let request = Request {
        user: &identity.user,
        route: req.path(),
        method: req.method().as_str(),
        tenant: identity.tenant.as_deref(),
        ip: Some(identity.ip),
        plan: identity.plan.as_deref(),
    };
    let started = Instant::now();
    let now = state.clock.now();
    let verdict = state.policy.check(&state.store, &request, 1, now);
    state.telemetry.verdict(verdict.as_ref(), started.elapsed());
    super::limited::note(&state, verdict.as_ref(), &request, now);
    if matches!(
        verdict.as_ref().map(|v| v.decision),
        Some(Decision::Limited { .. })
    ) {
        return Ok(respond(verdict.as_ref()));
    }
    forward(
        &client,
        gateway,
        index,
        route,
        &req,
        payload,
        verdict.as_ref(),
    )
    .await
}

/// Who the caller is, by the route's identity methods; a 401 saying why if
/// no credential was given or the one given is not valid.
fn identify(
    state: &AppState,
    gateway: &Gateway,
    (index, route): (usize, &Route),
    req: &HttpRequest,
    peer: Option<PeerAddr>,
) -> Result<Identity, ApiError> {
    let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
    let headers = HeaderMapView(req.headers());
    gateway
        .identify(index, &headers, peer, SystemTime::now())
        .map_err(|e| {
            state.telemetry.bad_request(e.code());
            ApiError::Unauthenticated {
                route: route.name.clone(),
                code: e.code(),
                detail: e.to_string(),
            }
        })
}

/// Sends `req` to the route's upstreams in turn until one answers, and
/// streams its answer back with the rate-limit headers.
async fn forward(
    client: &awc::Client,
    gateway: &Gateway,
    index: usize,
    route: &Route,
    req: &HttpRequest,
    payload: web::Payload,
    verdict: Option<&Verdict>,
) -> Result<HttpResponse, ApiError> {
    let length = content_length(req.headers(), route)?;
    let has_body =
        length.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING);
    let mut payload = Some(payload);
    let too_large = Rc::new(Cell::new(false));
    let balancer = gateway.balancer(index);
    let mut last = None;
    for upstream in balancer.order(now_ms()).collect::<Vec<_>>() {
        let target = &route.upstreams[upstream];
        let request = upstream_request(client, route, target, req);
        let sent = match (has_body, payload.take()) {
            (true, Some(body)) => {
                let body = limited(body, route.max_body, Rc::clone(&too_large));
                match length {
                    Some(n) => {
                        request
                            .send_body(awc::body::SizedStream::new(n, body))
                            .await
                    }
                    None => request.send_stream(body).await,
                }
            }
            _ => request.send().await,
        };
        match sent {
            Ok(answer) => {
                balancer.mark_up(upstream);
                return Ok(relay(answer, verdict));
            }
            Err(error) => {
                let refused = matches!(error, SendRequestError::Connect(_));
                if refused {
                    balancer.mark_down(upstream, now_ms());
                }
                last = Some(error);
                // Only a refused connection is worth another upstream, and
                // only without a body: a body handed to one is gone.
                if !refused || has_body {
                    break;
                }
            }
        }
    }
    Err(failure(route, last.as_ref(), too_large.get()))
}

/// The request for `target`: method, path and headers of `req`, less the
/// hop-by-hop ones, with `X-Forwarded-*` saying where it came from.
fn upstream_request(
    client: &awc::Client,
    route: &Route,
    target: &Upstream,
    req: &HttpRequest,
) -> awc::ClientRequest {
    let path = route.upstream_path(target, req.path(), req.query_string());
    let url = format!("http://{}{}", target.authority, path);
    let mut request = client
        .request(req.method().clone(), url)
        .timeout(route.timeout);
    let headers = request.headers_mut();
    copy_end_to_end(req.headers(), headers);
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let chain = match req
        .headers()
        .get(&X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
    {
        Some(earlier) if !peer.is_empty() => format!("{earlier}, {peer}"),
        Some(earlier) => earlier.to_string(),
        None => peer,
    };
    if let Ok(value) = HeaderValue::from_str(&chain) {
        headers.insert(X_FORWARDED_FOR.clone(), value);
    }
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    if let Some(host) = req.headers().get(header::HOST) {
        headers.insert(X_FORWARDED_HOST.clone(), host.clone());
    }
    request
}

/// The upstream's answer, streamed back, with the rate-limit headers.
fn relay(answer: awc::ClientResponse, verdict: Option<&Verdict>) -> HttpResponse {
    let mut response = HttpResponse::build(answer.status());
    let mut copied = HeaderMap::new();
    copy_end_to_end(answer.headers(), &mut copied);
    let length = answer
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    for (name, value) in copied.iter().filter(|(n, _)| **n != header::CONTENT_LENGTH) {
        response.append_header((name.clone(), value.clone()));
    }
    if let Some(verdict) = verdict {
        insert_rate_headers(&mut response, &mut BytesMut::with_capacity(128), verdict);
    }
    match length {
        Some(n) => response.body(actix_web::body::SizedStream::new(n, answer)),
        None => response.streaming(answer),
    }
}

/// Copies every header but the hop-by-hop ones (and those `Connection` names).
fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap) {
    let named: Vec<String> = from
        .get_all(header::CONNECTION)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in from {
        let name_str = name.as_str();
        if HOP_BY_HOP.contains(&name_str) || named.iter().any(|n| n == name_str) {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

/// The request's declared length, refused (`413`) beyond the route's limit.
fn content_length(headers: &HeaderMap, route: &Route) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_LENGTH) else {
        return Ok(None);
    };
    let length = value
        .to_str()
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| ApiError::field("Content-Length", "a whole number of bytes"))?;
    if length > route.max_body {
        return Err(ApiError::TooLarge {
            route: route.name.clone(),
            limit: route.max_body,
        });
    }
    Ok(Some(length))
}

/// `body`, cut off with an error (and `too_large` set) past `max` bytes: a
/// body without a declared length is counted as it streams.
fn limited(
    body: web::Payload,
    max: u64,
    too_large: Rc<Cell<bool>>,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    let mut seen = 0u64;
    body.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > max {
            too_large.set(true);
            return Err(actix_web::error::ErrorPayloadTooLarge("body too large"));
        }
        Ok(chunk)
    })
}

/// What the client gets when no upstream answered.
fn failure(route: &Route, error: Option<&SendRequestError>, too_large: bool) -> ApiError {
    let name = route.name.clone();
    match error {
        _ if too_large => ApiError::TooLarge {
            route: name,
            limit: route.max_body,
        },
        Some(SendRequestError::Timeout) => ApiError::UpstreamTimeout { route: name },
        other => ApiError::BadGateway {
            route: name,
            detail: other.map_or("no upstream".into(), ToString::to_string),
        },
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

//! Gateway mode's forwarding: an allowed request goes to one of its route's
//! upstreams and the answer streams back. Bodies stream both ways, never
//! held whole; each worker keeps its own bounded pool of keep-alive
//! connections. Hop-by-hop headers and `Expect` stay behind, credentials the
//! gateway consumed are not passed on, and the upstream learns the verified
//! caller (the identity header) and, from `X-Forwarded-*`, where the request
//! came from — believing what a client says only from a trusted proxy.
//! `https://` upstreams are spoken to over TLS, their certificates verified.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use awc::error::{ConnectError, SendRequestError};
use futures_util::StreamExt;

use super::error::ApiError;
use super::headers::insert_rate_headers;
use crate::gateway::identity::{Identity, Method};
use crate::gateway::routes::{Route, Upstream};
use crate::gateway::Gateway;
use crate::policy::Verdict;

/// Headers about one connection or one hop, not the message: never
/// forwarded (RFC 9110 §7.6.1), nor any the `Connection` header names.
/// `Expect` too: the node answered `100 Continue` itself.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Connections one worker holds to all plain upstreams together (and as
/// many to TLS ones: awc pools them apart): beyond it a request waits for
/// one, rather than the node running out of descriptors.
const MAX_CONNECTIONS: usize = 1024;

/// The client a worker forwards with: keep-alive connections pooled per
/// upstream address, 5 s to connect (and 5 more for a TLS handshake), no
/// timeout of its own (routes set one). Without `tls`, no TLS at all.
fn client(tls: Option<&Arc<rustls::ClientConfig>>) -> awc::Client {
    let mut connector = awc::Connector::new()
        .limit(MAX_CONNECTIONS)
        .conn_keep_alive(Duration::from_secs(60))
        .timeout(Duration::from_secs(5));
    if let Some(tls) = tls {
        connector = connector.rustls_0_23(Arc::clone(tls));
    }
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .no_default_headers()
        .timeout(Duration::from_secs(3600))
        .finish()
}

/// A worker's client, made again when a reload changes what TLS to
/// upstreams trusts (the old pool's connections close as requests let go).
pub struct Clients(RefCell<(Option<Arc<rustls::ClientConfig>>, awc::Client)>);

impl Clients {
    pub fn new(tls: Option<&Arc<rustls::ClientConfig>>) -> Self {
        Self(RefCell::new((tls.cloned(), client(tls))))
    }

    /// The client for the gateway's `tls` settings (a cheap handle to it).
    pub fn for_tls(&self, tls: Option<&Arc<rustls::ClientConfig>>) -> awc::Client {
        let mut current = self.0.borrow_mut();
        let same = match (&current.0, tls) {
            (None, None) => true,
            (Some(held), Some(wanted)) => Arc::ptr_eq(held, wanted),
            _ => false,
        };
        if !same {
            *current = (tls.cloned(), client(tls));
        }
        current.1.clone()
    }
}

/// One allowed request on its way upstream.
pub(super) struct Forwarding<'a> {
    pub gateway: &'a Gateway,
    pub index: usize,
    pub route: &'a Route,
    /// The canonical path (see `gateway::path`).
    pub path: &'a str,
    pub identity: &'a Identity,
    /// Whether the connection's peer is a trusted proxy.
    pub trusted_peer: bool,
    /// The declared body length, already checked against the route's limit.
    pub length: Option<u64>,
}

/// Sends the request to the route's upstreams in turn until one answers,
/// and streams its answer back with the rate-limit headers.
pub(super) async fn forward(
    client: &awc::Client,
    f: &Forwarding<'_>,
    req: &HttpRequest,
    payload: web::Payload,
    verdict: Option<&Verdict>,
) -> Result<HttpResponse, ApiError> {
    let has_body =
        f.length.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING);
    let mut payload = Some(payload);
    let too_large = Rc::new(Cell::new(false));
    let balancer = f.gateway.balancer(f.index);
    let mut last = None;
    for upstream in balancer.order(now_ms()) {
        let request = upstream_request(client, f, &f.route.upstreams[upstream], req);
        let sent = match (has_body, payload.take()) {
            (true, Some(body)) => {
                let body = limited(body, f.route.max_body, Rc::clone(&too_large));
                match f.length {
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
                return Ok(relay(answer, req, verdict));
            }
            Err(error) => {
                let refused = never_connected(f.route, &f.route.upstreams[upstream], &error);
                if refused {
                    balancer.mark_down(upstream, now_ms());
                }
                last = Some(error);
                if !refused || has_body {
                    break;
                }
            }
        }
    }
    Err(failure(f.route, last.as_ref(), too_large.get()))
}

/// The request for `target`: method, canonical path and end-to-end headers
/// of `req`, without the credentials the gateway consumed, with the caller
/// it identified and `X-Forwarded-*`.
fn upstream_request(
    client: &awc::Client,
    f: &Forwarding<'_>,
    target: &Upstream,
    req: &HttpRequest,
) -> awc::ClientRequest {
    let path = f.route.upstream_path(target, f.path, req.query_string());
    // One allocation, sized exactly (`format!` would grow its buffer as it writes).
    let scheme = target.scheme();
    let mut url = String::with_capacity(scheme.len() + 3 + target.authority.len() + path.len());
    for part in [scheme, "://", &target.authority, &path] {
        url.push_str(part);
    }
    let mut request = client
        .request(req.method().clone(), url)
        .timeout(f.route.timeout);
    let headers = request.headers_mut();
    copy_end_to_end(req.headers(), headers);
    headers.remove(header::HOST);
    // An http upstream's `Host` is awc's, from the URL, as it always was; a
    // TLS one's is set here, so its port is dropped only when it is 443.
    if target.tls {
        if let Ok(host) = HeaderValue::from_str(target.host_header()) {
            headers.insert(header::HOST, host);
        }
    }
    headers.remove(header::CONTENT_LENGTH);
    let (user_header, key_header) = f.gateway.credential_headers();
    if let Ok(name) = HeaderName::from_bytes(key_header.as_bytes()) {
        headers.remove(name);
    }
    // A key may come as a bearer token too; a JWT stays for the upstream.
    if f.identity.method == Method::ApiKey {
        headers.remove(header::AUTHORIZATION);
    }
    if let (Ok(name), Ok(user)) = (
        HeaderName::from_bytes(user_header.as_bytes()),
        HeaderValue::from_str(&f.identity.user),
    ) {
        headers.insert(name, user);
    }
    forwarded_headers(headers, req, f.trusted_peer);
    request
}

/// `X-Forwarded-For` (the peer appended to a trusted proxy's list, or the
/// peer alone), `-Proto` and `-Host` (a trusted proxy's kept); a client's
/// own `Forwarded` and `X-Real-IP` are dropped.
fn forwarded_headers(headers: &mut HeaderMap, req: &HttpRequest, trusted_peer: bool) {
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let earlier: Vec<&str> = match trusted_peer {
        true => req
            .headers()
            .get_all(&X_FORWARDED_FOR)
            .filter_map(|v| v.to_str().ok())
            .collect(),
        false => Vec::new(),
    };
    let chain = earlier
        .into_iter()
        .chain((!peer.is_empty()).then_some(peer.as_str()));
    if let Ok(value) = HeaderValue::from_str(&chain.collect::<Vec<_>>().join(", ")) {
        headers.insert(X_FORWARDED_FOR.clone(), value);
    }
    if !trusted_peer {
        headers.remove(&FORWARDED);
        headers.remove(&X_REAL_IP);
        headers.remove(&X_FORWARDED_PROTO);
        headers.remove(&X_FORWARDED_HOST);
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    }
    if let (false, Some(host)) = (
        headers.contains_key(&X_FORWARDED_HOST),
        req.headers().get(header::HOST),
    ) {
        headers.insert(X_FORWARDED_HOST.clone(), host.clone());
    }
}

/// The upstream's answer, streamed back, with the rate-limit headers. An
/// answer that has no body by definition (to `HEAD`, or 1xx, 204, 304) is
/// sent without one.
fn relay(
    answer: awc::ClientResponse,
    req: &HttpRequest,
    verdict: Option<&Verdict>,
) -> HttpResponse {
    let status = answer.status();
    let mut response = HttpResponse::build(status);
    let mut copied = HeaderMap::new();
    copy_end_to_end(answer.headers(), &mut copied);
    let length = answer
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .filter(|_| !answer.headers().contains_key(header::TRANSFER_ENCODING));
    for (name, value) in copied.iter().filter(|(n, _)| **n != header::CONTENT_LENGTH) {
        response.append_header((name.clone(), value.clone()));
    }
    if let Some(verdict) = verdict {
        insert_rate_headers(&mut response, &mut BytesMut::with_capacity(128), verdict);
    }
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    match length {
        _ if bodiless => response.finish(),
        Some(n) if req.method() == actix_web::http::Method::HEAD => {
            response.no_chunking(n).finish()
        }
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

/// The request's declared length, refused (`413`) beyond the route's limit
/// before anything is decided or sent.
pub(super) fn content_length(headers: &HeaderMap, route: &Route) -> Result<Option<u64>, ApiError> {
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

/// Whether `error` says the connection was never made (refused, timed out,
/// not resolved, or its TLS handshake failed): the upstream is taken as down,
/// and nothing was sent that could not be sent again. A TLS failure is
/// logged here, once per attempt, as it is a setting to fix, not a blip.
fn never_connected(route: &Route, upstream: &Upstream, error: &SendRequestError) -> bool {
    let SendRequestError::Connect(connect) = error else {
        return false;
    };
    match connect {
        ConnectError::Io(io) if io.get_ref().is_some_and(|e| e.is::<rustls::Error>()) => {
            tracing::warn!(
                route = %route.name,
                upstream = %upstream.authority,
                error = %io,
                "TLS handshake with the upstream failed"
            );
            true
        }
        ConnectError::Io(_) | ConnectError::Timeout | ConnectError::Resolver(_) => true,
        _ => false,
    }
}

/// What the client gets when no upstream answered; the cause is logged here,
/// not told to the client (it may name internal hosts).
fn failure(route: &Route, error: Option<&SendRequestError>, too_large: bool) -> ApiError {
    let name = route.name.clone();
    if too_large {
        return ApiError::TooLarge {
            route: name,
            limit: route.max_body,
        };
    }
    tracing::warn!(route = %route.name, error = ?error, "no upstream answered");
    match error {
        Some(SendRequestError::Timeout) => ApiError::UpstreamTimeout { route: name },
        Some(SendRequestError::Connect(_)) | None => ApiError::BadGateway {
            route: name,
            detail: "no upstream could be reached".into(),
        },
        Some(_) => ApiError::BadGateway {
            route: name,
            detail: "the upstream broke off the exchange".into(),
        },
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

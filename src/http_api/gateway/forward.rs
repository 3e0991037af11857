//! Gateway mode's forwarding: an allowed request goes to one of its route's
//! upstreams and the answer streams back. Bodies stream both ways, never
//! held whole, each pause bounded (`timing.rs`); each worker keeps
//! its own bounded pool of keep-alive connections. Hop-by-hop headers and
//! `Expect` stay behind (`headers.rs`), credentials the gateway
//! consumed are not passed on, and the upstream learns the verified caller
//! (the identity header) and where the request came from. `https://`
//! upstreams are spoken to over TLS, their certificates verified.

use std::cell::RefCell;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::{self, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use awc::error::{ConnectError, SendRequestError};
use futures_util::future::{select, Either};

use super::headers::{copy_end_to_end, forwarded_headers};
use super::timing::{watch, IdleBody, Stall, Upload, UploadBody};
use crate::gateway::identity::{Identity, Method};
use crate::gateway::routes::{Route, Upstream};
use crate::gateway::Gateway;
use crate::http_api::traced::propagate;
use crate::http_api::wire::error::ApiError;
use crate::http_api::wire::headers::insert_rate_headers;
use crate::policy::Verdict;
use crate::telemetry::traces::RequestSpan;
use crate::telemetry::{Refusal, Telemetry};

/// Connections one worker holds to all plain upstreams together (and as
/// many to TLS ones: awc pools them apart): beyond it a request waits for
/// one, rather than the node running out of descriptors.
const MAX_CONNECTIONS: usize = 1024;

/// The client a worker forwards with: keep-alive connections pooled per
/// upstream address, 5 s to connect (and 5 more for a TLS handshake), no
/// timeout of its own (routes bound each exchange: `timing.rs`).
/// Without `tls`, no TLS at all.
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
        .disable_timeout()
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
    pub gateway: &'a Arc<Gateway>,
    pub index: usize,
    pub route: &'a Route,
    /// The canonical path (see `gateway::path`).
    pub path: &'a str,
    pub identity: &'a Identity,
    /// Whether the connection's peer is a trusted proxy.
    pub trusted_peer: bool,
    /// The declared body length, already checked against the route's limit.
    pub length: Option<u64>,
    /// Where refusals are counted.
    pub telemetry: &'a Arc<Telemetry>,
    /// The request's span, whose context the upstream gets; `None`: traces
    /// are off, and the caller's trace headers pass as they came.
    pub span: Option<&'a RequestSpan>,
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
    let mut payload = Some(payload).filter(|_| has_body);
    let (mut last, mut too_large) = (None, false);
    let balancer = f.gateway.balancer(f.index);
    for upstream in balancer.order(now_ms()) {
        let request = upstream_request(client, f, &f.route.upstreams[upstream], req);
        let upload = Upload::new(has_body);
        let sending = pin!(send(request, payload.take(), f, &upload));
        let watching = pin!(watch(&upload, f.route.idle_timeout, f.route.timeout));
        let sent = match select(sending, watching).await {
            Either::Left((sent, _)) => sent,
            Either::Right((stall, _)) => return Err(stalled(f, stall)),
        };
        too_large = upload.too_large.get();
        match sent {
            Ok(answer) => {
                balancer.mark_up(upstream);
                return Ok(relay(answer, f, req, verdict));
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
    Err(failure(f.route, last.as_ref(), too_large))
}

/// Sends `request`, with `body` if it has one, noting the upload's progress.
async fn send(
    request: awc::ClientRequest,
    body: Option<web::Payload>,
    f: &Forwarding<'_>,
    upload: &Rc<Upload>,
) -> Result<awc::ClientResponse, SendRequestError> {
    let Some(body) = body else {
        return request.send().await;
    };
    let body = UploadBody::new(body, f.route.max_body, Rc::clone(upload));
    match f.length {
        Some(n) => {
            request
                .send_body(awc::body::SizedStream::new(n, body))
                .await
        }
        None => request.send_stream(body).await,
    }
}

/// The answer to an exchange that stalled, counted when the client stalled it.
fn stalled(f: &Forwarding<'_>, stall: Stall) -> ApiError {
    let route = f.route.name.clone();
    tracing::warn!(route = %route, ?stall, "the exchange with the upstream stalled");
    match stall {
        Stall::Client => {
            f.telemetry.http_refusal(Refusal::BodyTimeout);
            ApiError::UploadStalled {
                route,
                idle_ms: u64::try_from(f.route.idle_timeout.as_millis()).unwrap_or(u64::MAX),
            }
        }
        Stall::Upstream | Stall::NoAnswer => ApiError::UpstreamTimeout { route },
    }
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
    let mut request = client.request(req.method().clone(), url);
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
    if let Some(span) = f.span {
        propagate(span, headers);
    }
    request
}

/// The upstream's answer, streamed back, with the rate-limit headers. An
/// answer that has no body by definition (to `HEAD`, or 1xx, 204, 304) is
/// sent without one.
fn relay(
    answer: awc::ClientResponse,
    f: &Forwarding<'_>,
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
        Some(n) => response.body(actix_web::body::SizedStream::new(n, idle(answer, f))),
        None => response.streaming(idle(answer, f)),
    }
}

/// The answer's body, cut when it pauses past the route's idle timeout.
fn idle(answer: awc::ClientResponse, f: &Forwarding<'_>) -> IdleBody<awc::ClientResponse> {
    IdleBody::new(
        answer,
        Arc::clone(f.gateway),
        f.index,
        Arc::clone(f.telemetry),
    )
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

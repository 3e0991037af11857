//! `/v1/forward-auth`: the decision of `/protected` for a request a proxy asks
//! about (Caddy `forward_auth`, nginx `auth_request`, Traefik ForwardAuth, Envoy
//! ext_authz HTTP), described by the headers the proxy forwards.

use std::net::IpAddr;

use actix_web::body::BoxBody;
use actix_web::http::header::{HeaderMap, HeaderName, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};

use super::protected::{decide, identify, USER_ID};
use crate::http_api::traced::{answered, RequestHeaders};
use crate::http_api::wire::error::ApiError;
use crate::http_api::AppState;
use crate::policy::Request;
use crate::telemetry::traces::RequestSpan;

/// The route; Envoy's ext_authz appends the original path to it.
pub const PATH: &str = "/v1/forward-auth";
/// Longest route accepted (as `/v1/check`).
const MAX_ROUTE: usize = 512;
/// Longest host accepted (a DNS name, a port and brackets fit).
const MAX_HOST: usize = 262;

/// A forwarded header: its name, and how an error spells it.
struct Forwarded(HeaderName, &'static str);

static METHOD: Forwarded = Forwarded(
    HeaderName::from_static("x-forwarded-method"),
    "X-Forwarded-Method",
);
static URI: Forwarded = Forwarded(
    HeaderName::from_static("x-forwarded-uri"),
    "X-Forwarded-Uri",
);
/// What nginx configurations send by convention (`$request_uri`).
static ORIGINAL_URI: Forwarded =
    Forwarded(HeaderName::from_static("x-original-uri"), "X-Original-URI");
static HOST: Forwarded = Forwarded(
    HeaderName::from_static("x-forwarded-host"),
    "X-Forwarded-Host",
);
static FOR: Forwarded = Forwarded(
    HeaderName::from_static("x-forwarded-for"),
    "X-Forwarded-For",
);
static REAL_IP: Forwarded = Forwarded(HeaderName::from_static("x-real-ip"), "X-Real-IP");

/// Decides the original request at cost 1: 200 or 429 with the rate-limit
/// headers, as `/protected`; 401 without a valid identity; 400 for a
/// malformed forwarded header. In a span of its own when traces are on.
pub async fn forward_auth(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let Some(traces) = &state.traces else {
        return answer(&req, &state, None);
    };
    let mut span = traces.server_span("forward-auth", &RequestHeaders(req.headers()), Vec::new());
    let answer = answer(&req, &state, Some(&mut span));
    answered(&mut span, &answer);
    answer
}

fn answer(
    req: &HttpRequest,
    state: &AppState,
    mut span: Option<&mut RequestSpan>,
) -> Result<HttpResponse, ApiError> {
    // Only X-Limiter-Token: Authorization is the client's, forwarded.
    state
        .decision
        .check(req.headers(), false, &state.telemetry)?;
    let request = describe(req, &state.forward_auth_user_header)
        .inspect_err(|e| state.telemetry.bad_request(e.code()))?;
    if let Some(span) = span.as_deref_mut() {
        span.set("http.request.method", request.method.to_string());
        span.set("limiter.route", request.route.to_string());
        span.set("enduser.id", request.user.to_string());
    }
    let mut response = decide(state, &request, span);
    if response.status() != StatusCode::OK {
        return Ok(response);
    }
    response.headers_mut().remove(CONTENT_TYPE);
    // An allowed answer says everything in its headers. Without a body,
    // proxies that never read an auth answer's body (Caddy, nginx) can keep
    // their connection to the limiter open instead of opening one per request.
    Ok(response.set_body(BoxBody::new(Bytes::new())))
}

/// The original request as the rules see it. The host is checked but not
/// matched on: rules have no host condition yet.
fn describe<'r>(req: &'r HttpRequest, user_header: &HeaderName) -> Result<Request<'r>, ApiError> {
    let (user, tenant) = identify(req, user_header).map_err(|e| unidentified(e, user_header))?;
    let headers = req.headers();
    let method = match single(headers, &METHOD)? {
        Some(method) if valid_method(method) => method,
        Some(_) => {
            return Err(ApiError::field(
                METHOD.1,
                "an HTTP method such as GET or POST",
            ))
        }
        None => req.method().as_str(),
    };
    if let Some(host) = single(headers, &HOST)? {
        if !valid_host(host) {
            return Err(ApiError::field(
                HOST.1,
                "a host name or address, with an optional port",
            ));
        }
    }
    Ok(Request {
        user,
        route: route(req)?,
        method,
        tenant,
        ip: client_ip(req)?,
        plan: None,
    })
}

/// An identity error of `/protected` as a 401 naming the header it is about.
pub(crate) fn unidentified(error: ApiError, user_header: &HeaderName) -> ApiError {
    let code = error.code();
    let (header, detail) = match error {
        ApiError::InvalidField { field, reason } => (field, reason),
        other => {
            let name = if *user_header == USER_ID {
                "X-User-ID"
            } else {
                user_header.as_str()
            };
            (
                name.to_string(),
                other.to_string().replace("X-User-ID", name),
            )
        }
    };
    ApiError::Unidentified {
        header,
        code,
        detail,
    }
}

/// The path, query stripped: from `X-Forwarded-Uri`, else `X-Original-URI`,
/// else (Envoy) this request's own path after [`PATH`].
fn route(req: &HttpRequest) -> Result<&str, ApiError> {
    let headers = req.headers();
    let (forwarded, uri) = match single(headers, &URI)? {
        Some(uri) => (&URI, uri),
        None => match single(headers, &ORIGINAL_URI)? {
            Some(uri) => (&ORIGINAL_URI, uri),
            None => {
                // Envoy: the original path, after the prefix (same bounds:
                // it becomes part of bucket keys).
                let rest = req.path().strip_prefix(PATH).unwrap_or_default();
                return checked_path(if rest.is_empty() { "/" } else { rest }, "path");
            }
        },
    };
    checked_path(
        uri.split(['?', '#']).next().unwrap_or_default(),
        forwarded.1,
    )
}

/// `path` if it is one: starting with '/', at most [`MAX_ROUTE`] bytes of
/// visible ASCII; else a 400 naming `field`.
fn checked_path<'p>(path: &'p str, field: &str) -> Result<&'p str, ApiError> {
    if path.starts_with('/')
        && path.len() <= MAX_ROUTE
        && path.bytes().all(|b| b.is_ascii_graphic())
    {
        Ok(path)
    } else {
        Err(ApiError::field(
            field,
            "a path starting with '/', at most 512 bytes of visible ASCII (a query is ignored)",
        ))
    }
}

/// The rightmost `X-Forwarded-For` address (the one the calling proxy saw
/// itself: everything left of it the client may have written), else
/// `X-Real-IP`, else the peer of this connection.
fn client_ip(req: &HttpRequest) -> Result<Option<IpAddr>, ApiError> {
    let headers = req.headers();
    let (forwarded, text) = match headers.get_all(&FOR.0).last() {
        Some(value) => (&FOR, value.to_str().unwrap_or_default().rsplit(',').next()),
        None => match single(headers, &REAL_IP)? {
            Some(text) => (&REAL_IP, Some(text)),
            None => return Ok(req.peer_addr().map(|a| a.ip())),
        },
    };
    match text.and_then(|t| t.trim().parse().ok()) {
        Some(ip) => Ok(Some(ip)),
        None => Err(ApiError::field(
            forwarded.1,
            "an IPv4 or IPv6 address (of X-Forwarded-For, the rightmost entry)",
        )),
    }
}

/// The one value of `header`, if sent: more than one is ambiguous.
fn single<'r>(headers: &'r HeaderMap, header: &Forwarded) -> Result<Option<&'r str>, ApiError> {
    let mut values = headers.get_all(&header.0);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::field(header.1, "send at most one"));
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| ApiError::field(header.1, "must be visible ASCII"))
}

fn valid_method(method: &str) -> bool {
    (1..=32).contains(&method.len()) && method.bytes().all(|b| b.is_ascii_alphabetic())
}

fn valid_host(host: &str) -> bool {
    (1..=MAX_HOST).contains(&host.len())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
}

#[cfg(test)]
#[path = "forward_auth_tests.rs"]
mod tests;

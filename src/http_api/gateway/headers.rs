//! The headers that cross the gateway: hop-by-hop ones stay behind both
//! ways, and the upstream learns where a request came from in
//! `X-Forwarded-*` — believing what a client says only from a trusted proxy.

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::HttpRequest;

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

/// `X-Forwarded-For` (the peer appended to a trusted proxy's list, or the
/// peer alone), `-Proto` and `-Host` (a trusted proxy's kept); a client's
/// own `Forwarded` and `X-Real-IP` are dropped.
pub(super) fn forwarded_headers(headers: &mut HeaderMap, req: &HttpRequest, trusted_peer: bool) {
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

/// Copies every header but the hop-by-hop ones (and those `Connection` names).
pub(super) fn copy_end_to_end(from: &HeaderMap, to: &mut HeaderMap) {
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

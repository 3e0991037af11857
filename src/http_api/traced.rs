//! Traces on the HTTP surfaces: a request's headers as the carrier of its
//! caller's trace context, and that context replaced by the gateway's span
//! on the request it sends upstream.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use super::wire::error::ApiError;
use crate::telemetry::traces::{Carrier, RequestSpan, B3_FLAGS, HEADERS};

/// A request's headers, read for trace context.
pub struct RequestHeaders<'h>(pub &'h HeaderMap);

impl Carrier for RequestHeaders<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name)?.to_str().ok()
    }
}

/// Replaces the caller's trace headers in `headers` (every format) with
/// `span`'s context, so the upstream's spans are children of it.
pub fn propagate(span: &RequestSpan, headers: &mut HeaderMap) {
    for name in HEADERS.into_iter().chain([B3_FLAGS]) {
        headers.remove(name);
    }
    span.inject(|name, value| {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    });
}

/// Notes on `span` the status `answer` goes out with.
pub fn answered(span: &mut RequestSpan, answer: &Result<HttpResponse, ApiError>) {
    let status = match answer {
        Ok(response) => response.status(),
        Err(error) => error.status_code(),
    };
    span.set("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() || status == StatusCode::UNAUTHORIZED {
        span.error(status.canonical_reason().unwrap_or("error"));
    }
}

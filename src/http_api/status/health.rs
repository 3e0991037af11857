//! `GET /metrics` (Prometheus text), `GET /healthz` (alive) and
//! `GET /readyz` (serving decisions that reflect the cluster).

use std::sync::atomic::Ordering;

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};

use crate::http_api::AppState;

/// What each of these routes is.
pub(crate) type Handler = fn(web::Data<AppState>) -> std::future::Ready<HttpResponse>;

/// `GET /metrics`.
pub(crate) fn metrics(state: web::Data<AppState>) -> std::future::Ready<HttpResponse> {
    let text = state.telemetry.render(&state.store);
    std::future::ready(
        HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
    )
}

/// `GET /healthz`.
pub(crate) fn healthz(_: web::Data<AppState>) -> std::future::Ready<HttpResponse> {
    std::future::ready(json(HttpResponse::Ok(), r#"{"status":"ok"}"#))
}

/// Ready once replication has bootstrapped and the gateway's JWKS (if any)
/// has had its first fetch.
pub(crate) fn readyz(state: web::Data<AppState>) -> std::future::Ready<HttpResponse> {
    let gateway = state.gateway.as_ref();
    let ready =
        state.ready.load(Ordering::Acquire) && gateway.is_none_or(|g| g.peek().keys_tried());
    std::future::ready(if ready {
        json(HttpResponse::Ok(), r#"{"status":"ready"}"#)
    } else {
        json(
            HttpResponse::ServiceUnavailable(),
            r#"{"status":"starting"}"#,
        )
    })
}

fn json(mut builder: actix_web::HttpResponseBuilder, body: &'static str) -> HttpResponse {
    builder.insert_header(ContentType::json()).body(body)
}

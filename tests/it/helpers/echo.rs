//! An upstream for gateway tests: an HTTP server on 127.0.0.1 port 0 that
//! answers, as JSON, what reached it (method, path, query, headers, body
//! size); `/slow` waits 2 s first, `/big` streams [`BIG`] bytes back,
//! `/stall` sends a first piece of its answer and never the rest,
//! `/status/N` answers status N with no body.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use serde_json::{json, Value};

/// Rules for gateway tests: plan free (2 tokens) by default, plan pro (5),
/// both refilling too slowly to matter, counted per user.
pub const PLAN_RULES: &str = r#"
default_plan = "free"
[plans.free]
capacity = 2
refill_per_sec = 0.001
[plans.pro]
capacity = 5
refill_per_sec = 0.001
[[rules]]
name = "per-user"
key = "user"
limit = "plan"
"#;

/// Bytes of the streamed bodies: larger than any buffer on the way.
pub const BIG: usize = 64 << 20;

/// An upstream that answers what reached it, as JSON; `/slow` waits 2 s
/// first, `/big` streams [`BIG`] bytes back. Counts the requests it saw.
pub struct Echo {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Echo {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let counter = web::Data::from(counter);
                HttpServer::new(move || {
                    App::new()
                        .app_data(counter.clone())
                        .default_service(web::to(echo))
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run()
                .await
            })
        });
        Self { addr, hits }
    }

    /// Requests that reached it.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn echo(
    req: HttpRequest,
    mut body: web::Payload,
    hits: web::Data<AtomicUsize>,
) -> HttpResponse {
    hits.fetch_add(1, Ordering::SeqCst);
    // Counted as it streams: never held whole.
    let mut bytes = 0usize;
    while let Some(chunk) = body.next().await {
        bytes += chunk.map_or(0, |c| c.len());
    }
    if req.path() == "/slow" {
        actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    }
    if let Some(code) = req.path().strip_prefix("/status/") {
        let code = actix_web::http::StatusCode::from_u16(code.parse().unwrap()).unwrap();
        return HttpResponse::build(code).finish();
    }
    if req.path() == "/stall" {
        let first = futures_util::stream::once(async {
            Ok::<_, actix_web::Error>(web::Bytes::from_static(b"first piece"))
        });
        return HttpResponse::Ok().streaming(first.chain(futures_util::stream::pending()));
    }
    if req.path() == "/big" {
        let chunk = web::Bytes::from(vec![b'x'; 1 << 16]);
        let chunks = futures_util::stream::iter(
            (0..BIG >> 16).map(move |_| Ok::<_, actix_web::Error>(chunk.clone())),
        );
        return HttpResponse::Ok().streaming(chunks);
    }
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    HttpResponse::Ok()
        .insert_header(("x-upstream", "echo"))
        .json(json!({
            "method": req.method().as_str(),
            "path": req.path(),
            "query": req.query_string(),
            "headers": headers,
            "body_bytes": bytes,
        }))
}

/// `GET url` with `headers`: status, the `X-RateLimit-Limit` header, and the
/// JSON body (`null` if it is not JSON).
pub fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, Value) {
    let mut request = ureq::get(url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let status = response.status();
    let limit = response.header("x-ratelimit-limit").map(str::to_string);
    let body = serde_json::from_str(&response.into_string().unwrap()).unwrap_or(Value::Null);
    (status, limit, body)
}

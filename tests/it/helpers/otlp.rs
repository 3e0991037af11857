//! An OpenTelemetry collector for trace tests: a real OTLP receiver, over
//! gRPC or HTTP (protobuf bodies on `/v1/traces`), made from the official
//! protobuf definitions (`opentelemetry-proto`), on 127.0.0.1 port 0,
//! keeping every span it is sent.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use parking_lot::Mutex;

/// One span as received: IDs in lower-case hex, attributes as text.
#[derive(Clone, Debug)]
pub struct Received {
    /// The `service.name` of the resource it came with.
    pub service: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent: String,
    /// OTLP's `SpanKind` (2: server, 3: client).
    pub kind: i32,
    pub attributes: BTreeMap<String, String>,
}

impl Received {
    /// Attribute `key`, or "" without it.
    pub fn attribute(&self, key: &str) -> &str {
        self.attributes.get(key).map_or("", String::as_str)
    }
}

/// The receiver; it stops with the test process.
pub struct Collector {
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
}

struct Service(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        keep(&self.0, request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Adds the spans of `request` to `spans`.
fn keep(spans: &Mutex<Vec<Received>>, request: ExportTraceServiceRequest) {
    let mut kept = spans.lock();
    for resource in request.resource_spans {
        let attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
        let service = text(&attributes).remove("service.name").unwrap_or_default();
        for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
            kept.push(Received {
                service: service.clone(),
                name: span.name,
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent: hex(&span.parent_span_id),
                kind: span.kind,
                attributes: text(&span.attributes),
            });
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

impl Collector {
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let service = TraceServiceServer::new(Service(Arc::clone(&spans)));
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let incoming = tonic::transport::server::TcpIncoming::from(listener);
                tonic::transport::Server::builder()
                    .serve_with_incoming_shutdown(service, incoming, std::future::pending())
                    .await
                    .unwrap();
            });
        });
        Self { addr, spans }
    }

    /// A receiver of OTLP/HTTP: protobuf bodies posted to `/v1/traces`.
    pub fn start_http() -> Self {
        use actix_web::{web, App, HttpResponse, HttpServer};
        use prost::Message;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = web::Data::from(Arc::clone(&spans));
        let receive = |body: web::Bytes, spans: web::Data<Mutex<Vec<Received>>>| async move {
            match ExportTraceServiceRequest::decode(body) {
                Ok(request) => {
                    keep(&spans, request);
                    let answer = ExportTraceServiceResponse::default().encode_to_vec();
                    HttpResponse::Ok()
                        .content_type("application/x-protobuf")
                        .body(answer)
                }
                Err(_) => HttpResponse::BadRequest().finish(),
            }
        };
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                HttpServer::new(move || {
                    App::new()
                        .app_data(kept.clone())
                        .route("/v1/traces", web::post().to(receive))
                })
                .workers(1)
                .listen(listener)
                .unwrap()
                .run()
                .await
            })
        });
        Self { addr, spans }
    }

    /// `http://ADDR`, for `--otlp-endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().clone()
    }

    /// The first span received that `matches`, waiting up to 20 s for it.
    #[track_caller]
    pub fn wait_for(&self, what: &str, matches: impl Fn(&Received) -> bool) -> Received {
        let mut found = None;
        super::eventually(Duration::from_secs(20), what, || {
            found = self.spans().into_iter().find(|s| matches(s));
            found.is_some()
        });
        found.unwrap()
    }
}

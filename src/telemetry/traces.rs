//! Traces over OTLP: a span per gateway, forward-auth and rate-limit-service
//! request, child of the caller's trace context when it sent one. Off unless
//! `--otlp-endpoint` is set; then a node holds a [`Traces`], and handlers
//! check for it once (`Option`), so off costs one branch per request.

use std::borrow::Cow;
use std::time::Duration;

use metrics::describe_counter;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

use super::Telemetry;
use crate::policy::Verdict;

mod export;
mod propagation;

pub use export::StartError;
use export::{Counters, Queue};
pub use propagation::{extract, inject, Carrier, Format, B3_FLAGS, HEADERS};

/// How spans are sent to the collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (port 4317 by convention).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (port 4318 by convention).
    Http,
}

/// The validated trace settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSettings {
    /// The collector: for HTTP, the full URL spans are posted to.
    pub endpoint: String,
    /// gRPC or HTTP.
    pub protocol: OtlpProtocol,
    /// Fraction of new traces kept, in [0, 1].
    pub sample_ratio: f64,
    /// `service.name` of the spans.
    pub service_name: String,
}

const EXPORTED: &str = "limiter_traces_exported_total";
const DROPPED: &str = "limiter_traces_dropped_total";

/// A node's tracer; dropping it sends the spans still queued (for at most 2 s).
#[derive(Debug)]
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Traces {
    /// Starts the export thread and the tracer: parent-based sampling, new
    /// traces kept at `settings.sample_ratio`.
    pub fn start(settings: &TraceSettings, telemetry: &Telemetry) -> Result<Self, StartError> {
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build();
        let queue = Queue::start(settings, resource.clone(), telemetry.trace_counters())?;
        let sampler =
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(queue)
            .with_sampler(sampler)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("crdt-limiter");
        Ok(Self { provider, tracer })
    }

    /// A server span named `name`, child of the context `carrier` holds
    /// (a new trace without one).
    pub fn server_span<C: Carrier + ?Sized>(
        &self,
        name: impl Into<Cow<'static, str>>,
        carrier: &C,
        attributes: Vec<KeyValue>,
    ) -> RequestSpan {
        let (parent, format) = match extract(carrier) {
            Some((span, format)) => (Context::new().with_remote_span_context(span), Some(format)),
            None => (Context::new(), None),
        };
        let span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        RequestSpan { span, format }
    }
}

impl Drop for Traces {
    fn drop(&mut self) {
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(2));
    }
}

/// One request's span; it ends, and is queued for export, when dropped.
pub struct RequestSpan {
    span: opentelemetry_sdk::trace::Span,
    /// How the caller sent its context; `None`: it sent none.
    format: Option<Format>,
}

impl RequestSpan {
    /// Sets attribute `key`.
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        self.span.set_attribute(KeyValue::new(key, value));
    }

    /// Names the span anew (once its route is known).
    pub fn rename(&mut self, name: String) {
        self.span.update_name(name);
    }

    /// Marks the span failed, saying why.
    pub fn error(&mut self, why: &'static str) {
        self.span.set_status(Status::error(why));
    }

    /// The decision's attributes: `limiter.outcome` and `limiter.rule`.
    pub fn verdict(&mut self, verdict: Option<&Verdict>) {
        let Some(verdict) = verdict else {
            self.set("limiter.outcome", "allowed");
            return;
        };
        let (index, outcome) = verdict.outcome();
        self.set("limiter.outcome", outcome.as_str());
        self.set(
            "limiter.rule",
            verdict.rules().rules()[index].name.to_string(),
        );
    }

    /// Writes this span's context for the next hop through `set`: W3C, and
    /// B3 too if the caller used B3.
    pub fn inject(&self, set: impl FnMut(&'static str, String)) {
        inject(self.span.span_context(), self.format, set);
    }
}

impl Telemetry {
    /// The export thread's counters.
    fn trace_counters(&self) -> Counters {
        self.local(|| {
            describe_counter!(EXPORTED, "Spans the OTLP collector accepted.");
            describe_counter!(
                DROPPED,
                "Spans dropped, by reason: queue_full (the export queue was full), export_failed (the collector refused or did not answer in time)."
            );
            Counters {
                exported: metrics::counter!(EXPORTED),
                queue_full: metrics::counter!(DROPPED, "reason" => "queue_full"),
                export_failed: metrics::counter!(DROPPED, "reason" => "export_failed"),
            }
        })
    }
}

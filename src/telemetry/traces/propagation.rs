//! Trace context in headers: W3C `traceparent` + `tracestate`, and B3 as a
//! single `b3` header or as `X-B3-*`. Read from a request (the first found
//! of those), written onto the request sent upstream in the same form.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The headers that carry trace context, in every format read.
pub const HEADERS: [&str; 7] = [
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
];
/// Also B3 (the debug flag); apart so [`HEADERS`] stays what is written.
pub const B3_FLAGS: &str = "x-b3-flags";

/// How a caller sent its trace context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `traceparent` (and `tracestate`).
    W3c,
    /// One `b3` header.
    B3Single,
    /// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`.
    B3Multi,
}

/// A request's headers, looked up by lower-case name.
pub trait Carrier {
    /// The first value of `name`, if it is text.
    fn header(&self, name: &str) -> Option<&str>;
}

struct AsExtractor<'c, C: ?Sized>(&'c C);

impl<C: Carrier + ?Sized> Extractor for AsExtractor<'_, C> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.header(key)
    }

    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// The caller's span context and its format; `None` when it sent none
/// (or none valid).
pub fn extract<C: Carrier + ?Sized>(carrier: &C) -> Option<(SpanContext, Format)> {
    if carrier.header("traceparent").is_some() {
        let cx = TraceContextPropagator::new().extract(&AsExtractor(carrier));
        let span = cx.span().span_context().clone();
        return span.is_valid().then_some((span, Format::W3c));
    }
    if let Some(single) = carrier.header("b3") {
        return b3_single(single).map(|span| (span, Format::B3Single));
    }
    let trace = carrier.header("x-b3-traceid")?;
    let span = carrier.header("x-b3-spanid")?;
    let sampled = match (carrier.header(B3_FLAGS), carrier.header("x-b3-sampled")) {
        (Some("1"), _) => Some(true),
        (_, Some("1" | "true")) => Some(true),
        (_, Some("0" | "false")) => Some(false),
        _ => None,
    };
    b3_context(trace, span, sampled).map(|span| (span, Format::B3Multi))
}

/// `{trace}-{span}[-{1|0|d}[-{parent}]]`; a lone sampling state carries no context.
fn b3_single(value: &str) -> Option<SpanContext> {
    let mut parts = value.trim().split('-');
    let (trace, span) = (parts.next()?, parts.next()?);
    let sampled = match parts.next() {
        None => None,
        Some("1" | "d") => Some(true),
        Some("0") => Some(false),
        Some(_) => return None,
    };
    b3_context(trace, span, sampled)
}

/// A B3 trace ID (16 or 32 hex digits) and span ID (16); without a
/// sampling decision the trace is kept (the caller chose to start it).
fn b3_context(trace: &str, span: &str, sampled: Option<bool>) -> Option<SpanContext> {
    let hex = |s: &str, lens: &[usize]| {
        lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
    };
    if !hex(trace, &[16, 32]) || !hex(span, &[16]) {
        return None;
    }
    let trace = TraceId::from_hex(trace).ok()?;
    let span = SpanId::from_hex(span).ok()?;
    let flags = match sampled.unwrap_or(true) {
        true => TraceFlags::SAMPLED,
        false => TraceFlags::default(),
    };
    let cx = SpanContext::new(trace, span, flags, true, TraceState::default());
    cx.is_valid().then_some(cx)
}

/// Writes `span` as `format` (W3C also for a B3 caller's upstream) through `set`.
pub fn inject(
    span: &SpanContext,
    format: Option<Format>,
    mut set: impl FnMut(&'static str, String),
) {
    let sampled = span.is_sampled();
    set(
        "traceparent",
        format!(
            "00-{}-{}-{:02x}",
            span.trace_id(),
            span.span_id(),
            span.trace_flags().to_u8()
        ),
    );
    let state = span.trace_state().header();
    if !state.is_empty() {
        set("tracestate", state);
    }
    let bit = if sampled { "1" } else { "0" };
    match format {
        Some(Format::B3Single) => set(
            "b3",
            format!("{}-{}-{bit}", span.trace_id(), span.span_id()),
        ),
        Some(Format::B3Multi) => {
            set("x-b3-traceid", span.trace_id().to_string());
            set("x-b3-spanid", span.span_id().to_string());
            set("x-b3-sampled", bit.to_string());
        }
        Some(Format::W3c) | None => {}
    }
}

#[cfg(test)]
#[path = "propagation_tests.rs"]
mod tests;

//! Unit tests of trace context in headers: each format read, invalid
//! context ignored, and the next hop's headers written in the caller's form.

use std::collections::HashMap;

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use super::{extract, inject, Carrier, Format};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

struct Headers(HashMap<&'static str, String>);

impl Carrier for Headers {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> Headers {
    Headers(pairs.iter().map(|(k, v)| (*k, v.to_string())).collect())
}

/// The trace ID, span ID, sampled flag and format read from `pairs`.
fn read(pairs: &[(&'static str, &str)]) -> Option<(String, String, bool, Format)> {
    let (span, format) = extract(&headers(pairs))?;
    Some((
        span.trace_id().to_string(),
        span.span_id().to_string(),
        span.is_sampled(),
        format,
    ))
}

fn expected(sampled: bool, format: Format) -> Option<(String, String, bool, Format)> {
    Some((TRACE.into(), SPAN.into(), sampled, format))
}

#[test]
fn w3c_traceparent_is_read_with_its_flag() {
    let sampled = format!("00-{TRACE}-{SPAN}-01");
    assert_eq!(
        read(&[("traceparent", &sampled)]),
        expected(true, Format::W3c)
    );
    let not = format!("00-{TRACE}-{SPAN}-00");
    assert_eq!(read(&[("traceparent", &not)]), expected(false, Format::W3c));
}

#[test]
fn invalid_context_is_no_context() {
    let zeros = format!("00-{}-{SPAN}-01", "0".repeat(32));
    for bad in [zeros.as_str(), "00-xyz-01", "garbage"] {
        assert_eq!(read(&[("traceparent", bad)]), None, "{bad}");
    }
    assert_eq!(read(&[("b3", "0")]), None, "a lone sampling decision");
    assert_eq!(read(&[("b3", "abc-def-1")]), None);
    assert_eq!(read(&[("x-b3-traceid", TRACE)]), None, "no span ID");
    assert_eq!(read(&[]), None);
}

#[test]
fn b3_single_is_read_with_or_without_its_parts() {
    let full = format!("{TRACE}-{SPAN}-1-0020000000000001");
    assert_eq!(read(&[("b3", &full)]), expected(true, Format::B3Single));
    let unsampled = format!("{TRACE}-{SPAN}-0");
    assert_eq!(
        read(&[("b3", &unsampled)]),
        expected(false, Format::B3Single)
    );
    let deferred = format!("{TRACE}-{SPAN}");
    assert_eq!(read(&[("b3", &deferred)]), expected(true, Format::B3Single));
    // A 64-bit trace ID is the low half of a 128-bit one.
    let short = format!("a3ce929d0e0e4736-{SPAN}-1");
    let (trace, ..) = read(&[("b3", &short)]).unwrap();
    assert_eq!(trace, "0000000000000000a3ce929d0e0e4736");
}

#[test]
fn b3_multi_is_read_and_debug_means_sampled() {
    let base = [("x-b3-traceid", TRACE), ("x-b3-spanid", SPAN)];
    let with = |more: (&'static str, &'static str)| read(&[base[0], base[1], more]);
    assert_eq!(with(("x-b3-sampled", "1")), expected(true, Format::B3Multi));
    assert_eq!(
        with(("x-b3-sampled", "0")),
        expected(false, Format::B3Multi)
    );
    assert_eq!(with(("x-b3-flags", "1")), expected(true, Format::B3Multi));
}

#[test]
fn w3c_wins_over_b3() {
    let w3c = format!("00-{TRACE}-{SPAN}-01");
    let b3 = format!("{}-{}-1", "1".repeat(32), "2".repeat(16));
    assert_eq!(
        read(&[("traceparent", &w3c), ("b3", &b3)]),
        expected(true, Format::W3c)
    );
}

fn written(format: Option<Format>, state: &str) -> HashMap<&'static str, String> {
    let span = SpanContext::new(
        TraceId::from_hex(TRACE).unwrap(),
        SpanId::from_hex(SPAN).unwrap(),
        TraceFlags::SAMPLED,
        false,
        state.parse::<TraceState>().unwrap(),
    );
    let mut out = HashMap::new();
    inject(&span, format, |name, value| {
        out.insert(name, value);
    });
    out
}

#[test]
fn the_next_hop_gets_w3c_and_the_callers_b3_form() {
    let w3c = format!("00-{TRACE}-{SPAN}-01");
    let plain = written(None, "");
    assert_eq!(plain, HashMap::from([("traceparent", w3c.clone())]));
    assert_eq!(written(Some(Format::W3c), "a=1")["tracestate"], "a=1");
    let single = written(Some(Format::B3Single), "");
    assert_eq!(single["b3"], format!("{TRACE}-{SPAN}-1"));
    assert_eq!(single["traceparent"], w3c);
    let multi = written(Some(Format::B3Multi), "");
    assert_eq!(multi["x-b3-traceid"], TRACE);
    assert_eq!(multi["x-b3-spanid"], SPAN);
    assert_eq!(multi["x-b3-sampled"], "1");
}

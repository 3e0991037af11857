//! Traces over OTLP, on the real binary, to a real OTLP receiver
//! (`helpers/otlp.rs`): the gateway's span is the child of the caller's
//! context (W3C or B3) and the upstream gets the gateway's span as its
//! parent; forward-auth's span is the caller's child; with tracing off,
//! trace headers pass unchanged and nothing is exported; a dead collector
//! costs spans, never requests. Envoy's rate-limit calls: `tracing/envoy.rs`.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::echo::{self, Echo};
use crate::helpers::otlp::{Collector, Received};
use crate::helpers::{eventually, temp_dir, NodeProcess};

mod envoy;

/// The caller's trace and span (what a traced client sends).
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

/// A gateway node (route `api` to `echo`, 2 requests per user) with `flags`
/// and `env`.
fn gateway(echo: &Echo, flags: &[&str], env: &[(&str, &str)]) -> NodeProcess {
    let file = temp_dir("tracing-gateway").join("gateway.toml");
    let routes = format!(
        "[[routes]]\nname = \"api\"\nprefix = \"/api\"\nupstreams = [\"http://{}\"]\n",
        echo.addr
    );
    std::fs::write(&file, routes).unwrap();
    let mut args = vec![
        "--capacity",
        "2",
        "--refill-per-sec",
        "0.001",
        "--gateway",
        file.to_str().unwrap(),
        "--trusted-proxies",
        "127.0.0.1/32",
    ];
    args.extend_from_slice(flags);
    let node = NodeProcess::start_with_env(&args, env);
    node.wait_ready(Duration::from_secs(10));
    node
}

/// A gateway node exporting to `collector`.
fn traced_gateway(echo: &Echo, collector: &Collector) -> NodeProcess {
    gateway(echo, &["--otlp-endpoint", &collector.endpoint()], &[])
}

/// `GET /api/...` through `node` as `user` with `headers`: status and the
/// headers that reached the upstream.
fn through(node: &NodeProcess, path: &str, user: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("X-User-ID", user)];
    all.extend_from_slice(headers);
    let (status, _, body) = echo::get(&format!("http://{}{path}", node.addr), &all);
    (status, body["headers"].clone())
}

/// The upstream's header `name`, or "" without it.
fn header<'v>(headers: &'v Value, name: &str) -> &'v str {
    headers[name].as_str().unwrap_or("")
}

/// The node's span in trace `trace`.
fn node_span(collector: &Collector, what: &str, trace: &str) -> Received {
    collector.wait_for(what, |s| s.service == "crdt-limiter" && s.trace_id == trace)
}

#[test]
fn the_gateway_span_is_the_callers_child_and_the_upstreams_parent() {
    let (echo, collector) = (Echo::start(), Collector::start());
    let node = traced_gateway(&echo, &collector);
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let sent = [
        ("traceparent", traceparent.as_str()),
        ("tracestate", "vendor=opaque"),
    ];
    let (status, upstream) = through(&node, "/api/orders", "alice", &sent);
    assert_eq!(status, 200);

    let span = node_span(&collector, "the gateway's span", TRACE);
    assert_eq!(
        span.parent, PARENT,
        "the caller's span is the parent: {span:?}"
    );
    assert_eq!(span.kind, 2, "a server span");
    assert_eq!(span.name, "GET api");
    for (key, value) in [
        ("http.route", "api"),
        ("http.request.method", "GET"),
        ("http.response.status_code", "200"),
        ("limiter.outcome", "allowed"),
        ("limiter.rule", "default"),
        ("enduser.id", "alice"),
        ("limiter.identity", "header"),
    ] {
        assert_eq!(span.attribute(key), value, "{key}: {span:?}");
    }
    // The upstream's parent is the gateway's span, in the same trace.
    let expected = format!("00-{TRACE}-{}-01", span.span_id);
    assert_eq!(header(&upstream, "traceparent"), expected);
    assert_eq!(header(&upstream, "tracestate"), "vendor=opaque");

    // A refused request has its span too, never reaching the upstream.
    let other = "0af7651916cd43dd8448eb211c80319c";
    let limited = format!("00-{other}-{PARENT}-01");
    for _ in 0..2 {
        through(&node, "/api/orders", "bob", &[("traceparent", &limited)]);
    }
    let (status, _) = through(&node, "/api/orders", "bob", &[("traceparent", &limited)]);
    assert_eq!(status, 429);
    collector.wait_for("the refused request's span", |s| {
        s.trace_id == other && s.attribute("limiter.outcome") == "limited"
    });
    assert_eq!(echo.hits(), 3);
}

#[test]
fn b3_callers_get_b3_upstream_in_the_form_they_sent() {
    let (echo, collector) = (Echo::start(), Collector::start());
    let node = traced_gateway(&echo, &collector);

    let single = format!("{TRACE}-{PARENT}-1");
    let (status, upstream) = through(&node, "/api/a", "alice", &[("b3", &single)]);
    assert_eq!(status, 200);
    let span = node_span(&collector, "the span of the b3 request", TRACE);
    assert_eq!(span.parent, PARENT);
    assert_eq!(
        header(&upstream, "b3"),
        format!("{TRACE}-{}-1", span.span_id)
    );
    let w3c = format!("00-{TRACE}-{}-01", span.span_id);
    assert_eq!(header(&upstream, "traceparent"), w3c);

    let trace = "463ac35c9f6413ad48485a3953bb6124";
    let multi = [
        ("X-B3-TraceId", trace),
        ("X-B3-SpanId", "a2fb4a1d1a96d312"),
        ("X-B3-ParentSpanId", "0020000000000001"),
        ("X-B3-Sampled", "1"),
    ];
    let (status, upstream) = through(&node, "/api/b", "carol", &multi);
    assert_eq!(status, 200);
    let span = node_span(&collector, "the span of the X-B3 request", trace);
    assert_eq!(span.parent, "a2fb4a1d1a96d312");
    assert_eq!(header(&upstream, "x-b3-traceid"), trace);
    assert_eq!(header(&upstream, "x-b3-spanid"), span.span_id);
    assert_eq!(header(&upstream, "x-b3-sampled"), "1");
    assert_eq!(
        header(&upstream, "x-b3-parentspanid"),
        "",
        "the caller's is stale"
    );
}

#[test]
fn an_unsampled_caller_is_followed_upstream_and_not_exported() {
    let (echo, collector) = (Echo::start(), Collector::start());
    let node = traced_gateway(&echo, &collector);
    let unsampled = format!("00-{TRACE}-{PARENT}-00");
    let (_, upstream) = through(&node, "/api/a", "alice", &[("traceparent", &unsampled)]);
    let forwarded = header(&upstream, "traceparent");
    assert!(forwarded.starts_with(&format!("00-{TRACE}-")) && forwarded.ends_with("-00"));
    assert_ne!(forwarded, unsampled, "the gateway's own span is the parent");
    // A sampled request after it is exported; the unsampled one never was.
    let sampled = "0af7651916cd43dd8448eb211c80319c";
    let traceparent = format!("00-{sampled}-{PARENT}-01");
    through(&node, "/api/b", "alice", &[("traceparent", &traceparent)]);
    node_span(&collector, "the sampled request's span", sampled);
    assert!(collector.spans().iter().all(|s| s.trace_id != TRACE));
}

#[test]
fn the_forward_auth_span_is_the_callers_child() {
    let collector = Collector::start();
    let node = NodeProcess::start(&["--otlp-endpoint", &collector.endpoint()]);
    node.wait_ready(Duration::from_secs(10));
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let url = format!("http://{}/v1/forward-auth", node.addr);
    let headers = [
        ("traceparent", traceparent.as_str()),
        ("X-User-ID", "alice"),
        ("X-Forwarded-Method", "POST"),
        ("X-Forwarded-Uri", "/orders?id=7"),
    ];
    assert_eq!(echo::get(&url, &headers).0, 200);

    let span = node_span(&collector, "the forward-auth span", TRACE);
    assert_eq!(
        (span.name.as_str(), span.parent.as_str()),
        ("forward-auth", PARENT)
    );
    for (key, value) in [
        ("http.request.method", "POST"),
        ("limiter.route", "/orders"),
        ("enduser.id", "alice"),
        ("limiter.outcome", "allowed"),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(span.attribute(key), value, "{key}: {span:?}");
    }
}

#[test]
fn spans_go_over_otlp_http_too() {
    let collector = Collector::start_http();
    let node = NodeProcess::start(&[
        "--otlp-endpoint",
        &collector.endpoint(),
        "--otlp-protocol",
        "http",
        "--service-name",
        "edge-limiter",
    ]);
    node.wait_ready(Duration::from_secs(10));
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let url = format!("http://{}/v1/forward-auth", node.addr);
    let headers = [("traceparent", traceparent.as_str()), ("X-User-ID", "bob")];
    assert_eq!(echo::get(&url, &headers).0, 200);
    let span = collector.wait_for("the span over HTTP", |s| s.trace_id == TRACE);
    assert_eq!(
        (span.service.as_str(), span.parent.as_str()),
        ("edge-limiter", PARENT)
    );
    eventually(Duration::from_secs(10), "the export counted", || {
        node.metric("limiter_traces_exported_total") >= 1.0
    });
}

#[test]
fn with_tracing_off_trace_headers_pass_unchanged_and_nothing_is_exported() {
    let (echo, collector) = (Echo::start(), Collector::start());
    // OpenTelemetry's own variable does not turn tracing on: only --otlp-endpoint does.
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let node = gateway(&echo, &[], &env);

    let (_, upstream) = through(&node, "/api/a", "alice", &[]);
    assert_eq!(header(&upstream, "traceparent"), "", "none invented");
    assert_eq!(header(&upstream, "b3"), "");
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let b3 = format!("{TRACE}-{PARENT}-1");
    let sent = [("traceparent", traceparent.as_str()), ("b3", b3.as_str())];
    let (_, upstream) = through(&node, "/api/b", "alice", &sent);
    assert_eq!(header(&upstream, "traceparent"), traceparent);
    assert_eq!(header(&upstream, "b3"), b3);
    // Longer than the export thread's batching delay.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(collector.spans().is_empty(), "{:?}", collector.spans());
    assert_eq!(node.metric("limiter_traces_exported_total"), 0.0);
}

#[test]
fn a_dead_collector_costs_spans_never_requests() {
    let echo = Echo::start();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let node = gateway(&echo, &["--otlp-endpoint", &endpoint], &[]);
    for user in ["a", "b", "c", "d"] {
        assert_eq!(through(&node, "/api/x", user, &[]).0, 200);
    }
    eventually(Duration::from_secs(20), "the failed export counted", || {
        node.metric(r#"limiter_traces_dropped_total{reason="export_failed"}"#) >= 4.0
    });
    assert_eq!(through(&node, "/api/x", "e", &[]).0, 200);
}

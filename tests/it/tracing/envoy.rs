//! Real Envoy 1.40, its OpenTelemetry tracer on, asking the node's
//! rate-limit service: the node's span is in the client's trace, and its
//! parent is the span Envoy made for the rate-limit call (which Envoy
//! exports to the same receiver).

use std::time::Duration;

use super::{node_span, PARENT, TRACE};
use crate::helpers::otlp::Collector;
use crate::helpers::proxy::{envoy, example_text, Upstream};
use crate::helpers::{temp_dir, tools, NodeProcess};

/// Envoy on `port` before `app`, asking `rls`, its spans sent to `otlp`.
fn envoy_config(port: u16, app: u16, rls: u16, otlp: u16) -> String {
    format!(
        r#"
static_resources:
  listeners:
    - name: ingress
      address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                tracing:
                  provider:
                    name: envoy.tracers.opentelemetry
                    typed_config:
                      "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                      grpc_service: {{ envoy_grpc: {{ cluster_name: otlp }}, timeout: 1s }}
                      service_name: envoy
                route_config:
                  virtual_hosts:
                    - name: app
                      domains: ["*"]
                      routes:
                        - match: {{ prefix: "/" }}
                          route:
                            cluster: app
                            rate_limits:
                              - actions:
                                  - request_headers: {{ header_name: x-user-id, descriptor_key: user }}
                http_filters:
                  - name: envoy.filters.http.ratelimit
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit
                      domain: edge
                      timeout: 2s
                      failure_mode_deny: true
                      rate_limit_service:
                        transport_api_version: V3
                        grpc_service: {{ envoy_grpc: {{ cluster_name: limiter }} }}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - {cluster_app}
    - {cluster_rls}
    - {cluster_otlp}
"#,
        cluster_app = cluster("app", app, false),
        cluster_rls = cluster("limiter", rls, true),
        cluster_otlp = cluster("otlp", otlp, true),
    )
}

/// One static cluster of 127.0.0.1:`port`, over HTTP/2 if `h2`.
fn cluster(name: &str, port: u16, h2: bool) -> String {
    let h2 = match h2 {
        true => {
            r#", typed_extension_protocol_options: { envoy.extensions.upstreams.http.v3.HttpProtocolOptions: { "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } } }"#
        }
        false => "",
    };
    format!(
        "{{ name: {name}, type: STATIC{h2}, load_assignment: {{ cluster_name: {name}, endpoints: [ {{ lb_endpoints: [ {{ endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {port} }} }} }} }} ] }} ] }} }}"
    )
}

#[test]
fn the_rls_span_is_the_child_of_envoys_rate_limit_call() {
    let collector = Collector::start();
    let rls = temp_dir("tracing-envoy").join("ratelimit.yaml");
    std::fs::write(&rls, example_text("ratelimit.yaml")).unwrap();
    let endpoint = collector.endpoint();
    let node = NodeProcess::start(&[
        "--grpc-listen",
        "127.0.0.1:0",
        "--rls-config",
        rls.to_str().unwrap(),
        "--otlp-endpoint",
        &endpoint,
    ]);
    node.wait_ready(Duration::from_secs(10));
    let grpc = node.grpc.expect("the node logs its gRPC address");
    let app = Upstream::start();
    let port = tools::free_port();
    let config = envoy_config(port, app.addr.port(), grpc.port(), collector.addr.port());
    let envoy = envoy(&config, port, &temp_dir("tracing-envoy"));

    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let headers = [
        ("X-User-ID", "alice"),
        ("traceparent", traceparent.as_str()),
    ];
    let reply = envoy.request("GET", "/orders", &headers);
    assert_eq!(reply.status, 200, "{reply:?}\n{}", envoy.log());

    let ours = node_span(&collector, "the node's rate-limit span", TRACE);
    assert_eq!(
        ours.name,
        "envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"
    );
    assert_eq!(ours.attribute("ratelimit.domain"), "edge");
    assert_eq!(ours.attribute("limiter.outcome"), "ok");
    assert_eq!(ours.attribute("rpc.system"), "grpc");
    assert_ne!(ours.parent, PARENT, "Envoy's own span sits between");
    // Envoy's spans arrive on its flush (every 5 s).
    let call = collector.wait_for("Envoy's span of the rate-limit call", |s| {
        s.service == "envoy" && s.span_id == ours.parent
    });
    assert_eq!(call.trace_id, TRACE, "{call:?}");
    let spans = collector.spans();
    assert!(
        spans
            .iter()
            .any(|s| s.service == "envoy" && s.parent == PARENT),
        "Envoy's server span is the client's child: {spans:#?}"
    );
}

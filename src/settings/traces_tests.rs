//! Unit tests of the trace settings: off unless an endpoint is given, the
//! HTTP path filled in, and bad values refused by their setting.

use super::OtlpProtocol;
use crate::settings::tests::{load, refused};

#[test]
fn off_without_an_endpoint_or_with_an_empty_one() {
    assert_eq!(load(&[]).unwrap().traces, None);
    assert_eq!(load(&["--otlp-endpoint", ""]).unwrap().traces, None);
}

#[test]
fn grpc_endpoints_are_kept_as_given() {
    let traces = load(&["--otlp-endpoint", "http://otel:4317"])
        .unwrap()
        .traces
        .unwrap();
    assert_eq!(traces.endpoint, "http://otel:4317");
    assert_eq!(traces.protocol, OtlpProtocol::Grpc);
    assert_eq!(traces.sample_ratio, 1.0);
    assert_eq!(traces.service_name, "crdt-limiter");
}

#[test]
fn http_endpoints_without_a_path_post_to_v1_traces() {
    let endpoint = |url: &str| {
        let args = ["--otlp-protocol", "http", "--otlp-endpoint", url];
        load(&args).unwrap().traces.unwrap().endpoint
    };
    assert_eq!(endpoint("http://otel:4318"), "http://otel:4318/v1/traces");
    assert_eq!(endpoint("http://otel:4318/"), "http://otel:4318/v1/traces");
    assert_eq!(
        endpoint("http://otel:4318/custom"),
        "http://otel:4318/custom"
    );
}

#[test]
fn bad_values_are_refused_by_their_setting() {
    let on = ["--otlp-endpoint", "http://otel:4317"];
    let with = |more: &[&str]| refused(&[on.as_slice(), more].concat());
    assert!(with(&["--otlp-protocol", "udp"]).contains("otlp-protocol"));
    assert!(with(&["--trace-sample-ratio", "1.5"]).contains("trace-sample-ratio"));
    assert!(with(&["--trace-sample-ratio=-0.1"]).contains("trace-sample-ratio"));
    assert!(with(&["--service-name", " "]).contains("service-name"));
    assert!(refused(&["--otlp-endpoint", "https://otel:4317"]).contains("otlp-endpoint"));
    assert!(refused(&["--otlp-endpoint", "otel:4317"]).contains("otlp-endpoint"));
}

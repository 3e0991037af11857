//! The integration tests, as one binary: the crate is linked once, not once
//! per file. A module per surface (`cluster`, `gateway`, `rls`, …) and the
//! helpers they share (`helpers`: nodes in-process and as processes, the
//! broker, proxies, the browser). Run one module with
//! `cargo nextest run --test it MODULE::`.

mod helpers;

mod accuracy;
mod admin_windows;
mod batch;
mod binary;
mod cluster;
mod compose;
mod docs;
mod envoy;
mod faults;
mod forward_auth;
mod gateway;
mod gateway_api_keys;
mod gateway_cluster;
mod gateway_identity;
mod gateway_reload;
mod gateway_tls;
mod http_api;
mod http_limits;
mod kafka_security;
mod kubernetes;
mod layout;
mod listener_tls;
mod live_config;
mod log_format;
mod membership;
mod prometheus;
mod proxies;
mod replication;
mod reset;
mod rls;
mod rls_conformance;
mod rules;
mod secrets;
mod shadow;
mod simulate;
mod status;
mod status_page;
mod tracing;
mod windows;

//! upstream's `integration-test/scripts/*.sh`, each run as it is (bash,
//! curl) through real Envoy 1.40 started from upstream's `proxy.yaml`, on a
//! stack of its own (`stack.rs`), so they run in parallel. Three of them wait
//! a minute for a window to end, as upstream's do.

use super::harness::{config_dir, upstream, Rls};
use super::stack::{rewrite_addresses, Stack};
use super::statsd::translate;

#[test]
fn upstream_script_simple_get() {
    Stack::start().run_script("simple-get.sh", (1, 0));
}

#[test]
fn upstream_script_trigger_ratelimit() {
    Stack::start().run_script("trigger-ratelimit.sh", (3, 2));
}

#[test]
fn upstream_script_trigger_shadow_mode_key() {
    Stack::start().run_script("trigger-shadow-mode-key.sh", (6, 0));
}

#[test]
fn upstream_script_replaces() {
    Stack::start().run_script("replaces.sh", (12, 10));
}

/// Its statsd check reads our /metrics through `statsd.rs`.
#[test]
fn upstream_script_value_included_in_stats_key_when_unspecified() {
    Stack::start().run_script("value-included-in-stats-key-when-unspecified.sh", (2, 1));
}

#[test]
fn upstream_script_quota() {
    Stack::start().run_script("quota.sh", (3, 1));
}

#[test]
fn upstream_script_token_quota() {
    Stack::start().run_script("token-quota.sh", (7, 3));
}

#[test]
fn upstream_script_multiservice_tokenquota() {
    Stack::start().run_script("multiservice-tokenquota.sh", (10, 3));
}

/// `examples/ratelimit/config/example.yaml`, unchanged, is a configuration
/// the node starts with, on its default settings too.
#[test]
fn upstream_example_config_loads_unchanged() {
    let dir = config_dir(
        "conformance-example",
        &["examples/ratelimit/config/example.yaml"],
    );
    let rls = Rls::start("examples/ratelimit/config/example.yaml", &dir, &[]);
    let service = rls.one(
        "example.yaml service_1",
        "rl",
        &[("service", "service_1")],
        1,
    );
    assert_eq!(service.limit().map(|l| l.0), Some(1), "{}", rls.source);
}

/// The harness's own parts, which a script's failure would otherwise hide:
/// upstream's Envoy file keeps every line but its hosts and ports.
#[test]
fn the_envoy_file_is_rewritten_to_local_ports_only() {
    let text = std::fs::read_to_string(upstream("examples/envoy/proxy.yaml")).unwrap();
    let ports = [
        (("0.0.0.0", 8001), 1001),
        (("ratelimit", 8081), 1002),
        (("envoy-mock", 9999), 1003),
        (("envoy-mock", 10001), 1004),
        (("0.0.0.0", 8888), 1005),
    ];
    let local = rewrite_addresses(&text, &ports);
    let changed: Vec<(&str, &str)> = text
        .lines()
        .zip(local.lines())
        .filter(|(theirs, ours)| theirs != ours)
        .collect();
    assert_eq!(text.lines().count(), local.lines().count());
    assert_eq!(
        changed.len(),
        12,
        "six addresses, host and port each: {changed:?}"
    );
    for (_, ours) in changed {
        let value = ours.trim().split_once(": ").unwrap().1;
        assert!(value == "127.0.0.1" || value.starts_with("100"), "{ours}");
    }
}

/// … and the statsd stand-in names our series as upstream's exporter does.
#[test]
fn the_statsd_stand_in_names_series_as_upstreams_exporter() {
    let ours = "# TYPE limiter_rls_descriptors_total counter\n\
        limiter_rls_descriptors_total{descriptor=\"rl.unspec_unspecified_value\",outcome=\"over_limit\"} 1\n\
        limiter_rls_descriptors_total{descriptor=\"rl.unspec_unspecified_value\",outcome=\"ok\"} 2\n\
        limiter_rls_requests_total{outcome=\"ok\"} 2\n";
    assert_eq!(
        translate(ours),
        "ratelimit_service_rate_limit_over_limit{domain=\"rl\",key1=\"unspec_unspecified_value\"} 1\n\
         ratelimit_service_rate_limit_within_limit{domain=\"rl\",key1=\"unspec_unspecified_value\"} 2\n"
    );
}

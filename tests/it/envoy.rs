//! Real Envoy calling the rate-limit service of a three-node cluster on a real
//! broker: envoyproxy/ratelimit's configuration file and Envoy's `rate_limits`
//! actions as docs/proxies.md shows them (`examples/proxies/`), unchanged. The
//! calls spread over the nodes, and a user's limit holds for the cluster.
//! Then one node's rate-limit headers (`--rls-response-headers`) reaching the
//! client, and its global shadow mode (`--rls-shadow`) letting Envoy pass.

use std::time::Duration;

use crate::helpers::cluster::{node, shared_broker, topic};
use crate::helpers::proxy::{envoy, envoy_address, example_text, Proxy, Upstream};
use crate::helpers::{eventually, temp_dir, tools, NodeProcess};

/// The admin API's token: the test reads buckets through it.
const ADMIN: &str = "envoy-cluster-admin-token";

/// Three nodes serving the rate-limit service with docs/proxies.md's descriptor file.
fn cluster(name: &str) -> Vec<NodeProcess> {
    let (brokers, topic) = (shared_broker(), topic(name));
    let config = temp_dir(name).join("ratelimit.yaml");
    std::fs::write(&config, example_text("ratelimit.yaml")).unwrap();
    let config = config.to_str().unwrap();
    let nodes: Vec<NodeProcess> = ["n1", "n2", "n3"]
        .iter()
        .map(|id| {
            // Every take published at once, so each node's `remaining` counts
            // the others' single takes (quiet replication would keep a take
            // far from the limit to its node until the level nears it).
            let extra = [
                "--grpc-listen",
                "127.0.0.1:0",
                "--rls-config",
                config,
                "--quiet-watermark",
                "1",
                "--admin-token",
                ADMIN,
            ];
            node(&brokers, &topic, id, &extra)
        })
        .collect();
    for node in &nodes {
        node.wait_ready(Duration::from_secs(30));
    }
    nodes
}

#[test]
fn a_users_limit_holds_through_envoy_across_three_nodes() {
    let nodes = cluster("envoy-rls");
    let app = Upstream::start();
    let mut config = example_text("envoy-ratelimit.yaml").replace(
        &envoy_address("app", 8080),
        &envoy_address("127.0.0.1", app.addr.port()),
    );
    for (i, node) in nodes.iter().enumerate() {
        let grpc = node.grpc.expect("the node logs its gRPC address");
        config = config.replace(
            &envoy_address(&format!("limiter-{}", i + 1), 8081),
            &envoy_address("127.0.0.1", grpc.port()),
        );
    }
    let envoy = envoy(&config, tools::free_port(), &temp_dir("envoy-rls"));
    let alice = [("X-User-ID", "alice")];

    // The file gives each user 5 requests a minute. Each call waits for the
    // take before it to reach every node, so it finds the others' takes
    // replicated, whichever node Envoy asks.
    for remaining in (0..5).rev() {
        let reply = envoy.request("GET", "/api/orders", &alice);
        assert_eq!(reply.status, 200, "{reply:?}\n{}", envoy.log());
        assert_eq!(reply.body, "upstream");
        assert_eq!(reply.header("x-ratelimit-remaining"), remaining.to_string());
        eventually(Duration::from_secs(10), "the take on every node", || {
            nodes
                .iter()
                .all(|n| n.tokens(ADMIN, "@rls edge user=alice") == Some(remaining))
        });
    }
    // Every node now refuses alice: three calls in a row, one per node.
    for _ in 0..3 {
        let refused = envoy.request("GET", "/api/orders", &alice);
        assert_eq!(refused.status, 429, "{refused:?}\n{}", envoy.log());
        assert_eq!(refused.header("x-envoy-ratelimited"), "true");
        let retry: u64 = refused.header("retry-after").parse().unwrap();
        assert!((1..=12).contains(&retry), "one token every 12 s: {retry}");
    }
    assert_eq!(app.hits(), 5, "refused requests never reach the app");
    // Other users, and paths without rate_limits actions, pass.
    assert_eq!(
        envoy
            .request("GET", "/api/orders", &[("X-User-ID", "bob")])
            .status,
        200
    );
    assert_eq!(envoy.request("GET", "/health", &alice).status, 200);

    // Envoy spread its calls over the three nodes.
    for node in &nodes {
        let calls = node.metric(r#"limiter_rls_requests_total{outcome="ok"}"#)
            + node.metric(r#"limiter_rls_requests_total{outcome="over_limit"}"#);
        assert!(calls >= 1.0, "node {} answered no call", node.addr);
    }
}

/// One node with `flags` and docs/proxies.md's descriptor file, and Envoy
/// with docs/proxies.md's configuration asking it (its three limiter
/// addresses all this node), in front of `app`.
fn envoy_and_node(name: &str, app: &Upstream, flags: &[&str]) -> (Proxy, NodeProcess) {
    let config = temp_dir(name).join("ratelimit.yaml");
    std::fs::write(&config, example_text("ratelimit.yaml")).unwrap();
    let mut args = vec![
        "--grpc-listen",
        "127.0.0.1:0",
        "--rls-config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let node = NodeProcess::start(&args);
    node.wait_ready(Duration::from_secs(20));
    let grpc = node.grpc.expect("the node logs its gRPC address");
    let mut envoy_config = example_text("envoy-ratelimit.yaml").replace(
        &envoy_address("app", 8080),
        &envoy_address("127.0.0.1", app.addr.port()),
    );
    for i in 1..=3 {
        envoy_config = envoy_config.replace(
            &envoy_address(&format!("limiter-{i}"), 8081),
            &envoy_address("127.0.0.1", grpc.port()),
        );
    }
    let envoy = envoy(&envoy_config, tools::free_port(), &temp_dir(name));
    (envoy, node)
}

#[test]
fn rate_limit_headers_reach_the_client_through_envoy() {
    let app = Upstream::start();
    let flags = [
        "--rls-response-headers",
        "--rls-reset-header",
        "X-Limit-Reset",
    ];
    let (envoy, _node) = envoy_and_node("envoy-rls-headers", &app, &flags);
    let alice = [("X-User-ID", "alice")];
    // Two descriptors per call: alice's 5 a minute is nearer its limit than
    // the client address's 20 a second, so hers are reported.
    for remaining in (0..5).rev() {
        let reply = envoy.request("GET", "/api/orders", &alice);
        assert_eq!(reply.status, 200, "{reply:?}\n{}", envoy.log());
        assert_eq!(reply.header("ratelimit-limit"), "5");
        assert_eq!(reply.header("ratelimit-remaining"), remaining.to_string());
        let reset: u64 = reply.header("x-limit-reset").parse().unwrap();
        assert!(
            (1..=60).contains(&reset),
            "until alice's bucket is full: {reset}"
        );
    }
    let refused = envoy.request("GET", "/api/orders", &alice);
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.header("ratelimit-limit"), "5");
    assert_eq!(refused.header("ratelimit-remaining"), "0");
    let reset: u64 = refused.header("x-limit-reset").parse().unwrap();
    assert!((1..=12).contains(&reset), "one token every 12 s: {reset}");
    assert_eq!(refused.header("retry-after"), reset.to_string());
    assert_eq!(app.hits(), 5);
}

#[test]
fn global_shadow_mode_lets_envoy_pass_what_it_would_refuse() {
    let app = Upstream::start();
    let flags = ["--rls-shadow", "--rls-response-headers"];
    let (envoy, node) = envoy_and_node("envoy-rls-shadow", &app, &flags);
    let alice = [("X-User-ID", "alice")];
    for _ in 0..7 {
        let reply = envoy.request("GET", "/api/orders", &alice);
        assert_eq!(reply.status, 200, "{reply:?}\n{}", envoy.log());
    }
    let over = envoy.request("GET", "/api/orders", &alice);
    assert_eq!(over.header("ratelimit-remaining"), "0", "{over:?}");
    assert_eq!(app.hits(), 8, "nothing refused");
    let shadowed = node.metric(r#"limiter_rls_requests_total{outcome="shadow_limited"}"#);
    assert_eq!(shadowed, 3.0);
}

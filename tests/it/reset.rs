//! Resets on real node processes against a real Kafka-API broker: a user
//! limited on every node, reset through node 1's admin API, is let through on
//! nodes 2 and 3 within a second, in both merge modes, and no state from
//! before the reset brings the limit back; the reset routes refuse bad calls.

use std::time::{Duration, Instant};

use crate::helpers::cluster::{node, shared_broker, topic};
use crate::helpers::{eventually, NodeProcess};

const TOKEN: &str = "reset-test-admin-token";

fn three_nodes(name: &str, merge: &str) -> Vec<NodeProcess> {
    let (brokers, topic) = (shared_broker(), topic(name));
    // Every spending published at once: the test counts single tokens
    // spent after the reset, which quiet replication would keep to their nodes.
    let flags = [
        "--admin-token",
        TOKEN,
        "--merge",
        merge,
        "--quiet-watermark",
        "1",
    ];
    let nodes: Vec<NodeProcess> = ["reset-1", "reset-2", "reset-3"]
        .iter()
        .map(|id| node(&brokers, &topic, &format!("{id}-{merge}"), &flags))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    nodes
}

/// Polls `node` for `user` until a request is allowed; how long that took.
fn time_until_allowed(node: &NodeProcess, user: &str, started: Instant) -> Duration {
    loop {
        match node.protected(user).status {
            200 => return started.elapsed(),
            429 => {}
            other => panic!("unexpected status {other}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never let through"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn tokens(node: &NodeProcess, key: &str) -> u64 {
    let reply = node.send(
        "GET",
        &format!("/v1/admin/buckets/{key}"),
        Some(TOKEN),
        None,
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["tokens"].as_u64().unwrap()
}

fn reset_lets_a_limited_user_through_everywhere(merge: &str, path: &str) {
    let nodes = three_nodes(&format!("reset-{merge}"), merge);
    // Node 2 spends alice's 5 tokens (one a minute come back): once
    // replicated she is refused everywhere.
    for _ in 0..5 {
        assert_eq!(nodes[1].protected("alice").status, 200);
    }
    eventually(
        Duration::from_secs(10),
        "alice refused on every node",
        || nodes.iter().all(|n| n.protected("alice").status == 429),
    );

    let started = Instant::now();
    let reply = nodes[0].send(
        if path.starts_with("/v1/admin/users") {
            "POST"
        } else {
            "DELETE"
        },
        path,
        Some(TOKEN),
        None,
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["reset"], serde_json::json!(["alice"]));
    assert_eq!(reply.json()["cluster_wide"], true);
    // The acceptance bound for a reset to reach the peers (a
    // correctness bound, not a speed figure: it is ~30 ms here).
    for n in &nodes[1..] {
        let took = time_until_allowed(n, "alice", started);
        eprintln!("{merge}: let through {took:?} after the reset");
        assert!(took < Duration::from_secs(1), "{merge}: {took:?}");
    }
    // Nodes 2 and 3 spent one each since (counted sums them, min-max keeps
    // the larger); node 2's drained state from before the reset (the latest
    // it had published) never comes back.
    let left = if merge == "counted" { 3 } else { 4 };
    eventually(
        Duration::from_secs(5),
        "the reset's level on every node",
        || nodes.iter().all(|n| tokens(n, "alice") == left),
    );
    // And it stays: a moment for a late state from before the reset to arrive.
    std::thread::sleep(Duration::from_millis(300));
    assert!(nodes.iter().all(|n| tokens(n, "alice") == left));
}

#[test]
fn a_user_reset_on_one_node_lets_them_through_on_the_others_min_max() {
    reset_lets_a_limited_user_through_everywhere("min-max", "/v1/admin/users/alice/reset");
}

#[test]
fn a_bucket_reset_on_one_node_lets_them_through_on_the_others_counted() {
    reset_lets_a_limited_user_through_everywhere("counted", "/v1/admin/buckets/alice");
}

#[test]
fn reset_routes_need_the_token_and_name_what_is_wrong() {
    let (brokers, topic) = (shared_broker(), topic("reset-errors"));
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rules.toml");
    let n = node(
        &brokers,
        &topic,
        "reset-errors",
        &["--admin-token", TOKEN, "--rules", rules],
    );
    n.wait_ready(Duration::from_secs(30));
    let no_token = n.send("POST", "/v1/admin/users/alice/reset", None, None);
    assert_eq!(no_token.status, 401, "{no_token:?}");
    let wrong = n.send(
        "POST",
        "/v1/admin/users/alice/reset",
        Some("not-the-token-at-all"),
        None,
    );
    assert_eq!(wrong.status, 401, "{wrong:?}");
    let no_rule = n.send(
        "DELETE",
        "/v1/admin/buckets/no-such-rule%20alice",
        Some(TOKEN),
        None,
    );
    assert_eq!(no_rule.status, 404, "{no_rule:?}");
    assert_eq!(no_rule.json()["error"], "unknown_bucket");
    let junk = n.send(
        "DELETE",
        "/v1/admin/buckets/per-user%20alice%20junk",
        Some(TOKEN),
        None,
    );
    assert_eq!(junk.status, 404, "a key no rule makes: {junk:?}");
    let bad_user = n.send("POST", "/v1/admin/users/%01/reset", Some(TOKEN), None);
    assert_eq!(bad_user.status, 400, "{bad_user:?}");
    assert_eq!(bad_user.json()["field"], "user");
    let get = n.send("GET", "/v1/admin/users/alice/reset", Some(TOKEN), None);
    assert_eq!(get.status, 405, "{get:?}");
    // A user reset names every per-user bucket of the rules file it touched.
    let reply = n.send("POST", "/v1/admin/users/alice/reset", Some(TOKEN), None);
    assert_eq!(reply.status, 200, "{reply:?}");
    let keys = reply.json()["reset"].clone();
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .all(|k| k.as_str().unwrap().ends_with(" alice")),
        "{keys}"
    );
    assert!(!keys.as_array().unwrap().is_empty(), "{keys}");
    assert_eq!(reply.json()["truncated"], false);
}

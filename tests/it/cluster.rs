//! `GET /v1/cluster` on real node processes against a real Kafka-API broker:
//! three nodes list each other `up` with their record rates and lags, a
//! stopped node turns `gone` after `--peer-gone-after-ms`, a hostile peer ID
//! comes back escaped, and a standalone node says it is standalone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crdt_limiter::limiter::Stamp;
use crdt_limiter::replication::codec::{self, Heartbeat};
use serde_json::Value;

use crate::helpers::cluster::{node, produce_raw, shared_broker, topic};
use crate::helpers::{eventually, NodeProcess};

const IDS: [&str; 3] = ["view-a", "view-b", "view-c"];

fn cluster(node: &NodeProcess) -> Value {
    let reply = node.get("/v1/cluster");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.header("content-type").starts_with("application/json"));
    reply.json()
}

fn peer<'v>(view: &'v Value, id: &str) -> Option<&'v Value> {
    view["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// `id`'s peer `other` is up, recently heard, with records flowing and a plausible lag.
fn sees_up(view: &Value, other: &str) -> bool {
    let Some(p) = peer(view, other) else {
        return false;
    };
    let (p50, p99) = (p["lag_ms"]["p50"].as_u64(), p["lag_ms"]["p99"].as_u64());
    p["state"] == "up"
        && p["records_per_sec"].as_f64().unwrap() > 0.0
        && p["heartbeats_per_sec"].as_f64().unwrap() > 0.0
        && now_ms().abs_diff(p["last_heard_unix_ms"].as_u64().unwrap()) < 5_000
        && p50
            .zip(p99)
            .is_some_and(|(p50, p99)| p50 <= p99 && p99 < 5_000)
}

#[test]
fn three_nodes_list_each_other_and_a_stopped_one_turns_gone() {
    let (brokers, topic) = (shared_broker(), topic("cluster-view"));
    let flags = ["--peer-gone-after-ms", "1000"];
    let mut nodes: Vec<NodeProcess> = IDS
        .iter()
        .map(|id| node(&brokers, &topic, id, &flags))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    // Traffic on every node (a new user each time, emptying their bucket,
    // so every round publishes) until every node sees the two others up.
    let mut sent = 0;
    eventually(
        Duration::from_secs(30),
        "every node seeing the two others up",
        || {
            for (n, id) in nodes.iter().zip(IDS) {
                sent += 1;
                let body = format!(r#"{{"user":"{id}-user-{sent}","cost":5}}"#);
                assert_eq!(n.send("POST", "/v1/check", None, Some(&body)).status, 200);
            }
            nodes.iter().zip(IDS).all(|(n, id)| {
                let view = cluster(n);
                view["node"]["id"] == id
                    && view["node"]["kafka_connected"] == true
                    && view["node"]["nodes_up"] == 3
                    && IDS.iter().filter(|o| **o != id).all(|o| sees_up(&view, o))
            })
        },
    );
    let view = cluster(&nodes[0]);
    eprintln!("{}", serde_json::to_string_pretty(&view).unwrap());
    assert_eq!(view["node"]["mode"], "cluster");
    assert_eq!(view["node"]["merge"], "min-max");
    assert_eq!(view["node"]["bootstrap_done"], true);
    assert_eq!(view["node"]["peer_gone_after_ms"], 1000);
    assert_eq!(view["node"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(view["node"]["buckets"].as_u64().unwrap() > 0);
    assert!(
        peer(&view, "view-a").is_none(),
        "a node is not its own peer"
    );

    let mut stopped = nodes.pop().unwrap();
    assert!(stopped.terminate(Duration::from_secs(20)).success());
    let left = now_ms();
    eventually(Duration::from_secs(10), "view-c gone on every node", || {
        nodes.iter().all(|n| {
            let view = cluster(n);
            peer(&view, "view-c").is_some_and(|c| c["state"] == "gone")
                && view["node"]["nodes_up"] == 2
        })
    });
    for n in &nodes {
        let view = cluster(n);
        let c = peer(&view, "view-c").unwrap();
        // Gone only once silent for --peer-gone-after-ms (it spoke until it left).
        let heard = c["last_heard_unix_ms"].as_u64().unwrap();
        assert!(now_ms() >= heard + 1_000, "{c}");
        assert!(heard + 2_000 >= left, "{c}: last heard long before it left");
        let other = if view["node"]["id"] == "view-a" {
            "view-b"
        } else {
            "view-a"
        };
        assert_eq!(peer(&view, other).unwrap()["state"], "up", "{view}");
    }
}

#[test]
fn hostile_peer_ids_come_back_escaped() {
    let (brokers, topic) = (shared_broker(), topic("cluster-hostile"));
    let watcher = node(&brokers, &topic, "watcher", &[]);
    watcher.wait_ready(Duration::from_secs(30));
    let evil = "evil\"},\n<script>\u{0}\u{7f}é";
    let heartbeat = codec::encode_heartbeat(&Heartbeat {
        node_id: evil.into(),
        incarnation: 1,
        sent_at: Stamp::from_unix_nanos(now_ms() * 1_000_000),
    });
    let key = format!("\u{1}heartbeat {evil}");
    produce_raw(&brokers, &topic, &[(key.as_bytes(), &heartbeat)]);
    eventually(
        Duration::from_secs(10),
        "the hostile peer ID listed up",
        || peer(&cluster(&watcher), evil).is_some_and(|p| p["state"] == "up"),
    );
}

#[test]
fn a_standalone_node_says_so_and_lists_no_peers() {
    let node = NodeProcess::start(&["--peer-gone-after-ms", "1000"]);
    node.wait_ready(Duration::from_secs(10));
    assert_eq!(node.protected("alice").status, 200);
    let view = cluster(&node);
    assert_eq!(view["node"]["mode"], "standalone");
    assert_eq!(view["node"]["id"], Value::Null);
    assert_eq!(view["node"]["kafka_connected"], false);
    assert_eq!(view["node"]["bootstrap_done"], true);
    assert_eq!(view["node"]["buckets"], 1);
    assert_eq!(view["node"]["nodes_up"], 1);
    assert_eq!(view["peers"], serde_json::json!([]));
    assert_eq!(node.send("POST", "/v1/cluster", None, None).status, 405);
    assert_eq!(
        node.metric(r#"http_requests_total{route="/v1/cluster",status="200"}"#),
        1.0
    );
}

#[test]
fn a_standalone_node_shows_the_id_it_was_given() {
    let node = NodeProcess::start(&["--node-id", "edge-7"]);
    node.wait_ready(Duration::from_secs(10));
    let view = cluster(&node);
    assert_eq!(view["node"]["mode"], "standalone");
    assert_eq!(view["node"]["id"], "edge-7");
    let page = node.get("/status?refresh=0").body;
    assert!(
        page.contains(r#"<td id="node-id"><code>edge-7</code>"#),
        "{page}"
    );
}

#[test]
fn a_peer_gone_after_of_zero_is_refused_by_name() {
    let out = NodeProcess::command()
        .args(["--peer-gone-after-ms", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`peer-gone-after-ms`"), "{stderr}");
}

//! Replication against a real Kafka-API broker: real node processes, real
//! topic. `scripts/test.sh` starts the broker and sets CRDT_LIMITER_TEST_BROKERS;
//! tests that stop and start a broker run their own on a free port.

use std::time::{Duration, Instant};

use crate::helpers::cluster::{node, produce_raw, shared_broker, topic, OwnBroker};
use crate::helpers::{self, eventually, NodeProcess};

const RECEIVED: &str = "limiter_sync_received_total";
const PUBLISHED: &str = "limiter_sync_published_total";
const CONNECTED: &str = "limiter_kafka_connected";

/// Probes `node` for `user` until it answers 429 (a limited request spends
/// nothing), within `timeout`; returns how many probes it admitted first. A
/// node that learned nothing would admit its whole capacity (5) first; one
/// that merged the exhausted state admits at most what it allowed before the
/// news arrived.
fn admitted_until_limited(node: &NodeProcess, user: &str, timeout: Duration) -> u32 {
    let mut admitted = 0;
    eventually(timeout, &format!("{user} refused"), || {
        match node.protected(user).status {
            200 => {
                admitted += 1;
                false
            }
            status => {
                assert_eq!(status, 429);
                true
            }
        }
    });
    admitted
}

fn exhaust(node: &NodeProcess, user: &str) {
    let statuses: Vec<u16> = (0..6).map(|_| node.protected(user).status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
}

#[test]
fn three_nodes_a_user_exhausted_on_one_is_limited_on_the_others_within_a_second() {
    let (brokers, topic) = (shared_broker(), topic("three"));
    let nodes: Vec<_> = ["n1", "n2", "n3"]
        .iter()
        .map(|id| node(&brokers, &topic, id, &[]))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    exhaust(&nodes[0], "alice");
    let exhausted = Instant::now();
    for n in &nodes[1..] {
        let admitted = admitted_until_limited(n, "alice", Duration::from_secs(1));
        assert!(
            admitted < 5,
            "a node admitted its whole bucket: it never heard of alice"
        );
    }
    let took = exhausted.elapsed();
    eprintln!("converged in {took:?}");
    // Someone else is untouched everywhere.
    assert!(nodes.iter().all(|n| n.protected("bob").status == 200));

    eventually(Duration::from_secs(5), "a record published", || {
        nodes[0].metric(PUBLISHED) >= 1.0
    });
    for n in &nodes[1..] {
        assert!(n.metric(RECEIVED) >= 1.0);
        assert!(n.metric("limiter_sync_lag_seconds_count") >= 1.0);
        assert!(n.metric("limiter_sync_lag_seconds_sum") < 5.0);
        assert_eq!(n.metric(CONNECTED), 1.0);
    }
}

#[test]
fn a_killed_and_restarted_node_still_limits_the_user() {
    let (brokers, topic) = (shared_broker(), topic("restart"));
    let first = node(&brokers, &topic, "n1", &[]);
    first.wait_ready(Duration::from_secs(30));
    exhaust(&first, "carol");
    eventually(Duration::from_secs(5), "a record published", || {
        first.metric(PUBLISHED) >= 1.0
    });
    drop(first); // SIGKILL: no goodbye, no final flush

    // Same node ID, so the restart must read back its own records.
    // (SIGKILL may have cut off the last flush, so what survived may be a state
    // from mid-burst: the point is that nobody hands carol a fresh bucket.)
    let again = node(&brokers, &topic, "n1", &[]);
    again.wait_ready(Duration::from_secs(30));
    assert!(again.metric("limiter_bootstrap_duration_seconds") > 0.0);
    assert!(admitted_until_limited(&again, "carol", Duration::from_secs(1)) < 5);

    let fresh = node(&brokers, &topic, "n2", &[]);
    fresh.wait_ready(Duration::from_secs(30));
    assert!(admitted_until_limited(&fresh, "carol", Duration::from_secs(1)) < 5);
}

#[test]
fn sigterm_publishes_pending_changes_before_exit() {
    let (brokers, topic) = (shared_broker(), topic("sigterm"));
    // A sync interval far longer than the test: only the shutdown flush can publish.
    let mut first = node(&brokers, &topic, "n1", &["--sync-interval-ms", "600000"]);
    first.wait_ready(Duration::from_secs(30));
    eventually(
        Duration::from_secs(10),
        "the node connected to Kafka",
        || first.metric(CONNECTED) == 1.0,
    );
    exhaust(&first, "dave");
    assert_eq!(first.metric(PUBLISHED), 0.0);
    assert_eq!(first.terminate(Duration::from_secs(20)).code(), Some(0));

    let second = node(&brokers, &topic, "n2", &[]);
    second.wait_ready(Duration::from_secs(30));
    assert_eq!(second.protected("dave").status, 429);
}

#[test]
fn garbage_on_the_topic_is_skipped_and_counted() {
    let (brokers, topic) = (shared_broker(), topic("garbage"));
    let n1 = node(&brokers, &topic, "n1", &[]);
    let n2 = node(&brokers, &topic, "n2", &[]);
    n1.wait_ready(Duration::from_secs(30));
    n2.wait_ready(Duration::from_secs(30));

    produce_raw(
        &brokers,
        &topic,
        &[
            (b"eve", b"\x00\x01\x02 definitely not an envelope"),
            (b"eve", b"\x63future version"),
            (b"eve", b"\x01"),
            (b"eve", b"\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
            (b"\xff\xfe", b"\x01\x02"),
        ],
    );

    for n in [&n1, &n2] {
        eventually(Duration::from_secs(5), "the 5 bad records counted", || {
            let text = n.get("/metrics").body;
            ["malformed", "unknown_version", "bad_key"]
                .iter()
                .map(|kind| {
                    helpers::metric(
                        &text,
                        &format!("limiter_sync_decode_errors_total{{kind=\"{kind}\"}}"),
                    )
                })
                .sum::<f64>()
                >= 5.0
        });
        assert_eq!(n.get("/healthz").status, 200);
    }
    assert_eq!(
        n1.protected("eve").json()["remaining"],
        4,
        "garbage changed eve's bucket"
    );
    // Replication still works after the garbage.
    exhaust(&n1, "frank");
    assert!(admitted_until_limited(&n2, "frank", Duration::from_secs(2)) < 5);
}

#[test]
fn a_node_started_with_the_broker_down_serves_then_converges_once_it_is_up() {
    let broker = OwnBroker::reserve();
    let topic = topic("late");
    let n1 = node(
        &broker.address(),
        &topic,
        "n1",
        &["--bootstrap-timeout-ms", "500"],
    );
    n1.wait_ready(Duration::from_secs(10));
    assert_eq!(n1.metric(CONNECTED), 0.0);
    exhaust(&n1, "grace");

    broker.script("start");
    eventually(
        Duration::from_secs(15),
        "n1 connected to the late broker",
        || n1.metric(CONNECTED) == 1.0,
    );
    eventually(Duration::from_secs(10), "a record published", || {
        n1.metric(PUBLISHED) >= 1.0
    });
    let n2 = node(&broker.address(), &topic, "n2", &[]);
    n2.wait_ready(Duration::from_secs(30));
    assert_eq!(n2.protected("grace").status, 429);
}

#[test]
fn losing_the_broker_mid_run_fails_no_request_and_changes_flow_when_it_returns() {
    let broker = OwnBroker::reserve();
    broker.script("start");
    let topic = topic("lost");
    let n1 = node(&broker.address(), &topic, "n1", &[]);
    n1.wait_ready(Duration::from_secs(30));
    eventually(Duration::from_secs(10), "n1 connected to Kafka", || {
        n1.metric(CONNECTED) == 1.0
    });

    // The broker stops answering (frozen, as behind a network partition) but
    // keeps its data, as a real Kafka broker does across an outage.
    broker.script("pause");
    eventually(
        Duration::from_secs(15),
        "n1 seeing the broker frozen",
        || n1.metric(CONNECTED) == 0.0,
    );
    // Every request is still answered, from local state; changes wait (each
    // user spends past what quiet replication keeps to the node).
    exhaust(&n1, "heidi");
    for i in 0..50 {
        for _ in 0..3 {
            assert_eq!(n1.protected(&format!("user-{i}")).status, 200);
        }
    }
    assert_eq!(n1.metric("limiter_sync_pending"), 51.0);

    broker.script("resume");
    eventually(Duration::from_secs(15), "n1 connected again", || {
        n1.metric(CONNECTED) == 1.0
    });
    eventually(
        Duration::from_secs(5),
        "n1's pending changes published",
        || n1.metric("limiter_sync_pending") == 0.0,
    );
    let n2 = node(&broker.address(), &topic, "n2", &[]);
    n2.wait_ready(Duration::from_secs(30));
    // heidi's six requests coalesce into one record, plus one per other user's three.
    eventually(Duration::from_secs(15), "n1's 51 records on n2", || {
        n2.metric(RECEIVED) >= 51.0
    });
    assert_eq!(n2.protected("heidi").status, 429);
}

/// Sends one user's requests round-robin over `nodes` at `per_sec` for
/// `seconds`; returns (admitted, what the limit allows over that span) for a
/// bucket of `capacity` refilling at `rate` per second.
fn round_robin(
    nodes: &[NodeProcess],
    user: &str,
    per_sec: u32,
    seconds: f64,
    capacity: u32,
    rate: f64,
) -> (u32, f64) {
    let gap = Duration::from_secs_f64(1.0 / f64::from(per_sec));
    let started = Instant::now();
    let (mut admitted, mut sent) = (0, 0u32);
    let mut last = started;
    while started.elapsed().as_secs_f64() < seconds {
        // Paced at `per_sec`: the rate is the test's.
        let slot = started + gap * sent;
        if let Some(wait) = slot.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        last = Instant::now();
        admitted += u32::from(nodes[sent as usize % nodes.len()].protected(user).status == 200);
        sent += 1;
    }
    let allowance = f64::from(capacity) + (rate * (last - started).as_secs_f64()).floor();
    (admitted, allowance)
}

/// `n` nodes on a topic of their own, ready.
fn cluster(n: usize, name: &str, merge: &str, limit: &[&str]) -> Vec<NodeProcess> {
    let (brokers, topic) = (shared_broker(), topic(name));
    let extra = [&["--merge", merge][..], limit].concat();
    let nodes: Vec<_> = (1..=n)
        .map(|i| node(&brokers, &topic, &format!("n{i}"), &extra))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    nodes
}

const LIMIT_20_PER_SEC: [&str; 4] = ["--capacity", "2", "--refill-per-sec", "20"];

#[test]
fn counted_mode_keeps_three_real_nodes_within_10_percent_of_the_limit() {
    let nodes = cluster(3, "counted", "counted", &LIMIT_20_PER_SEC);
    // Ten times the rate, spread round-robin: min-max would admit about 3x.
    let (admitted, allowance) = round_robin(&nodes, "ivan", 200, 4.0, 2, 20.0);
    let ratio = f64::from(admitted) / allowance;
    eprintln!("counted, 3 nodes: admitted {admitted} of {allowance} allowed ({ratio:.3}x)");
    assert!(
        (0.9..=1.1).contains(&ratio),
        "admitted {ratio:.3}x the limit"
    );
}

/// The accuracy table of docs/how-it-works.md: admitted / allowed for 1, 2 and 3 real nodes in
/// each mode, 10x the rate round-robin for 20 s. Slow, so not part of the suite:
/// `scripts/broker.sh start 9092; CRDT_LIMITER_TEST_BROKERS=127.0.0.1:9092 cargo
/// nextest run --test it --run-ignored only --no-capture replication::accuracy_table`
#[test]
#[ignore]
fn accuracy_table() {
    for merge in ["min-max", "counted"] {
        for n in 1..=3 {
            let nodes = cluster(n, &format!("table-{merge}-{n}"), merge, &LIMIT_20_PER_SEC);
            let (admitted, allowance) = round_robin(&nodes, "table", 200, 20.0, 2, 20.0);
            eprintln!(
                "| {merge} | {n} | {admitted} | {allowance} | {:.3} |",
                f64::from(admitted) / allowance
            );
        }
    }
}

const TOKEN: &str = "replication-test-admin-token";

/// The limit node `n` applies to `user` now, from `POST /v1/check` (which, for
/// a fresh user, also leaves her bucket untouched for the others).
fn limit_of(n: &NodeProcess, user: &str) -> u64 {
    let reply = n.send(
        "POST",
        "/v1/check",
        None,
        Some(&format!(r#"{{"user":"{user}"}}"#)),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()["limit"].as_u64().unwrap()
}

#[test]
fn a_plan_change_on_one_node_reaches_the_others_and_survives_restarts() {
    let (brokers, topic, config_topic) = (shared_broker(), topic("plans"), topic("plans-config"));
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rules.toml");
    let extra = [
        "--rules",
        rules,
        "--admin-token",
        TOKEN,
        "--config-topic",
        &config_topic,
    ];
    let mut nodes: Vec<_> = ["n1", "n2", "n3"]
        .iter()
        .map(|id| node(&brokers, &topic, id, &extra))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
        assert_eq!(limit_of(n, "alice"), 10);
    }
    let moved = nodes[0].send(
        "PUT",
        "/v1/admin/users/alice/plan",
        Some(TOKEN),
        Some(r#"{"plan":"pro"}"#),
    );
    assert_eq!(moved.status, 200, "{moved:?}");
    let acknowledged = Instant::now();
    // The node that made the change answers with it at once.
    assert_eq!(limit_of(&nodes[0], "alice"), 100);
    for n in &nodes[1..] {
        eventually(
            Duration::from_secs(5),
            "alice's new plan on every node",
            || limit_of(n, "alice") == 100,
        );
    }
    eprintln!(
        "plan change visible on all nodes {:?} after the ack",
        acknowledged.elapsed()
    );
    let raised = nodes[1].send(
        "PUT",
        "/v1/admin/rules/global/limit",
        Some(TOKEN),
        Some(r#"{"capacity":5000,"refill_per_sec":5000}"#),
    );
    assert_eq!(raised.status, 200, "{raised:?}");

    // Garbage on the config topic is skipped and counted, never a crash.
    produce_raw(
        &brokers,
        &config_topic,
        &[
            (b"plan/free", b"{not json"),
            (b"user/bob", b"{\"v\":1,\"plan\":\"pro\",\"extra\":true}"),
            (b"colour/red", b"{\"v\":1}"),
        ],
    );
    for n in &nodes {
        eventually(
            Duration::from_secs(5),
            "the 3 garbage config records counted",
            || n.metric("limiter_config_decode_errors_total") >= 3.0,
        );
        assert_eq!(limit_of(n, "bob"), 10, "garbage changed bob's plan");
    }

    // A restarted node, and a brand-new one, read every change before they are ready.
    let mut n3 = nodes.pop().unwrap();
    assert_eq!(n3.terminate(Duration::from_secs(15)).code(), Some(0));
    drop(n3);
    for id in ["n3", "n4"] {
        let fresh = node(&brokers, &topic, id, &extra);
        fresh.wait_ready(Duration::from_secs(30));
        assert_eq!(limit_of(&fresh, "alice"), 100, "{id} lost the plan change");
        let rules = fresh
            .send("GET", "/v1/admin/rules", Some(TOKEN), None)
            .json();
        assert_eq!(
            rules["rules"][2]["limit"]["capacity"], 5000,
            "{id}: {rules}"
        );
        nodes.push(fresh);
    }
}

#[test]
fn an_admin_change_the_broker_does_not_take_is_refused_and_can_be_repeated() {
    let broker = OwnBroker::reserve();
    broker.script("start");
    let (topic, config_topic) = (topic("frozen"), topic("frozen-config"));
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rules.toml");
    let extra = [
        "--rules",
        rules,
        "--admin-token",
        TOKEN,
        "--config-topic",
        &config_topic,
    ];
    let n1 = node(&broker.address(), &topic, "n1", &extra);
    n1.wait_ready(Duration::from_secs(30));
    eventually(Duration::from_secs(10), "n1 connected to Kafka", || {
        n1.metric(CONNECTED) == 1.0
    });

    broker.script("pause");
    let put = || {
        n1.send(
            "PUT",
            "/v1/admin/users/alice/plan",
            Some(TOKEN),
            Some(r#"{"plan":"pro"}"#),
        )
    };
    let refused = put();
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.json()["error"], "not_committed");
    // Decisions go on meanwhile, under the plan in effect.
    assert_eq!(limit_of(&n1, "alice"), 10);

    broker.script("resume");
    eventually(Duration::from_secs(15), "n1 connected again", || {
        n1.metric(CONNECTED) == 1.0
    });
    let repeated = put();
    assert_eq!(repeated.status, 200, "{repeated:?}");
    assert_eq!(limit_of(&n1, "alice"), 100);
}

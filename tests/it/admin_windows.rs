//! Window algorithms set through the admin API: a calendar day put on a
//! rule counts the day's quota and says to come back at local midnight, is
//! kept in `--data-dir` across a restart (hand-moved clock, exact), and a
//! fixed window put on one node of two reaches the other over the broker
//! (real binaries).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::helpers::cluster::{node, produce_raw, shared_broker, topic};
use crate::helpers::{eventually, temp_dir, NodeProcess, TestNode};

const TOKEN: &str = "admin-windows-token-0123456789";

const RULES: &str =
    "[[rules]]\nname = \"daily\"\nkey = \"user\"\ncapacity = 100\nrefill_per_sec = 100\n";

const CALENDAR_DAY: &str =
    r#"{"capacity":3,"algorithm":"calendar","window":"day","time_zone":"America/New_York"}"#;

/// From the test clock's start (2023-11-14T22:13:20Z, 17:13:20 in New
/// York) to New York's next midnight (05:00Z).
const TO_NY_MIDNIGHT: u64 = 24_400;

fn rules_file(name: &str) -> PathBuf {
    let path = temp_dir(name).join("rules.toml");
    std::fs::write(&path, RULES).unwrap();
    path
}

fn start(rules: &Path, data: &Path) -> TestNode {
    TestNode::start(&[
        "--rules",
        rules.to_str().unwrap(),
        "--admin-token",
        TOKEN,
        "--data-dir",
        data.to_str().unwrap(),
    ])
}

/// The `daily` rule's limit as `GET /v1/admin/rules` shows it.
fn daily_limit(rules: serde_json::Value) -> serde_json::Value {
    assert_eq!(rules["rules"][0]["name"], "daily", "{rules}");
    rules["rules"][0]["limit"].clone()
}

/// `user` is admitted `quota` times, then refused until `retry_after` seconds.
fn counts_the_day(node: &TestNode, user: &str, quota: u64) {
    for left in (0..quota).rev() {
        let admitted = node.protected(user);
        assert_eq!(admitted.status, 200, "{admitted:?}");
        assert_eq!(admitted.header("X-RateLimit-Remaining"), left.to_string());
    }
    let refused = node.protected(user);
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.header("Retry-After"), TO_NY_MIDNIGHT.to_string());
}

#[test]
fn a_calendar_day_set_through_the_admin_api_counts_the_day_and_survives_a_restart() {
    let (rules, data) = (
        rules_file("admin-calendar"),
        temp_dir("admin-calendar-data"),
    );
    let node = start(&rules, &data);
    let reply = node.send(
        "PUT",
        "/v1/admin/rules/daily/limit",
        Some(TOKEN),
        Some(CALENDAR_DAY),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let shown = serde_json::json!({
        "capacity": 3, "algorithm": "calendar", "window": "day",
        "time_zone": "America/New_York",
    });
    let mut answer = shown.clone();
    answer["rule"] = "daily".into();
    assert_eq!(reply.json(), answer);
    counts_the_day(&node, "alice", 3);
    let listed = node.send("GET", "/v1/admin/rules", Some(TOKEN), None);
    assert_eq!(daily_limit(listed.json()), shown);
    node.clock.advance(Duration::from_secs(TO_NY_MIDNIGHT));
    assert_eq!(node.protected("alice").status, 200, "a new day in New York");
    drop(node);

    let stored = std::fs::read_to_string(data.join("config-changes.jsonl")).unwrap();
    assert!(stored.contains(r#""algorithm":"calendar""#), "{stored}");
    let restarted = start(&rules, &data);
    let listed = restarted.send("GET", "/v1/admin/rules", Some(TOKEN), None);
    assert_eq!(daily_limit(listed.json()), shown, "kept across the restart");
    counts_the_day(&restarted, "bob", 3);
}

#[test]
fn window_mistakes_in_an_admin_body_name_the_field_and_change_nothing() {
    let (rules, data) = (
        rules_file("admin-window-bad"),
        temp_dir("admin-window-bad-data"),
    );
    let node = start(&rules, &data);
    for (body, field) in [
        (
            r#"{"capacity":3,"algorithm":"hourly","window":"day"}"#,
            "algorithm",
        ),
        (
            r#"{"capacity":3,"algorithm":"calendar","window":"hour"}"#,
            "window",
        ),
        (
            r#"{"capacity":3,"algorithm":"calendar","window":"day","time_zone":"Mars/Olympus"}"#,
            "time_zone",
        ),
        (
            r#"{"capacity":3,"refill_per_sec":1,"window":"day"}"#,
            "window",
        ),
    ] {
        let reply = node.send("PUT", "/v1/admin/plans/p", Some(TOKEN), Some(body));
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        assert_eq!(
            (
                reply.json()["error"].as_str(),
                reply.json()["field"].as_str()
            ),
            (Some("invalid_field"), Some(field)),
            "{body}"
        );
    }
    let stored = std::fs::read_to_string(data.join("config-changes.jsonl")).unwrap();
    assert_eq!(stored, "", "nothing was stored");
}

/// Where the two nodes' clocks start: noon UTC, so the day's window cannot
/// turn while the test runs, whatever the time of day.
const NOON: &str = "2030-06-01T12:00:00Z";

#[test]
fn a_fixed_window_set_on_one_node_reaches_the_other_over_the_broker() {
    let (brokers, topic, config) = (
        shared_broker(),
        topic("admin-window"),
        topic("admin-window-config"),
    );
    let rules = rules_file("admin-window-cluster");
    let extra = [
        "--rules",
        rules.to_str().unwrap(),
        "--admin-token",
        TOKEN,
        "--config-topic",
        &config,
        "--clock-start",
        NOON,
    ];
    let nodes: Vec<NodeProcess> = ["w1", "w2"]
        .iter()
        .map(|id| node(&brokers, &topic, id, &extra))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    let body = r#"{"capacity":2,"algorithm":"fixed_window","window":"day"}"#;
    let reply = nodes[0].send(
        "PUT",
        "/v1/admin/rules/daily/limit",
        Some(TOKEN),
        Some(body),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    eventually(
        Duration::from_secs(10),
        "the window on the other node",
        || {
            let listed = nodes[1].send("GET", "/v1/admin/rules", Some(TOKEN), None);
            daily_limit(listed.json())
                == serde_json::json!({"capacity": 2, "algorithm": "fixed_window", "window": "day"})
        },
    );
    refuses_an_unknown_zone(&brokers, &config, &nodes);
    for _ in 0..2 {
        assert_eq!(nodes[1].protected("carol").status, 200);
    }
    let refused = nodes[1].protected("carol");
    assert_eq!(refused.status, 429, "{refused:?}");
    let retry: u64 = refused.header("Retry-After").parse().unwrap();
    // Twelve hours from the clocks' start, less the seconds the test took.
    assert!(
        (43_100..=43_200).contains(&retry),
        "retry-after {retry}: the day ends 12 h after {NOON}"
    );
}

/// A record naming a zone no node knows, newer than the change in effect:
/// refused and counted on every node, the window kept.
fn refuses_an_unknown_zone(brokers: &str, config: &str, nodes: &[NodeProcess]) {
    let value = br#"{"v":2,"limit":{"capacity":1,"algorithm":"calendar","window":"day","time_zone":"Mars/Olympus"},"at":9000000000000000000,"by":1}"#;
    produce_raw(brokers, config, &[(b"rule/daily", value)]);
    for n in nodes {
        eventually(Duration::from_secs(10), "the record counted", || {
            n.metric("limiter_config_decode_errors_total") >= 1.0
        });
        let listed = n.send("GET", "/v1/admin/rules", Some(TOKEN), None);
        assert_eq!(daily_limit(listed.json())["algorithm"], "fixed_window");
    }
}

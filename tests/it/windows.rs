//! Window limits on real nodes: a calendar month quota in a time zone, spread
//! over three counted-mode nodes whose clocks start just before the local
//! month's end (`--clock-start`), admits exactly the quota, refuses the next,
//! and admits again once the month turns.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::helpers::cluster::{node, shared_broker, topic};
use crate::helpers::{eventually, temp_dir, NodeProcess};

const ADMIN: &str = "windows-cluster-admin-token";

/// 2026-02-01T00:00:00-05:00: February begins in New York.
const FEBRUARY_NY: u64 = 1_769_922_000;

/// How long before the boundary the nodes' clocks start: room for three
/// nodes to start and 30 replicated requests on a busy machine.
const LEAD: Duration = Duration::from_secs(40);

const QUOTA: u64 = 30;

const RULES: &str = r#"
[[rules]]
name = "monthly"
key = "user"
capacity = 30
algorithm = "calendar"
window = "month"
time_zone = "America/New_York"
"#;

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// The RFC 3339 instant that puts a node started now on the shared test
/// clock: `LEAD` before the boundary at the test's start (`t0`, wall clock).
fn clock_start(t0: Duration) -> String {
    let start = Duration::from_secs(FEBRUARY_NY) - LEAD + (unix_now() - t0);
    let at = chrono::DateTime::from_timestamp(start.as_secs() as i64, start.subsec_nanos());
    at.unwrap().to_rfc3339()
}

fn three_nodes(t0: Duration) -> Vec<NodeProcess> {
    let (brokers, topic) = (shared_broker(), topic("calendar-month"));
    let rules = temp_dir("calendar-month").join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let nodes: Vec<_> = (1..=3)
        .map(|i| {
            let start = clock_start(t0);
            let extra = [
                "--merge",
                "counted",
                // Every spending published at once: the count is exact.
                "--quiet-watermark",
                "1",
                "--rules",
                rules.to_str().unwrap(),
                "--admin-token",
                ADMIN,
                "--clock-start",
                &start,
            ];
            node(&brokers, &topic, &format!("m{i}"), &extra)
        })
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    nodes
}

#[test]
fn a_calendar_month_quota_over_three_nodes_admits_exactly_the_quota_until_the_month_turns() {
    let t0 = unix_now();
    let started = Instant::now();
    let nodes = three_nodes(t0);
    let key = "monthly alice";
    for spent in 1..=QUOTA {
        let node = &nodes[spent as usize % 3];
        assert_eq!(node.protected("alice").status, 200, "request {spent}");
        // Each node hears of it before the next request, wherever it goes.
        eventually(Duration::from_secs(10), "the count replicated", || {
            nodes
                .iter()
                .all(|n| n.tokens(ADMIN, key) == Some(QUOTA - spent))
        });
    }
    for n in &nodes {
        let refused = n.protected("alice");
        assert_eq!(refused.status, 429, "the quota is spent cluster-wide");
        // Told to come back when February begins, not in a refill interval.
        let retry: u64 = refused.header("retry-after").parse().unwrap();
        assert!(retry <= LEAD.as_secs(), "retry-after {retry}");
        assert!(retry + 2 >= LEAD.saturating_sub(started.elapsed()).as_secs());
    }
    assert!(
        started.elapsed() < LEAD,
        "too slow: the month turned mid-test"
    );
    std::thread::sleep(LEAD.saturating_sub(started.elapsed()));
    for n in &nodes {
        eventually(Duration::from_secs(10), "admitted in February", || {
            n.protected("alice").status == 200
        });
    }
}

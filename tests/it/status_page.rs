//! The status page in a real headless Chromium (through chromedriver), on
//! real node processes against a real Kafka-API broker: the page loads with
//! no console error, refreshes itself until a node that joins shows up as a
//! peer, and counts a rule's refusals; a reset on node 1 lets a refused user
//! through on nodes 2 and 3 and node 3's page shows the refusals falling. An
//! ignored test takes the screenshot README.md and docs/operations.md show
//! (`scripts/screenshot.sh`).

use std::time::{Duration, Instant};

use crate::helpers::browser::Browser;
use crate::helpers::cluster::{node, shared_broker, topic};
use crate::helpers::{self, NodeProcess};

const TOKEN: &str = "status-page-admin-token";

/// Polls `condition` (each poll reads the page the browser has now) until it
/// holds; panics naming `what` after `timeout`.
fn within(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The value of `attribute` on the status page's row of rule `rule`, now.
fn rule_attribute(browser: &Browser, rule: &str, attribute: &str) -> Option<String> {
    let rows = browser.find_all(&format!("tr[data-rule=\"{rule}\"]"));
    browser.attribute(rows.first()?, attribute)
}

fn start(brokers: &str, topic: &str, id: &str) -> NodeProcess {
    let n = node(brokers, topic, id, &["--admin-token", TOKEN]);
    n.wait_ready(Duration::from_secs(30));
    n
}

#[test]
fn the_page_loads_cleanly_shows_a_joining_peer_and_counts_refusals() {
    let (brokers, topic) = (shared_broker(), topic("status-page"));
    let first = start(&brokers, &topic, "page-a");
    let browser = Browser::start(1200, 900);
    browser.open(&format!("http://{}/status?refresh=0", first.addr));
    assert_eq!(browser.title(), "crdt-limiter status");
    let id = browser.find_all("#node-id");
    assert_eq!(browser.text(&id[0]).as_deref(), Some("page-a"));
    assert_eq!(browser.find_all("#no-peers").len(), 1);
    assert_eq!(
        browser.find_all("#keys-hidden").len(),
        1,
        "no token: no keys"
    );
    browser.assert_no_console_errors();

    // Refreshing every second, the page must find the new peer by itself.
    browser.open(&format!("http://{}/status?refresh=1", first.addr));
    let second = start(&brokers, &topic, "page-b");
    within(Duration::from_secs(30), "page-b listed up", || {
        let rows = browser.find_all("tr[data-peer=\"page-b\"]");
        rows.first()
            .is_some_and(|row| browser.attribute(row, "data-state").as_deref() == Some("up"))
    });

    // Capacity 5 and one token a minute: 5 allowed, then 3 refused.
    for n in 0..8 {
        let expected = if n < 5 { 200 } else { 429 };
        assert_eq!(first.protected("page-user").status, expected);
    }
    // Both read from one page: it refreshes every second.
    within(
        Duration::from_secs(10),
        "3 refusals of 8 decisions shown",
        || {
            rule_attribute(&browser, "default", "data-refused-60s").as_deref() == Some("3")
                && rule_attribute(&browser, "default", "data-decisions-60s").as_deref() == Some("8")
        },
    );
    browser.assert_no_console_errors();
    drop(second);
    // The check above can fail: a page that errs (a JSON 404) is logged SEVERE.
    browser.open(&format!("http://{}/no-such-page", first.addr));
    let log = browser.log();
    assert!(
        log.iter().any(|(level, _)| level == "SEVERE"),
        "a 404 is a console error: {log:?}"
    );
}

/// The issue's "done when", as a new user would try it: alice is refused on
/// nodes 2 and 3; an operator resets her through node 1; she is let through
/// on nodes 2 and 3 within a second, and node 3's status page, open in the
/// browser and refreshing itself, shows her refusals falling to none.
#[test]
fn a_reset_on_node_1_lets_a_user_through_on_2_and_3_and_node_3s_page_shows_refusals_fall() {
    let (brokers, topic) = (shared_broker(), topic("status-reset"));
    let nodes: Vec<_> = ["reset-page-1", "reset-page-2", "reset-page-3"]
        .iter()
        .map(|id| start(&brokers, &topic, id))
        .collect();
    // Capacity 5, one token a minute: after 5, alice is refused everywhere.
    for _ in 0..5 {
        assert_eq!(nodes[1].protected("alice").status, 200);
    }
    let browser = Browser::start(1200, 900);
    browser.open(&format!("http://{}/status?refresh=1", nodes[2].addr));
    let refused_10s = || -> u64 {
        rule_attribute(&browser, "default", "data-refused-10s").map_or(0, |v| v.parse().unwrap())
    };
    // She keeps trying on nodes 2 and 3 until node 3's page shows it.
    within(
        Duration::from_secs(30),
        "node 3's page shows refusals",
        || {
            for n in &nodes[1..] {
                n.protected("alice");
            }
            refused_10s() >= 5
        },
    );
    let before = refused_10s();

    let started = Instant::now();
    let reset = nodes[0].send("POST", "/v1/admin/users/alice/reset", Some(TOKEN), None);
    assert_eq!(reset.status, 200, "{reset:?}");
    for n in &nodes[1..] {
        // The issue's bound for the reset to reach the peers (a correctness
        // bound, not a speed figure).
        within(Duration::from_secs(1), "alice let through", || {
            n.protected("alice").status == 200
        });
    }
    eprintln!(
        "alice let through on nodes 2 and 3 {:?} after the reset",
        started.elapsed()
    );
    // Let through, she stops hammering: the page's last 10 s drain to none.
    within(Duration::from_secs(20), "refusals falling to none", || {
        refused_10s() == 0
    });
    eprintln!("node 3's page: {before} refusals in the last 10 s before the reset, 0 after");
    browser.assert_no_console_errors();
}

/// The screenshot's rules: a plan per user, a tight rule on creating
/// orders, and a shadow rule being tried on search.
const SHOT_RULES: &str = r#"
default_plan = "free"
[plans.free]
capacity = 5
refill_per_sec = 1
[plans.pro]
capacity = 100
refill_per_sec = 50
[[rules]]
name = "per-user"
key = "user"
limit = "plan"
[[rules]]
name = "orders-create"
match = { route = "/api/orders", method = "POST" }
key = "user+route"
capacity = 3
refill_per_sec = 0.5
[[rules]]
name = "search-trial"
match = { route = "/api/search" }
key = "user"
capacity = 2
refill_per_sec = 1
shadow = true
"#;

/// Takes `docs/status.png`: three nodes, a few seconds of traffic with
/// refusals, keys shown (the admin token as the Basic password in the URL).
/// Run by `scripts/screenshot.sh`.
#[test]
#[ignore = "writes docs/status.png; run by scripts/screenshot.sh"]
fn screenshot() {
    let (brokers, topic) = (shared_broker(), topic("status-shot"));
    let rules = helpers::temp_dir("status-shot").join("rules.toml");
    std::fs::write(&rules, SHOT_RULES).unwrap();
    let extra = ["--admin-token", TOKEN, "--rules", rules.to_str().unwrap()];
    let nodes: Vec<_> = ["edge-1", "edge-2", "edge-3"]
        .iter()
        .map(|id| {
            let n = node(&brokers, &topic, id, &extra);
            n.wait_ready(Duration::from_secs(30));
            n
        })
        .collect();
    let check = |n: &NodeProcess, user: &str, route: &str, method: &str| {
        let body = format!(r#"{{"user":"{user}","route":"{route}","method":"{method}"}}"#);
        n.send("POST", "/v1/check", None, Some(&body));
    };
    // Eight rounds, half a second apart, of uneven traffic: the sparklines get a shape.
    for round in 0..8usize {
        for (k, user) in ["alice", "bob", "carol", "dave", "erin"].iter().enumerate() {
            for _ in 0..(round + k) % 4 + 1 {
                check(&nodes[k % 3], user, "/api/orders", "POST");
                check(&nodes[0], user, "/api/search", "GET");
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let browser = Browser::start(1200, 900);
    let url = format!(
        "http://ops:{TOKEN}@{}/status?keys=1&refresh=0",
        nodes[0].addr
    );
    within(Duration::from_secs(30), "two peers and keys", || {
        browser.open(&url);
        browser.find_all("tr[data-peer]").len() == 2 && !browser.find_all("tr[data-key]").is_empty()
    });
    browser.assert_no_console_errors();
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/status.png");
    std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/docs")).unwrap();
    std::fs::write(out, browser.screenshot()).unwrap();
    eprintln!("wrote {out}");
}

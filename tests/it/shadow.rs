//! Shadow rules on a real server (port 0, hand-moved clock): a shadow rule
//! never refuses but says it would have (`RateLimit-Shadow`, and
//! `shadow_limited` in check results), and every decision is counted under
//! its rule and outcome in `limiter_decisions_total`.

use std::path::PathBuf;

use crate::helpers::{temp_dir, TestNode};

/// `per-user`: 3 per user, enforced; `trial`: 1 per user, shadow.
fn shadow_rules(name: &str) -> PathBuf {
    let path = temp_dir(name).join("rules.toml");
    std::fs::write(
        &path,
        r#"
[[rules]]
name = "per-user"
key = "user"
capacity = 3
refill_per_sec = 1

[[rules]]
name = "trial"
key = "user"
capacity = 1
refill_per_sec = 1
shadow = true
"#,
    )
    .unwrap();
    path
}

fn decisions(node: &TestNode, rule: &str, outcome: &str) -> f64 {
    node.metric(&format!(
        r#"limiter_decisions_total{{rule="{rule}",outcome="{outcome}"}}"#
    ))
}

#[test]
fn a_shadow_rule_never_refuses_on_protected_and_is_counted_per_rule() {
    let rules = shadow_rules("shadow-protected");
    let data = temp_dir("shadow-protected-data");
    let token = "test-admin-token-0123456789";
    let node = TestNode::start(&[
        "--rules",
        rules.to_str().unwrap(),
        "--admin-token",
        token,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let listed = node
        .send("GET", "/v1/admin/rules", Some(token), None)
        .json();
    assert_eq!(
        (&listed["rules"][0]["shadow"], &listed["rules"][1]["shadow"]),
        (&serde_json::json!(false), &serde_json::json!(true)),
        "{listed}"
    );
    let first = node.protected("alice");
    assert_eq!(first.status, 200, "{first:?}");
    assert!(!first.headers.contains_key("ratelimit-shadow"), "{first:?}");
    // The shadow bucket is the one that limits soonest: it is reported.
    assert_eq!(first.header("RateLimit"), r#""trial";r=0;t=1"#);
    for _ in 0..2 {
        let reply = node.protected("alice");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.json()["allowed"], true);
        assert_eq!(reply.header("RateLimit-Shadow"), r#""trial";retry-after=1"#);
    }
    // The enforced rule (3) still refuses, and then says nothing of the shadow one.
    let refused = node.protected("alice");
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.header("RateLimit"), r#""per-user";r=0;t=3"#);
    assert!(!refused.headers.contains_key("ratelimit-shadow"));

    assert_eq!(decisions(&node, "trial", "allowed"), 1.0);
    assert_eq!(decisions(&node, "trial", "shadow_limited"), 2.0);
    assert_eq!(decisions(&node, "per-user", "limited"), 1.0);
    assert_eq!(decisions(&node, "per-user", "allowed"), 0.0);
    let text = node.get("/metrics").body;
    assert!(
        text.contains(r#"limiter_decisions_total{rule="per-user",outcome="shadow_limited"} 0"#),
        "every rule's series are there from its first decision:\n{text}"
    );
}

#[test]
fn check_results_name_the_shadow_rule_only_when_it_would_have_refused() {
    let rules = shadow_rules("shadow-check");
    let node = TestNode::start(&["--rules", rules.to_str().unwrap()]);
    let first = node.check(r#"{"user":"bob"}"#);
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.json()["allowed"], true);
    assert!(first.json().get("shadow_limited").is_none(), "{first:?}");
    let second = node.check(r#"{"user":"bob"}"#);
    let v = second.json();
    assert_eq!(
        (v["allowed"].as_bool(), v["rule"].as_str()),
        (Some(true), Some("trial"))
    );
    assert_eq!(v["shadow_limited"], "trial");
    assert_eq!(
        second.header("RateLimit-Shadow"),
        r#""trial";retry-after=1"#
    );
    // A cost the shadow rule can never hold is not refused either.
    let costly = node.check(r#"{"user":"carol","cost":2}"#);
    assert_eq!(costly.status, 200, "{costly:?}");
    assert_eq!(costly.json()["shadow_limited"], "trial");
    // Batched checks say the same, item by item.
    let batch = node.send(
        "POST",
        "/v1/checks",
        None,
        Some(r#"{"checks":[{"user":"dave"},{"user":"dave"}]}"#),
    );
    let results = &batch.json()["results"];
    assert!(results[0].get("shadow_limited").is_none(), "{batch:?}");
    assert_eq!(results[1]["shadow_limited"], "trial");
    assert_eq!(decisions(&node, "trial", "shadow_limited"), 3.0);
    assert_eq!(decisions(&node, "trial", "allowed"), 2.0);
}

#[test]
fn the_shadow_flag_makes_every_rule_shadow() {
    let data = temp_dir("shadow-flag");
    let token = "test-admin-token-0123456789";
    let node = TestNode::start(&[
        "--capacity",
        "1",
        "--shadow",
        "--admin-token",
        token,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    let rules = node
        .send("GET", "/v1/admin/rules", Some(token), None)
        .json();
    assert_eq!(rules["rules"][0]["shadow"], true, "{rules}");
    assert_eq!(node.protected("erin").status, 200);
    let reply = node.protected("erin");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("RateLimit-Shadow"),
        r#""default";retry-after=1"#
    );
    // Forward-auth answers through the same path: a 200 the proxy passes on.
    let forwarded = ureq::get(&node.url("/v1/forward-auth"))
        .set("X-User-ID", "erin")
        .call()
        .unwrap();
    assert_eq!(forwarded.status(), 200);
    assert_eq!(
        forwarded.header("RateLimit-Shadow"),
        Some(r#""default";retry-after=1"#)
    );
    assert_eq!(decisions(&node, "default", "allowed"), 1.0);
    assert_eq!(decisions(&node, "default", "shadow_limited"), 2.0);
    assert_eq!(decisions(&node, "default", "limited"), 0.0);
}

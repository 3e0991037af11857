//! Rules, the check API and the admin API on a real server (port 0, hand-moved
//! clock): matching, strictest rule wins, refusals take nothing, and admin
//! changes that are authorized, validated, durable and applied.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::helpers::{self, temp_dir, Reply, TestNode};

const TOKEN: &str = "test-admin-token-0123456789";

/// The rules file docs/rules-and-plans.md shows.
fn example_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rules.toml")
}

fn rules_file(name: &str, text: &str) -> PathBuf {
    let path = temp_dir(name).join("rules.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn node_with(rules: &Path, extra: &[&str]) -> TestNode {
    let mut flags = vec!["--rules", rules.to_str().unwrap()];
    flags.extend_from_slice(extra);
    TestNode::start(&flags)
}

fn check(node: &TestNode, body: &str) -> serde_json::Value {
    let reply = node.check(body);
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json()
}

/// The outcome of a check: allowed, rule, remaining.
fn outcome(node: &TestNode, body: &str) -> (bool, String, u64) {
    let v = check(node, body);
    (
        v["allowed"].as_bool().unwrap(),
        v["rule"].as_str().unwrap().to_string(),
        v["remaining"].as_u64().unwrap(),
    )
}

const ORDER: &str = r#"{"user":"alice","route":"/api/orders","method":"POST"}"#;

#[test]
fn every_matching_rule_counts_and_the_strictest_is_reported() {
    let node = node_with(&example_rules(), &[]);
    // per-user (10), orders-create (5) and global (1000) all match; orders-create has fewest left.
    let reply = node.check(ORDER);
    let v = reply.json();
    assert_eq!(v["allowed"], true);
    assert_eq!(v["rule"], "orders-create");
    assert_eq!(
        (v["limit"].as_u64(), v["remaining"].as_u64()),
        (Some(5), Some(4))
    );
    assert_eq!(
        reply.header("RateLimit-Policy"),
        "\"orders-create\";q=5;w=10"
    );
    assert_eq!(reply.header("X-RateLimit-Remaining"), "4");
    for _ in 0..4 {
        assert!(outcome(&node, ORDER).0);
    }
    let refused = node.check(ORDER);
    let v = refused.json();
    assert_eq!(
        (v["allowed"].as_bool(), v["rule"].as_str()),
        (Some(false), Some("orders-create"))
    );
    assert_eq!(v["retry_after_ms"], 2000);
    assert_eq!(refused.header("Retry-After"), "2");
    // Reading orders (GET) is not creating them: only per-user and global count it.
    let read = r#"{"user":"alice","route":"/api/orders","method":"GET"}"#;
    assert_eq!(outcome(&node, read), (true, "per-user".into(), 4));
    // Another user's orders have their own bucket.
    assert_eq!(
        outcome(
            &node,
            r#"{"user":"bob","route":"/api/orders/","method":"post"}"#
        ),
        (true, "orders-create".into(), 4)
    );
}

#[test]
fn a_refused_request_consumes_nothing_from_any_bucket() {
    let data = temp_dir("refused");
    let node = node_with(
        &example_rules(),
        &["--admin-token", TOKEN, "--data-dir", data.to_str().unwrap()],
    );
    for _ in 0..5 {
        assert!(outcome(&node, ORDER).0);
    }
    // Twenty refusals by orders-create: per-user must still hold 10 - 5.
    for _ in 0..20 {
        assert_eq!(outcome(&node, ORDER), (false, "orders-create".into(), 0));
    }
    let v = check(&node, r#"{"user":"alice","route":"/home"}"#);
    assert_eq!(
        (v["rule"].as_str(), v["remaining"].as_u64()),
        (Some("per-user"), Some(4))
    );
    // And global paid for the 6 allowed requests only (the clock stands still).
    let global = admin(&node, "GET", "/v1/admin/buckets/global", None).json();
    assert_eq!(global["tokens"], 1000 - 6, "{global}");
    assert_eq!(node.send("GET", "/v1/check", None, None).status, 405);
}

#[test]
fn a_global_ceiling_limits_all_users_together() {
    let rules = rules_file(
        "global",
        r#"
default_plan = "free"
[plans.free]
capacity = 10
refill_per_sec = 1
[[rules]]
name = "per-user"
key = "user"
limit = "plan"
[[rules]]
name = "global"
key = "global"
capacity = 3
refill_per_sec = 1
"#,
    );
    let node = node_with(&rules, &[]);
    for user in ["a", "b", "c"] {
        assert_eq!(node.protected(user).status, 200);
    }
    let refused = node.protected("d");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("RateLimit-Policy"), "\"global\";q=3;w=3");
    assert_eq!(refused.header("Retry-After"), "1");
    node.clock.advance(Duration::from_secs(1));
    let allowed = node.protected("d");
    assert_eq!(allowed.status, 200);
    assert_eq!(allowed.header("RateLimit"), "\"global\";r=0;t=3");
}

#[test]
fn tenant_and_ip_rules_count_what_they_key_on() {
    let rules = rules_file(
        "tenant-ip",
        r#"
[[rules]]
name = "per-tenant"
key = "tenant"
capacity = 2
refill_per_sec = "1/60"
[[rules]]
name = "office"
match = { ip = "10.0.0.0/8" }
key = "ip"
capacity = 1
refill_per_sec = "1/60"
[[rules]]
name = "vip"
match = { user = "vip" }
key = "user"
capacity = 1
refill_per_sec = "1/60"
"#,
    );
    let node = node_with(&rules, &[]);
    let tenant = |user: &str| format!(r#"{{"user":"{user}","tenant":"acme"}}"#);
    assert_eq!(outcome(&node, &tenant("a")), (true, "per-tenant".into(), 1));
    assert_eq!(outcome(&node, &tenant("b")), (true, "per-tenant".into(), 0));
    assert_eq!(
        outcome(&node, &tenant("c")),
        (false, "per-tenant".into(), 0)
    );
    // No tenant, no address: no rule counts the request.
    let free = check(&node, r#"{"user":"a"}"#);
    assert_eq!(
        (free["allowed"].as_bool(), free["rule"].is_null()),
        (Some(true), true)
    );
    assert_eq!(
        outcome(&node, r#"{"user":"a","ip":"10.1.2.3"}"#),
        (true, "office".into(), 0)
    );
    assert_eq!(
        outcome(&node, r#"{"user":"b","ip":"10.1.2.3"}"#),
        (false, "office".into(), 0)
    );
    assert!(check(&node, r#"{"user":"b","ip":"192.0.2.1"}"#)["allowed"]
        .as_bool()
        .unwrap());
    assert_eq!(outcome(&node, r#"{"user":"vip"}"#), (true, "vip".into(), 0));
    assert!(!outcome(&node, r#"{"user":"vip"}"#).0);
    // /protected takes the tenant from X-Tenant-ID.
    let reply = helpers::raw_request(
        node.addr,
        b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: d\r\nX-Tenant-ID: acme",
    );
    assert_eq!(reply.status, 429, "{reply:?}");
}

#[test]
fn malformed_checks_name_the_field_and_change_nothing() {
    let node = node_with(&example_rules(), &[]);
    for (body, field) in [
        (r#"{}"#, "user"),
        (r#"{"user":""}"#, "user"),
        (r#"{"user":"a b"}"#, "user"),
        (r#"{"user":"alice","cost":0}"#, "cost"),
        (r#"{"user":"alice","cost":-1}"#, "cost"),
        (r#"{"user":"alice","cost":"1"}"#, "cost"),
        (r#"{"user":"alice","ip":"10.0.0"}"#, "ip"),
        (r#"{"user":"alice","route":"api"}"#, "route"),
        (r#"{"user":"alice","method":"G E T"}"#, "method"),
        (r#"{"user":"alice","tenant":7}"#, "tenant"),
        (r#"{"user":"alice","tennant":"acme"}"#, "tennant"),
        // More than the per-user plan's capacity (10): it could never pass.
        (r#"{"user":"alice","cost":11}"#, "cost"),
    ] {
        let reply = node.check(body);
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        let v = reply.json();
        assert_eq!(
            (v["error"].as_str(), v["field"].as_str()),
            (Some("invalid_field"), Some(field)),
            "{body}"
        );
    }
    for body in ["not json", "[1]", ""] {
        let reply = node.check(body);
        assert_eq!(
            (reply.status, reply.json()["error"].as_str()),
            (400, Some("invalid_json")),
            "{body}"
        );
    }
    assert_eq!(
        outcome(&node, r#"{"user":"alice","cost":3}"#),
        (true, "per-user".into(), 7)
    );
}

#[test]
fn without_a_rules_file_the_check_api_uses_the_one_limit() {
    let node = TestNode::start(&["--capacity", "2", "--refill-per-sec", "1"]);
    assert_eq!(
        outcome(&node, r#"{"user":"alice","route":"/x"}"#),
        (true, "default".into(), 1)
    );
    assert_eq!(
        node.protected("alice").header("RateLimit-Policy"),
        "\"default\";q=2;w=2"
    );
    assert_eq!(
        outcome(&node, r#"{"user":"alice"}"#),
        (false, "default".into(), 0)
    );
}

fn admin(node: &TestNode, method: &str, path: &str, body: Option<&str>) -> Reply {
    node.send(method, path, Some(TOKEN), body)
}

#[test]
fn the_admin_api_needs_the_token_everywhere() {
    let data = temp_dir("admin-auth");
    let node = node_with(
        &example_rules(),
        &["--admin-token", TOKEN, "--data-dir", data.to_str().unwrap()],
    );
    let wrong = "test-admin-token-0123456788";
    for (method, path, body) in [
        ("GET", "/v1/admin/plans", None),
        ("GET", "/v1/admin/rules", None),
        (
            "PUT",
            "/v1/admin/users/alice/plan",
            Some(r#"{"plan":"pro"}"#),
        ),
        (
            "PUT",
            "/v1/admin/plans/free",
            Some(r#"{"capacity":1000,"refill_per_sec":1000}"#),
        ),
        ("DELETE", "/v1/admin/plans/pro", None),
        ("GET", "/v1/admin/no-such-route", None),
        ("POST", "/v1/admin/", None),
    ] {
        for token in [None, Some(wrong), Some(""), Some(&TOKEN[..TOKEN.len() - 1])] {
            let reply = node.send(method, path, token, body);
            assert_eq!(reply.status, 401, "{method} {path} {token:?}: {reply:?}");
            assert_eq!(reply.json()["error"], "unauthorized");
        }
    }
    let basic = helpers::raw_request(
        node.addr,
        format!("GET /v1/admin/plans HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {TOKEN}")
            .as_bytes(),
    );
    assert_eq!(basic.status, 401);
    // Nothing changed, and an authorized caller learns the route does not exist.
    assert_eq!(
        admin(&node, "GET", "/v1/admin/users/alice/plan", None).json()["plan"],
        "free"
    );
    assert_eq!(
        admin(&node, "GET", "/v1/admin/plans", None).json()["plans"]["free"]["capacity"],
        10
    );
    assert_eq!(
        admin(&node, "GET", "/v1/admin/no-such-route", None).status,
        404
    );
    assert_eq!(admin(&node, "POST", "/v1/admin/plans", None).status, 405);

    let off = node_with(&example_rules(), &[]);
    let reply = off.send("GET", "/v1/admin/plans", Some(TOKEN), None);
    assert_eq!(
        (reply.status, reply.json()["error"].as_str()),
        (404, Some("admin_disabled"))
    );
}

#[test]
fn malformed_admin_calls_name_the_field_and_change_nothing() {
    let data = temp_dir("admin-bad");
    let node = node_with(
        &example_rules(),
        &["--admin-token", TOKEN, "--data-dir", data.to_str().unwrap()],
    );
    let before = admin(&node, "GET", "/v1/admin/rules", None).body;
    for (method, path, body, field) in [
        (
            "PUT",
            "/v1/admin/users/alice/plan",
            Some(r#"{"plan":"gold"}"#),
            "plan",
        ),
        (
            "PUT",
            "/v1/admin/users/alice/plan",
            Some(r#"{"plann":"pro"}"#),
            "plann",
        ),
        ("PUT", "/v1/admin/users/alice/plan", Some(r#"{}"#), "plan"),
        (
            "PUT",
            "/v1/admin/plans/pro",
            Some(r#"{"capacity":0,"refill_per_sec":1}"#),
            "capacity",
        ),
        (
            "PUT",
            "/v1/admin/plans/pro",
            Some(r#"{"capacity":5}"#),
            "refill_per_sec",
        ),
        (
            "PUT",
            "/v1/admin/plans/pro",
            Some(r#"{"capacity":5,"refill_per_sec":"fast"}"#),
            "refill_per_sec",
        ),
        (
            "PUT",
            "/v1/admin/plans/bad.name!",
            Some(r#"{"capacity":5,"refill_per_sec":1}"#),
            "name",
        ),
        ("DELETE", "/v1/admin/plans/free", None, "name"),
        ("DELETE", "/v1/admin/plans/gold", None, "name"),
        (
            "PUT",
            "/v1/admin/rules/per-user/limit",
            Some(r#"{"capacity":5,"refill_per_sec":1}"#),
            "limit",
        ),
        (
            "PUT",
            "/v1/admin/rules/nope/limit",
            Some(r#"{"capacity":5,"refill_per_sec":1}"#),
            "name",
        ),
    ] {
        let reply = admin(&node, method, path, body);
        assert_eq!(reply.status, 400, "{method} {path} {body:?}: {reply:?}");
        assert_eq!(reply.json()["field"], field, "{method} {path} {body:?}");
    }
    let reply = admin(&node, "PUT", "/v1/admin/plans/pro", Some("{"));
    assert_eq!(reply.json()["error"], "invalid_json");
    assert_eq!(admin(&node, "GET", "/v1/admin/rules", None).body, before);
    let stored = std::fs::read_to_string(data.join("config-changes.jsonl")).unwrap();
    assert_eq!(stored, "", "nothing was stored");
}

#[test]
fn admin_changes_apply_at_once_and_survive_a_restart() {
    let data = temp_dir("admin-changes");
    let flags = ["--admin-token", TOKEN, "--data-dir", data.to_str().unwrap()];
    let node = node_with(&example_rules(), &flags);
    for _ in 0..10 {
        assert_eq!(node.protected("alice").status, 200);
    }
    assert_eq!(node.protected("alice").status, 429);

    let moved = admin(
        &node,
        "PUT",
        "/v1/admin/users/alice/plan",
        Some(r#"{"plan":"pro"}"#),
    );
    assert_eq!(moved.status, 200, "{moved:?}");
    // Her level is kept (empty), under pro's limit: refilling at 100/s, not 10/s.
    let still = node.protected("alice");
    assert_eq!(
        (still.status, still.header("X-RateLimit-Limit")),
        (429, "100")
    );
    node.clock.advance(Duration::from_millis(100));
    let admitted = (0..20)
        .take_while(|_| node.protected("alice").status == 200)
        .count();
    assert_eq!(admitted, 10, "100 ms of a 100/s plan");

    let bucket = admin(&node, "GET", "/v1/admin/buckets/per-user%20alice", None);
    let v = bucket.json();
    assert_eq!(
        (
            v["rule"].as_str(),
            v["limit"]["capacity"].as_u64(),
            v["tokens"].as_u64()
        ),
        (Some("per-user"), Some(100), Some(0)),
        "{v}"
    );
    assert!(v["stamp_unix_ms"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(
        admin(&node, "GET", "/v1/admin/buckets/per-user%20nobody", None).status,
        404
    );

    let plan = admin(
        &node,
        "PUT",
        "/v1/admin/plans/team",
        Some(r#"{"capacity":50,"refill_per_sec":"50"}"#),
    );
    assert_eq!(plan.status, 200, "{plan:?}");
    assert_eq!(
        admin(
            &node,
            "PUT",
            "/v1/admin/users/bob/plan",
            Some(r#"{"plan":"team"}"#)
        )
        .status,
        200
    );
    assert_eq!(node.protected("bob").header("X-RateLimit-Limit"), "50");
    let rule = admin(
        &node,
        "PUT",
        "/v1/admin/rules/global/limit",
        Some(r#"{"capacity":2000,"refill_per_sec":2000}"#),
    );
    assert_eq!(rule.status, 200, "{rule:?}");
    let rules = admin(&node, "GET", "/v1/admin/rules", None).json();
    assert_eq!(rules["rules"][2]["limit"]["capacity"], 2000);
    assert_eq!(rules["moved_users"]["alice"], "pro");
    drop(node);

    let restarted = node_with(&example_rules(), &flags);
    let alice = admin(&restarted, "GET", "/v1/admin/users/alice/plan", None).json();
    assert_eq!(
        (alice["plan"].as_str(), alice["source"].as_str()),
        (Some("pro"), Some("moved"))
    );
    assert_eq!(
        admin(&restarted, "GET", "/v1/admin/plans", None).json()["plans"]["team"]["capacity"],
        50
    );
    assert_eq!(
        admin(&restarted, "GET", "/v1/admin/rules", None).json()["rules"][2]["limit"]["capacity"],
        2000
    );

    assert_eq!(
        admin(&restarted, "DELETE", "/v1/admin/users/alice/plan", None).status,
        200
    );
    assert_eq!(
        admin(&restarted, "DELETE", "/v1/admin/plans/team", None).status,
        200
    );
    assert_eq!(
        restarted.protected("bob").header("X-RateLimit-Limit"),
        "10",
        "back to the default plan"
    );
    assert_eq!(
        restarted.protected("alice").header("X-RateLimit-Limit"),
        "10"
    );
}

#[test]
fn the_readme_shows_the_example_rules_file_as_it_is() {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules-and-plans.md"),
    )
    .unwrap();
    let rules = std::fs::read_to_string(example_rules()).unwrap();
    assert!(
        readme.contains(&format!("```toml\n{rules}```")),
        "docs/rules-and-plans.md and examples/rules.toml differ"
    );
}

#[test]
fn without_a_rules_file_the_admin_api_changes_the_one_limit_and_moves_users() {
    let data = temp_dir("admin-default");
    let node = TestNode::start(&[
        "--capacity",
        "10",
        "--admin-token",
        TOKEN,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(node.protected("alice").header("X-RateLimit-Limit"), "10");
    let changed = admin(
        &node,
        "PUT",
        "/v1/admin/plans/default",
        Some(r#"{"capacity":3,"refill_per_sec":1}"#),
    );
    assert_eq!(changed.status, 200, "{changed:?}");
    // alice keeps her level (9 left), clipped to the new capacity of 3.
    assert_eq!(node.protected("alice").header("X-RateLimit-Remaining"), "2");
    assert_eq!(node.protected("bob").header("X-RateLimit-Limit"), "3");
    assert_eq!(
        admin(
            &node,
            "PUT",
            "/v1/admin/plans/big",
            Some(r#"{"capacity":500,"refill_per_sec":5}"#)
        )
        .status,
        200
    );
    assert_eq!(
        admin(
            &node,
            "PUT",
            "/v1/admin/users/carol/plan",
            Some(r#"{"plan":"big"}"#)
        )
        .status,
        200
    );
    let carol = node.protected("carol");
    assert_eq!(
        (
            carol.header("X-RateLimit-Limit"),
            carol.header("RateLimit-Policy")
        ),
        ("500", "\"default\";q=500;w=100")
    );
    assert_eq!(
        admin(
            &node,
            "PUT",
            "/v1/admin/rules/default/limit",
            Some(r#"{"capacity":1,"refill_per_sec":1}"#)
        )
        .json()["field"],
        "limit"
    );
}

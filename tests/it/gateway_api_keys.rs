//! API keys managed through the admin API, used by the gateway: made by the
//! node or chosen by the caller or given as a hash, moved to another plan,
//! listed and revoked; kept across a restart (the file log) and shared by
//! every node (the config topic on the real broker). Bad calls are refused
//! naming the field and change nothing; a revoked key is a 401 that reaches
//! no upstream.

use std::time::Duration;

use crdt_limiter::gateway::identity::hash_key;
use serde_json::{json, Value};

use crate::helpers::cluster::{node, shared_broker, topic};
use crate::helpers::echo::Echo;
use crate::helpers::{self, eventually, temp_dir, NodeProcess, TestNode};

const TOKEN: &str = "test-admin-token-0123456789";

/// A rules file and a gateway file (one route `/k`, API keys only, with
/// `key-in-the-gateway-file` listed for erin) in `dir`; the flags that use them.
fn files(dir: &std::path::Path, echo: &Echo) -> Vec<String> {
    let (rules, gateway) = (dir.join("rules.toml"), dir.join("gateway.toml"));
    std::fs::write(&rules, helpers::echo::PLAN_RULES).unwrap();
    let text = format!(
        "[identity]\nmethods = [\"api_key\"]\n[identity.api_key]\n\
         keys = [{{ hash = \"{}\", user = \"erin\" }}]\n\
         [[routes]]\nname = \"keys\"\nprefix = \"/k\"\nupstreams = [\"http://{}\"]\n",
        hash_key("key-in-the-gateway-file"),
        echo.addr
    );
    std::fs::write(&gateway, text).unwrap();
    [
        "--rules",
        rules.to_str().unwrap(),
        "--gateway",
        gateway.to_str().unwrap(),
        "--admin-token",
        TOKEN,
    ]
    .map(String::from)
    .to_vec()
}

/// `GET /k/x` on `addr` with `key`: status, the limit header, and the body.
fn call(addr: std::net::SocketAddr, key: &str) -> (u16, Option<String>, Value) {
    helpers::echo::get(&format!("http://{addr}/k/x"), &[("X-API-Key", key)])
}

fn admin(node: &TestNode, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let reply = node.send(method, path, Some(TOKEN), body.as_deref());
    (reply.status, reply.json())
}

#[test]
fn keys_are_made_chosen_moved_listed_and_revoked_and_kept_across_a_restart() {
    let echo = Echo::start();
    let dir = temp_dir("gateway-api-keys");
    let data = dir.join("data");
    let mut flags = files(&dir, &echo);
    flags.extend(["--data-dir".into(), data.to_str().unwrap().into()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut node = TestNode::start(&flags);

    // Made by the node: the key is answered once, with its hash.
    let (status, made) = admin(
        &node,
        "POST",
        "/v1/admin/api-keys",
        Some(json!({"user": "carol", "plan": "pro"})),
    );
    assert_eq!(status, 201, "{made}");
    let carol = made["key"].as_str().unwrap().to_string();
    assert!(carol.starts_with("crl_") && carol.len() == 47, "{carol}");
    assert_eq!(made["hash"], hash_key(&carol));
    assert_eq!(
        (made["user"].as_str(), made["plan"].as_str()),
        (Some("carol"), Some("pro"))
    );
    // Acknowledged means in effect on this node: no waiting.
    let (status, limit, seen) = call(node.addr, &carol);
    assert_eq!((status, limit.as_deref()), (200, Some("5")), "{seen}");
    assert_eq!(seen["headers"]["x-user-id"], "carol");
    assert!(seen["headers"].get("x-api-key").is_none(), "{seen}");

    // Chosen by the caller: not echoed back; no plan is the user's plan.
    let (status, chosen) = admin(
        &node,
        "POST",
        "/v1/admin/api-keys",
        Some(json!({"user": "dave", "key": "dave-chose-this-key"})),
    );
    assert_eq!(status, 201, "{chosen}");
    assert!(chosen.get("key").is_none(), "{chosen}");
    let dave_hash = hash_key("dave-chose-this-key");
    assert_eq!(chosen["hash"], dave_hash);
    assert_eq!(
        call(node.addr, "dave-chose-this-key").1.as_deref(),
        Some("2")
    );
    let (status, again) = admin(
        &node,
        "POST",
        "/v1/admin/api-keys",
        Some(json!({"user": "mallory", "key": "dave-chose-this-key"})),
    );
    assert_eq!((status, again["error"].as_str()), (409, Some("conflict")));

    // Moved to pro by hash; a hash alone adds a key too.
    let path = format!("/v1/admin/api-keys/{dave_hash}");
    let (status, moved) = admin(
        &node,
        "PUT",
        &path,
        Some(json!({"user": "dave", "plan": "pro"})),
    );
    assert_eq!(status, 200, "{moved}");
    assert_eq!(
        call(node.addr, "dave-chose-this-key").1.as_deref(),
        Some("5")
    );
    let frank = format!("/v1/admin/api-keys/{}", hash_key("frank-key"));
    assert_eq!(
        admin(&node, "PUT", &frank, Some(json!({"user": "frank"}))).0,
        200
    );
    assert_eq!(
        call(node.addr, "frank-key").2["headers"]["x-user-id"],
        "frank"
    );

    // Listed, by user; one read back with where it comes from.
    let (_, all) = admin(&node, "GET", "/v1/admin/api-keys", None);
    assert_eq!(all["keys"].as_array().unwrap().len(), 3, "{all}");
    assert_eq!(
        (&all["truncated"], &all["next"]),
        (&json!(false), &Value::Null)
    );
    let (_, of_dave) = admin(&node, "GET", "/v1/admin/api-keys?user=dave", None);
    assert_eq!(
        of_dave["keys"],
        json!([{"hash": dave_hash, "user": "dave", "plan": "pro"}])
    );
    let (_, one) = admin(&node, "GET", &path, None);
    assert_eq!(one["source"], "admin_api");

    // Revoked: a 401 naming the unknown key, which reaches no upstream.
    let carol_path = format!("/v1/admin/api-keys/{}", hash_key(&carol));
    let (status, revoked) = admin(&node, "DELETE", &carol_path, None);
    assert_eq!((status, &revoked["revoked"]), (200, &json!(true)));
    let hits = echo.hits();
    let (status, _, body) = call(node.addr, &carol);
    assert_eq!((status, body["error"].as_str()), (401, Some("unknown_key")));
    assert_eq!(echo.hits(), hits);
    // Revoking again is harmless, and says the key was not known by then.
    let (status, again) = admin(&node, "DELETE", &carol_path, None);
    assert_eq!((status, &again["known"]), (200, &json!(false)));

    // Kept across restarts: the file log has every change, and once
    // rewritten, nothing of the revoked key.
    for _ in 0..2 {
        drop(node);
        node = TestNode::start(&flags);
        assert_eq!(call(node.addr, &carol).0, 401);
        assert_eq!(
            call(node.addr, "dave-chose-this-key").1.as_deref(),
            Some("5")
        );
        assert_eq!(call(node.addr, "frank-key").0, 200);
    }
    let stored = std::fs::read_to_string(data.join("config-changes.jsonl")).unwrap();
    assert!(!stored.contains(&hash_key(&carol)), "{stored}");
    assert_eq!(stored.matches("apikey/").count(), 2, "{stored}");
}

#[test]
fn bad_calls_are_refused_naming_the_field_and_change_nothing() {
    let echo = Echo::start();
    let dir = temp_dir("gateway-api-keys-bad");
    let mut flags = files(&dir, &echo);
    flags.extend([
        "--data-dir".into(),
        dir.join("data").to_str().unwrap().into(),
    ]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let node = TestNode::start(&flags);
    let post = |body: &str| {
        let reply = node.send("POST", "/v1/admin/api-keys", Some(TOKEN), Some(body));
        (reply.status, reply.json())
    };
    for (body, field) in [
        (r#"{"plan":"pro"}"#, "user"),
        (r#"{"user":""}"#, "user"),
        (r#"{"user":"a","plan":"gold"}"#, "plan"),
        (r#"{"user":"a","plan":"no spaces"}"#, "plan"),
        (r#"{"user":"a","key":""}"#, "key"),
        (r#"{"user":"a","key":"too-short"}"#, "key"),
        (r#"{"user":"a","key":"has a space in the middle"}"#, "key"),
        (r#"{"user":"a","hash":"sha256:00"}"#, "hash"),
    ] {
        let (status, error) = post(body);
        assert_eq!(
            (status, error["field"].as_str()),
            (400, Some(field)),
            "{body}: {error}"
        );
    }
    assert_eq!(post("[1]").0, 400);
    // The gateway file's key wins, so the admin API may not shadow it; a
    // revocation is committed but says the file's entry still works here.
    let (status, error) = post(r#"{"user":"mallory","key":"key-in-the-gateway-file"}"#);
    assert_eq!(status, 409, "{error}");
    let file_key = format!("/v1/admin/api-keys/{}", hash_key("key-in-the-gateway-file"));
    let (status, revoked) = admin(&node, "DELETE", &file_key, None);
    assert_eq!(
        (status, &revoked["known"]),
        (200, &json!(false)),
        "{revoked}"
    );
    assert!(revoked["gateway_file"].is_string(), "{revoked}");
    let body = json!({"user": "mallory"});
    assert_eq!(admin(&node, "PUT", &file_key, Some(body)).0, 409);
    assert_eq!(
        admin(&node, "GET", &file_key, None).1["source"],
        "gateway_file"
    );
    assert_eq!(
        call(node.addr, "key-in-the-gateway-file").2["headers"]["x-user-id"],
        "erin"
    );
    // A malformed or unknown hash; a key in a PUT body; no token.
    let (status, error) = admin(&node, "GET", "/v1/admin/api-keys/sha256:beef", None);
    assert_eq!((status, error["field"].as_str()), (400, Some("hash")));
    let unknown = format!("/v1/admin/api-keys/{}", hash_key("nobody"));
    let (status, error) = admin(&node, "GET", &unknown, None);
    assert_eq!(
        (status, error["error"].as_str()),
        (404, Some("unknown_api_key"))
    );
    let body = json!({"user": "a", "key": "a-key-long-enough-to-choose"});
    assert_eq!(admin(&node, "PUT", &unknown, Some(body)).1["field"], "key");
    for query in ["colour=red", "after=sha256:beef"] {
        let (status, _) = admin(&node, "GET", &format!("/v1/admin/api-keys?{query}"), None);
        assert_eq!(status, 400, "{query}");
    }
    let anonymous = node.send("POST", "/v1/admin/api-keys", None, Some(r#"{"user":"a"}"#));
    assert_eq!(anonymous.status, 401);
    // Nothing was added.
    let (_, all) = admin(&node, "GET", "/v1/admin/api-keys", None);
    assert_eq!(all["keys"], json!([]));
    assert_eq!(call(node.addr, "a-key-long-enough-to-choose").0, 401);
}

/// A key added on node 1 lets its owner through node 2's gateway, and once
/// revoked on node 1 is refused by node 2's, both through the config topic
/// on the real broker. A hostile record there is skipped and counted.
#[test]
fn a_key_added_on_one_node_works_on_another_until_revoked() {
    let echo = Echo::start();
    let dir = temp_dir("gateway-api-keys-cluster");
    let (brokers, topic, config) = (shared_broker(), topic("keys"), topic("keys-config"));
    let mut flags = files(&dir, &echo);
    flags.extend(["--config-topic".into(), config.clone()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let nodes: Vec<NodeProcess> = ["keys-1", "keys-2"]
        .iter()
        .map(|id| node(&brokers, &topic, id, &flags))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    let made = nodes[0].send(
        "POST",
        "/v1/admin/api-keys",
        Some(TOKEN),
        Some(r#"{"user":"grace","plan":"pro"}"#),
    );
    assert_eq!(made.status, 201, "{made:?}");
    let added = std::time::Instant::now();
    let key = made.json()["key"].as_str().unwrap().to_string();
    assert_eq!(call(nodes[0].addr, &key).0, 200);
    eventually(
        Duration::from_secs(5),
        "the key added on node 1 working on node 2",
        || call(nodes[1].addr, &key).0 == 200,
    );
    eprintln!(
        "added on node 1: works on node 2 {:?} after",
        added.elapsed()
    );
    let (_, limit, seen) = call(nodes[1].addr, &key);
    assert_eq!(
        (limit.as_deref(), &seen["headers"]["x-user-id"]),
        (Some("5"), &json!("grace"))
    );

    let path = format!("/v1/admin/api-keys/{}", hash_key(&key));
    assert_eq!(
        nodes[0].send("DELETE", &path, Some(TOKEN), None).status,
        200
    );
    let revoked = std::time::Instant::now();
    eventually(
        Duration::from_secs(5),
        "the key revoked on node 1 refused on node 2",
        || call(nodes[1].addr, &key).0 == 401,
    );
    eprintln!(
        "revoked on node 1: refused on node 2 {:?} after",
        revoked.elapsed()
    );
    assert_eq!(call(nodes[1].addr, &key).2["error"], "unknown_key");

    // A record naming a user that is no user ID, and one for a key that is
    // no hash: skipped and counted on both nodes.
    let hostile_user = format!("{{\"v\":1,\"user\":\"{}\"}}", "u".repeat(300));
    let hostile_key = format!("apikey/{}", hash_key("hostile"));
    helpers::cluster::produce_raw(
        &brokers,
        &config,
        &[
            (hostile_key.as_bytes(), hostile_user.as_bytes()),
            (b"apikey/sha256:00", b"{\"v\":1,\"user\":\"x\"}"),
        ],
    );
    for n in &nodes {
        eventually(
            Duration::from_secs(5),
            "both hostile config records refused",
            || n.metric("limiter_config_decode_errors_total") >= 2.0,
        );
        assert_eq!(call(n.addr, "hostile").0, 401);
    }
}

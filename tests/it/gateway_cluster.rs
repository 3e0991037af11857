//! The gateway in front of a real nginx serving static content, on three
//! real node processes sharing state through the real broker: a user's
//! limit holds across the nodes' gateways as it does on `/protected`, and
//! nginx sees exactly the requests that were allowed.

use std::time::Duration;

use crate::helpers::cluster::{node, shared_broker, topic};
use crate::helpers::proxy::Proxy;
use crate::helpers::{self, eventually, temp_dir, tools, NodeProcess};

/// The admin API's token: the tests read buckets through it.
const ADMIN: &str = "gateway-cluster-admin-token";

/// nginx serving `dir/static` on a free port, counting what it served in `dir/access.log`.
fn nginx_static(dir: &std::path::Path) -> Proxy {
    let port = tools::free_port();
    std::fs::create_dir_all(dir.join("static/docs")).unwrap();
    std::fs::write(dir.join("static/docs/guide.txt"), "the guide\n").unwrap();
    let d = dir.display();
    let config = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n    access_log {d}/access.log;\n    client_body_temp_path {d}/client_body;\n    \
         proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    \
         uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n    \
         server {{ listen 127.0.0.1:{port}; root {d}/static; }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    Proxy::nginx(dir, port)
}

/// Lines nginx logged: the requests that reached it.
fn served(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("access.log")).map_or(0, |t| t.lines().count())
}

/// `GET path` on `node` as `user`: status and body.
fn get(node: &NodeProcess, path: &str, user: &str) -> (u16, String) {
    let url = format!("http://{}{}", node.addr, path);
    match ureq::get(&url).set("X-User-ID", user).call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => (r.status(), r.into_string().unwrap()),
        Err(e) => panic!("{url}: {e}"),
    }
}

#[test]
fn a_users_limit_holds_across_three_gateways_in_front_of_nginx() {
    let dir = temp_dir("gateway-cluster");
    let upstream = nginx_static(&dir);
    let gateway = dir.join("gateway.toml");
    std::fs::write(
        &gateway,
        format!(
            "[[routes]]\nname = \"docs\"\nprefix = \"/docs\"\nupstreams = [\"http://127.0.0.1:{}\"]\n",
            upstream.port
        ),
    )
    .unwrap();
    let (brokers, topic) = (shared_broker(), topic("gateway-cluster"));
    // The decision APIs of a gateway answer only a decision token's holders.
    const TOKEN: &str = "cluster-decision-token-01";
    let flags = [
        "--gateway",
        gateway.to_str().unwrap(),
        "--merge",
        "counted",
        "--trusted-proxies",
        "127.0.0.1/32",
        "--decision-token",
        TOKEN,
        "--admin-token",
        ADMIN,
    ];
    let nodes: Vec<NodeProcess> = ["gw-1", "gw-2", "gw-3"]
        .iter()
        .map(|id| node(&brokers, &topic, id, &flags))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    // Capacity 5, one token a minute (the cluster helper's): alice's 5
    // requests go through node 1's gateway to nginx.
    for _ in 0..5 {
        let (status, body) = get(&nodes[0], "/docs/guide.txt", "alice");
        assert_eq!((status, body.as_str()), (200, "the guide\n"));
    }
    // Once replicated (asking a gateway before is a race the limiter may
    // lose), every node's gateway refuses her, as /protected does.
    eventually(
        Duration::from_secs(10),
        "alice's empty bucket on every node",
        || nodes.iter().all(|n| n.tokens(ADMIN, "alice") == Some(0)),
    );
    for n in &nodes {
        assert_eq!(get(n, "/docs/guide.txt", "alice").0, 429);
    }
    let head = format!(
        "POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: alice\r\nX-Limiter-Token: {TOKEN}"
    );
    assert!(nodes
        .iter()
        .all(|n| helpers::raw_request(n.addr, head.as_bytes()).status == 429));
    // nginx served exactly the allowed requests; bob is untouched.
    assert_eq!(get(&nodes[2], "/docs/guide.txt", "bob").0, 200);
    eventually(
        Duration::from_secs(5),
        "the 6 allowed requests in nginx's log",
        || served(&dir) == 6,
    );
    // And no more: a moment for a request that should not come to show.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(served(&dir), 6, "{}", upstream.log());
}

/// A plan named by a JWT holds on every node: a pro caller who spent 2 of
/// pro's 5 on node 1 has 3 left on node 2, not the default plan's 2 there
/// (nor a fresh 5): the plan travels in the bucket key.
#[test]
fn a_credentials_plan_holds_on_every_node() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;
    let echo = helpers::echo::Echo::start();
    let dir = temp_dir("gateway-plans");
    let (rules, gateway) = (dir.join("rules.toml"), dir.join("gateway.toml"));
    std::fs::write(&rules, helpers::echo::PLAN_RULES).unwrap();
    let secret = "a-cluster-secret-of-at-least-32-bytes";
    std::fs::write(
        &gateway,
        format!(
            "[identity]\nmethods = [\"jwt\"]\n[identity.jwt]\nalgorithms = [\"HS256\"]\n\
             secret = \"{secret}\"\nplan_claim = \"plan\"\n\
             [[routes]]\nname = \"api\"\nprefix = \"/api\"\nupstreams = [\"http://{}\"]\n",
            echo.addr
        ),
    )
    .unwrap();
    let (brokers, topic) = (shared_broker(), topic("gateway-plans"));
    let flags = [
        "--rules",
        rules.to_str().unwrap(),
        "--gateway",
        gateway.to_str().unwrap(),
        "--admin-token",
        ADMIN,
    ];
    let nodes: Vec<NodeProcess> = ["plan-1", "plan-2"]
        .iter()
        .map(|id| node(&brokers, &topic, id, &flags))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({"sub": "bob", "plan": "pro", "exp": exp});
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let call = |n: &NodeProcess| {
        let url = format!("http://{}/api/x", n.addr);
        match ureq::get(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .call()
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => (
                r.status(),
                r.header("x-ratelimit-limit").map(str::to_string),
                r.header("x-ratelimit-remaining").map(str::to_string),
            ),
            Err(e) => panic!("{url}: {e}"),
        }
    };
    for _ in 0..2 {
        assert_eq!(call(&nodes[0]).0, 200);
    }
    eventually(Duration::from_secs(10), "bob's two takes on node 2", || {
        nodes[1].tokens(ADMIN, "per-user bob plan:pro") == Some(3)
    });
    let (status, limit, remaining) = call(&nodes[1]);
    assert_eq!(
        (status, limit.as_deref(), remaining.as_deref()),
        (200, Some("5"), Some("2")),
        "pro's 5, less node 1's 2 and this one"
    );
}

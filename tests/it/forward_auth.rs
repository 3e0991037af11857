//! Black-box tests of `/v1/forward-auth` on one node: the decision of
//! `/protected` for the request a proxy describes in its forwarded headers.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{temp_dir, Reply, TestNode};

/// `method path` on `node` with `headers`.
fn ask(node: &TestNode, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let mut request = agent.request(method, &node.url(path));
    for (name, value) in headers {
        request = request.set(name, value);
    }
    Reply::from(request.call())
}

/// Rules that tell which route, method and address a request was seen with:
/// each answers with its own name in `RateLimit-Policy`.
const RULES: &str = r#"
[[rules]]
name = "orders"
match = { route = "/api/orders", method = "POST" }
key = "user"
capacity = 1
refill_per_sec = "1/60"

[[rules]]
name = "office"
match = { ip = "10.9.0.0/16" }
key = "ip"
capacity = 1
refill_per_sec = "1/60"
"#;

fn node_with_rules() -> TestNode {
    let rules = temp_dir("forward-auth").join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    TestNode::start(&["--rules", rules.to_str().unwrap()])
}

/// The rule that decided, from `RateLimit-Policy`; `None` when no rule applied.
fn rule(reply: &Reply) -> Option<String> {
    assert_eq!(reply.status, 200, "{reply:?}");
    let policy = reply.headers.get("ratelimit-policy")?;
    Some(policy.split('"').nth(1).unwrap().to_string())
}

#[test]
fn allowed_then_limited_with_retry_after_on_any_method() {
    let node = TestNode::start(&["--capacity", "2", "--refill-per-sec", "0.5"]);
    let user = [("X-User-ID", "alice")];
    let ok = ask(&node, "GET", "/v1/forward-auth", &user);
    assert_eq!(ok.status, 200, "{ok:?}");
    // Everything is in the headers; no body, so proxies can reuse the connection.
    assert_eq!(ok.body, "");
    assert_eq!(ok.header("Content-Length"), "0");
    assert_eq!(ok.header("RateLimit-Policy"), "\"default\";q=2;w=4");
    assert_eq!(ok.header("X-RateLimit-Remaining"), "1");
    assert!(!ok.headers.contains_key("retry-after"));
    assert_eq!(ask(&node, "HEAD", "/v1/forward-auth", &user).status, 200);

    let limited = ask(&node, "DELETE", "/v1/forward-auth", &user);
    assert_eq!(limited.status, 429, "{limited:?}");
    assert_eq!(limited.header("Retry-After"), "2");
    assert_eq!(limited.header("X-RateLimit-Remaining"), "0");
    assert_eq!(
        limited.json(),
        json!({"error": "too_many_requests", "retry_after_ms": 2000})
    );
    // The same buckets as /protected: the user is refused there too.
    assert_eq!(node.protected("alice").status, 429);
    assert_eq!(
        ask(&node, "POST", "/v1/forward-auth", &[("X-User-ID", "bob")]).status,
        200
    );
    node.clock.advance(Duration::from_secs(2));
    assert_eq!(ask(&node, "PUT", "/v1/forward-auth/x", &user).status, 200);
    assert_eq!(
        node.metric(r#"http_requests_total{route="/v1/forward-auth",status="429"}"#),
        1.0
    );
    assert_eq!(
        node.metric(r#"http_requests_total{route="/v1/forward-auth",status="200"}"#),
        4.0
    );
}

#[test]
fn method_and_route_come_from_the_forwarded_headers_or_the_request_itself() {
    let node = node_with_rules();
    let post_orders = |user: &str, path: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![("X-User-ID", user)];
        headers.extend_from_slice(extra);
        ask(&node, "GET", path, &headers)
    };
    let forwarded = [
        ("X-Forwarded-Method", "POST"),
        ("X-Forwarded-Uri", "/api/orders/7?page=2"),
        ("X-Forwarded-Host", "shop.example:8443"),
    ];
    assert_eq!(
        rule(&post_orders("caddy", "/v1/forward-auth", &forwarded)),
        Some("orders".into())
    );
    let limited = post_orders("caddy", "/v1/forward-auth", &forwarded);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("Retry-After"), "60");
    // The forwarded method decides: a GET of the same route matches no rule.
    let get = [("X-Forwarded-Method", "GET"), forwarded[1]];
    assert_eq!(rule(&post_orders("caddy", "/v1/forward-auth", &get)), None);

    // nginx: X-Original-URI; the query is not part of the route.
    let nginx = [
        ("X-Forwarded-Method", "POST"),
        ("X-Original-URI", "/api/orders?x=/y"),
    ];
    assert_eq!(
        rule(&post_orders("nginx", "/v1/forward-auth", &nginx)),
        Some("orders".into())
    );
    // The path after the prefix is bounded as the headers are.
    let long = format!("/v1/forward-auth/{}", "a".repeat(600));
    let reply = ask(&node, "GET", &long, &[("X-User-ID", "alice")]);
    assert_eq!(
        (reply.status, reply.json()["field"].as_str()),
        (400, Some("path"))
    );
    // Envoy ext_authz HTTP: the original method, the path after the prefix.
    let envoy = ask(
        &node,
        "POST",
        "/v1/forward-auth/api/orders/9?q=1",
        &[("X-User-ID", "envoy")],
    );
    assert_eq!(rule(&envoy), Some("orders".into()));
    assert_eq!(
        ask(
            &node,
            "POST",
            "/v1/forward-auth/api/orders",
            &[("X-User-ID", "envoy")]
        )
        .status,
        429
    );
    assert_eq!(rule(&post_orders("plain", "/v1/forward-auth", &[])), None);
}

#[test]
fn the_client_address_is_the_rightmost_forwarded_for_else_x_real_ip() {
    let node = node_with_rules();
    let from = |headers: &[(&str, &str)]| {
        let mut all = vec![("X-User-ID", "someone")];
        all.extend_from_slice(headers);
        ask(&node, "GET", "/v1/forward-auth", &all)
    };
    // The leftmost address is the client's say; only the rightmost counts.
    let spoofed = [("X-Forwarded-For", "10.9.0.1, 192.0.2.7")];
    assert_eq!(rule(&from(&spoofed)), None);
    let office = [("X-Forwarded-For", "192.0.2.7, 10.9.0.1")];
    assert_eq!(rule(&from(&office)), Some("office".into()));
    assert_eq!(from(&office).status, 429);
    // X-Real-IP when there is no X-Forwarded-For, and ignored when there is.
    assert_eq!(
        rule(&from(&[("X-Real-IP", "10.9.0.2")])),
        Some("office".into())
    );
    let both = [("X-Forwarded-For", "192.0.2.8"), ("X-Real-IP", "10.9.0.3")];
    assert_eq!(rule(&from(&both)), None);
    // Neither: the TCP peer, 127.0.0.1, outside the office network.
    assert_eq!(rule(&from(&[])), None);
}

#[test]
fn a_missing_or_invalid_identity_is_401_naming_the_header() {
    let node = TestNode::start(&[]);
    // Headers sent, then the error code and the header it names.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 4] = [
        (&[], "missing_user_id", "X-User-ID"),
        (
            &[("X-User-ID", "a b")],
            "user_id_contains_space",
            "X-User-ID",
        ),
        (&[("X-User-ID", "")], "empty_user_id", "X-User-ID"),
        (
            &[("X-User-ID", "a"), ("X-Tenant-ID", "t t")],
            "invalid_field",
            "X-Tenant-ID",
        ),
    ];
    for (headers, code, field) in cases {
        let reply = ask(&node, "GET", "/v1/forward-auth", headers);
        assert_eq!(reply.status, 401, "{headers:?}: {reply:?}");
        assert_eq!(reply.json()["error"], code, "{reply:?}");
        assert_eq!(reply.json()["field"], field, "{reply:?}");
    }
    assert_eq!(
        ask(&node, "GET", "/v1/forward-auth", &[]).json()["detail"],
        "`X-User-ID`: the X-User-ID header is required"
    );
}

#[test]
fn malformed_forwarded_headers_are_400_naming_the_header() {
    let node = TestNode::start(&[]);
    for (header, value) in [
        ("X-Forwarded-Method", "GET/1"),
        ("X-Forwarded-Uri", "https://example.com/a"),
        ("X-Original-URI", "a/b"),
        ("X-Forwarded-Host", "a b"),
        ("X-Forwarded-For", "192.0.2.1, not-an-ip"),
        ("X-Real-IP", "192.0.2.300"),
    ] {
        let reply = ask(
            &node,
            "GET",
            "/v1/forward-auth",
            &[("X-User-ID", "alice"), (header, value)],
        );
        assert_eq!(reply.status, 400, "{header}: {reply:?}");
        assert_eq!(reply.json()["error"], "invalid_field");
        assert_eq!(reply.json()["field"], header, "{reply:?}");
    }
    // Nothing was counted for the refused requests.
    let ok = ask(&node, "GET", "/v1/forward-auth", &[("X-User-ID", "alice")]);
    assert_eq!(ok.header("X-RateLimit-Remaining"), "9");
}

#[test]
fn the_user_header_is_configurable() {
    let node = TestNode::start(&["--forward-auth-user-header", "X-Auth-Request-User"]);
    let old = ask(&node, "GET", "/v1/forward-auth", &[("X-User-ID", "alice")]);
    assert_eq!(old.status, 401, "{old:?}");
    assert_eq!(old.json()["field"], "x-auth-request-user");
    let new = [("X-Auth-Request-User", "alice")];
    assert_eq!(ask(&node, "GET", "/v1/forward-auth", &new).status, 200);
    let bad = [("X-Auth-Request-User", "al\tice")];
    let reply = ask(&node, "GET", "/v1/forward-auth", &bad);
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"], "user_id_control_character");
    // /protected still reads X-User-ID.
    assert_eq!(node.protected("alice").status, 200);
}

/// A proxy forwards the client's own `Authorization` to forward-auth, so
/// the decision token counts only in `X-Limiter-Token`, which the proxy
/// sets (replacing any the client sent).
#[test]
fn the_decision_token_counts_only_in_the_proxys_header() {
    const TOKEN: &str = "forward-auth-decision-token";
    let node = TestNode::start(&["--decision-token", TOKEN]);
    let bearer = format!("Bearer {TOKEN}");
    let refused = ask(
        &node,
        "GET",
        "/v1/forward-auth",
        &[("X-User-ID", "alice"), ("Authorization", &bearer)],
    );
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.json()["error"], "missing_decision_token");
    assert!(refused.json()["detail"]
        .as_str()
        .unwrap()
        .contains("Authorization is the client's"));
    // A client's own bearer token beside the proxy's header is the client's business.
    let allowed = ask(
        &node,
        "GET",
        "/v1/forward-auth",
        &[
            ("X-User-ID", "alice"),
            ("X-Limiter-Token", TOKEN),
            ("Authorization", "Bearer the-clients-own-jwt"),
        ],
    );
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(allowed.header("X-RateLimit-Remaining"), "9");
}

//! Black-box tests of one node's HTTP API: decisions, headers, bad input, routes, metrics.

use std::time::Duration;

use crate::helpers::{self, TestNode};

#[test]
fn allowed_then_limited_then_allowed_again_after_refill() {
    let node = TestNode::start(&["--capacity", "3", "--refill-per-sec", "1"]);
    for remaining in [2, 1, 0] {
        let reply = node.protected("alice");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            reply.json(),
            serde_json::json!({"allowed": true, "remaining": remaining})
        );
    }
    let limited = node.protected("alice");
    assert_eq!(limited.status, 429);
    assert_eq!(
        limited.json(),
        serde_json::json!({"error": "too_many_requests", "retry_after_ms": 1000})
    );
    // Other users are not affected.
    assert_eq!(node.protected("bob").status, 200);

    node.clock.advance(Duration::from_millis(999));
    assert_eq!(node.protected("alice").status, 429);
    node.clock.advance(Duration::from_millis(1));
    assert_eq!(node.protected("alice").status, 200);
    assert_eq!(node.protected("alice").status, 429);
}

#[test]
fn rate_limit_headers_on_200_and_429() {
    let node = TestNode::start(&["--capacity", "2", "--refill-per-sec", "0.5"]);
    let ok = node.protected("carol");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), "application/json");
    assert_eq!(ok.header("RateLimit-Policy"), "\"default\";q=2;w=4");
    assert_eq!(ok.header("RateLimit"), "\"default\";r=1;t=2");
    assert_eq!(ok.header("X-RateLimit-Limit"), "2");
    assert_eq!(ok.header("X-RateLimit-Remaining"), "1");
    assert_eq!(ok.header("X-RateLimit-Reset"), "2");
    assert!(!ok.headers.contains_key("retry-after"));

    node.protected("carol");
    node.clock.advance(Duration::from_millis(500));
    let limited = node.protected("carol");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("RateLimit-Policy"), "\"default\";q=2;w=4");
    assert_eq!(limited.header("RateLimit"), "\"default\";r=0;t=4");
    assert_eq!(limited.header("X-RateLimit-Limit"), "2");
    assert_eq!(limited.header("X-RateLimit-Remaining"), "0");
    assert_eq!(limited.header("X-RateLimit-Reset"), "4");
    // 1.5 s to the next token: rounded up to whole seconds.
    assert_eq!(limited.header("Retry-After"), "2");
    assert_eq!(limited.json()["retry_after_ms"], 1500);
}

#[test]
fn retry_after_is_at_least_one_second_and_never_early() {
    let node = TestNode::start(&["--capacity", "1", "--refill-per-sec", "1000"]);
    assert_eq!(node.protected("dave").status, 200);
    let limited = node.protected("dave");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("Retry-After"), "1");
    assert_eq!(limited.json()["retry_after_ms"], 1);

    let slow = TestNode::start(&["--capacity", "1", "--refill-per-sec", "1/3600"]);
    slow.protected("erin");
    slow.clock.advance(Duration::from_millis(1500));
    let limited = slow.protected("erin");
    assert_eq!(limited.header("Retry-After"), "3599");
    assert_eq!(limited.json()["retry_after_ms"], 3_598_500);
    assert_eq!(limited.header("RateLimit-Policy"), "\"default\";q=1;w=3600");
}

#[test]
fn each_kind_of_bad_user_id_gets_its_own_400_and_changes_nothing() {
    let node = TestNode::start(&["--capacity", "5"]);
    let long = format!(
        "POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: victim{}",
        "x".repeat(251)
    );
    let cases: [(&[u8], &str); 12] = [
        (b"POST /protected HTTP/1.1\r\nHost: x", "missing_user_id"),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID:",
            "empty_user_id",
        ),
        (long.as_bytes(), "user_id_too_long"),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: victim\xc3\xa9",
            "user_id_not_ascii",
        ),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: vic\ttim",
            "user_id_control_character",
        ),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: vic tim",
            "user_id_contains_space",
        ),
        // Bytes the HTTP parser itself refuses: the same JSON error.
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: vic\x7ftim",
            "user_id_control_character",
        ),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: vic\x01tim",
            "user_id_control_character",
        ),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: vic\x1btim",
            "user_id_control_character",
        ),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: vic\x00tim",
            "user_id_control_character",
        ),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: vic\rtim",
            "user_id_control_character",
        ),
        (
            b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: victim\r\nX-User-ID: other",
            "multiple_user_ids",
        ),
    ];
    for (head, code) in cases {
        let reply = node.raw(head);
        assert_eq!(reply.status, 400, "{code}: {reply:?}");
        assert_eq!(reply.header("content-type"), "application/json");
        let body = reply.json();
        assert_eq!(body["error"], code);
        assert_eq!(body["field"], "X-User-ID");
        assert!(
            body["detail"].as_str().unwrap().contains("X-User-ID"),
            "{body}"
        );
        assert!(!reply.headers.contains_key("ratelimit"));
        assert!(node.metric(&format!("limiter_bad_requests_total{{error=\"{code}\"}}")) >= 1.0);
    }
    // None of that consumed a token from anyone: the victim still has a full bucket.
    assert_eq!(node.protected("victim").json()["remaining"], 4);
}

#[test]
fn a_256_byte_id_of_every_visible_character_is_accepted() {
    let node = TestNode::start(&[]);
    let visible: String = (0x21u8..=0x7e).map(char::from).cycle().take(256).collect();
    assert_eq!(node.protected(&visible).status, 200);
}

#[test]
fn wrong_methods_and_unknown_routes_get_json_errors() {
    let node = TestNode::start(&[]);
    for method in ["GET", "PUT", "DELETE"] {
        let reply = node.request(method, "/protected");
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("Allow"), "POST");
        assert_eq!(reply.json()["error"], "method_not_allowed");
    }
    let reply = node.request("POST", "/healthz");
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("Allow"), "GET");
    let reply = node.get("/nope");
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"], "not_found");
}

#[test]
fn health_readiness_and_metrics() {
    let node = TestNode::start(&["--capacity", "1"]);
    assert_eq!(node.get("/healthz").json()["status"], "ok");
    assert_eq!(node.get("/readyz").json()["status"], "ready");

    let allowed = r#"limiter_decisions_total{rule="default",outcome="allowed"}"#;
    let limited = r#"limiter_decisions_total{rule="default",outcome="limited"}"#;
    let (allowed_before, limited_before) = (node.metric(allowed), node.metric(limited));
    node.protected("frank");
    node.protected("frank");
    node.protected("grace");
    let metrics = node.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").starts_with("text/plain"));
    assert_eq!(
        helpers::metric(&metrics.body, allowed) - allowed_before,
        2.0
    );
    assert_eq!(
        helpers::metric(&metrics.body, limited) - limited_before,
        1.0
    );
    for name in [
        "# TYPE limiter_decision_duration_seconds histogram",
        "# TYPE limiter_buckets gauge",
        "# TYPE limiter_evictions_total counter",
        "# TYPE http_requests_total counter",
        "# TYPE http_request_duration_seconds histogram",
        r#"http_requests_total{route="/protected",status="429"}"#,
        "limiter_max_keys 1000000",
    ] {
        assert!(
            metrics.body.contains(name),
            "{name} missing from\n{}",
            metrics.body
        );
    }
    assert!(node.metric("limiter_buckets") >= 2.0);
}

#[test]
fn full_buckets_are_swept_from_memory() {
    let node = TestNode::start(&["--capacity", "2", "--refill-per-sec", "1"]);
    node.protected("henry");
    assert!(node.metric("limiter_buckets") >= 1.0);
    // Once refilled, the bucket carries no information; the periodic sweep drops it.
    node.clock.advance(Duration::from_secs(1));
    helpers::eventually(Duration::from_secs(5), "an idle bucket evicted", || {
        node.metric(r#"limiter_evictions_total{reason="idle"}"#) >= 1.0
    });
    assert_eq!(node.protected("henry").json()["remaining"], 1);
}

/// The finding of issue 23: at the `--max-keys` cap, a flood of new IDs that
/// each drain their bucket leaves a half-spent legitimate user the fullest
/// bucket, so they are evicted under pressure; coming back, they must not
/// find a fresh bucket. No time passes, so the limit is the capacity: 10.
#[test]
fn a_user_evicted_under_a_flood_of_draining_ids_gets_no_more_than_the_limit() {
    let node = TestNode::start(&[
        "--capacity",
        "10",
        "--refill-per-sec",
        "1/60",
        "--max-keys",
        "8",
    ]);
    let admitted = |user: &str, tries: usize| {
        (0..tries)
            .filter(|_| node.protected(user).status == 200)
            .count()
    };
    let mut alice = admitted("alice", 5);
    for flood in 0..32 {
        assert_eq!(admitted(&format!("flood-{flood}"), 10), 10);
    }
    assert!(node.metric(r#"limiter_evictions_total{reason="pressure"}"#) >= 24.0);
    alice += admitted("alice", 20);
    assert_eq!(
        alice, 10,
        "alice got {alice} requests through a limit of 10"
    );
}

#[test]
fn admin_limited_lists_the_most_refused_keys_first() {
    const TOKEN: &str = "limited-test-admin-token";
    let dir = helpers::temp_dir("limited");
    let node = TestNode::start(&[
        "--capacity",
        "1",
        "--refill-per-sec",
        "0.001",
        "--admin-token",
        TOKEN,
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(node.protected("alice").status, 200);
    for _ in 0..30 {
        assert_eq!(node.protected("alice").status, 429);
    }
    for i in 0..100 {
        let user = format!("user-{:08x}", (i as u32).wrapping_mul(2_654_435_761));
        assert_eq!(node.protected(&user).status, 200);
        assert_eq!(node.protected(&user).status, 429);
    }
    // Allowed only: never listed.
    assert_eq!(node.protected("bob").status, 200);

    let reply = node.send("GET", "/v1/admin/limited", Some(TOKEN), None);
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = reply.json();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 64, "at most the summary's capacity");
    assert_eq!(keys[0]["key"], "alice");
    assert_eq!(keys[0]["rule"], "default");
    assert_eq!(keys[0]["refusals"], 30);
    assert_eq!(keys[0]["last_refused_unix_ms"], 1_700_000_000_000u64);
    assert!(keys.iter().all(|k| k["key"] != "bob"));
    assert_eq!(body["window"]["half_life_secs"], 60);

    let top = node.send("GET", "/v1/admin/limited?limit=2", Some(TOKEN), None);
    assert_eq!(top.json()["keys"].as_array().unwrap().len(), 2);
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=65", "limit"),
        ("?top=3", "top"),
    ] {
        let bad = node.send(
            "GET",
            &format!("/v1/admin/limited{query}"),
            Some(TOKEN),
            None,
        );
        assert_eq!(bad.status, 400, "{query}");
        assert_eq!(bad.json()["field"], field, "{query}");
    }
    assert_eq!(
        node.send("GET", "/v1/admin/limited", None, None).status,
        401
    );
    let wrong = node.send(
        "GET",
        "/v1/admin/limited",
        Some("not-the-token-at-all"),
        None,
    );
    assert_eq!(wrong.status, 401);
    // Two half-lives later, alice's count is a quarter; the one-offs are gone.
    node.clock.advance(Duration::from_secs(120));
    let later = node
        .send("GET", "/v1/admin/limited", Some(TOKEN), None)
        .json();
    assert_eq!(later["keys"][0]["refusals"], 7);
    assert_eq!(later["keys"].as_array().unwrap().len(), 1);
}

#[test]
fn with_a_decision_token_the_decision_apis_answer_only_its_holders() {
    const TOKEN: &str = "decision-test-token-0123";
    let node = TestNode::start(&["--decision-token", TOKEN]);
    let head = |extra: &str| {
        format!("POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: alice{extra}").into_bytes()
    };
    let missing = node.raw(&head(""));
    assert_eq!(missing.status, 401, "{missing:?}");
    assert_eq!(missing.json()["error"], "missing_decision_token");
    assert_eq!(missing.json()["field"], "X-Limiter-Token");
    let wrong = node.raw(&head("\r\nX-Limiter-Token: not-the-token-at-all"));
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.json()["error"], "bad_decision_token");
    // The header a proxy adds, or a bearer token in any case of its scheme.
    for carrier in [
        "X-Limiter-Token: ",
        "Authorization: bearer ",
        "Authorization: BEARER ",
    ] {
        let reply = node.raw(&head(&format!("\r\n{carrier}{TOKEN}")));
        assert_eq!(reply.status, 200, "{carrier}: {reply:?}");
    }
    // /v1/check and /v1/checks too, refused before their body is read.
    let body = r#"{"user":"alice"}"#;
    assert_eq!(node.check(body).status, 401);
    let batch = r#"{"checks":[{"user":"alice"}]}"#;
    assert_eq!(
        node.send("POST", "/v1/checks", None, Some(batch)).status,
        401
    );
    let checked = node.send("POST", "/v1/check", Some(TOKEN), Some(body));
    assert_eq!(checked.status, 200, "{checked:?}");
    // Three /protected and this check took four; the refusals took nothing.
    assert_eq!(checked.json()["remaining"], 6);
    let batched = node.send("POST", "/v1/checks", Some(TOKEN), Some(batch));
    assert_eq!(batched.json()["results"][0]["remaining"], 5);
    let refusals = r#"limiter_http_refusals_total{reason="decision_token"}"#;
    assert_eq!(node.metric(refusals), 4.0);
    // Operations need no decision token.
    assert_eq!(node.get("/healthz").status, 200);
    assert_eq!(node.get("/metrics").status, 200);
}

#[test]
fn the_admin_token_scheme_is_read_in_any_case() {
    const TOKEN: &str = "scheme-test-admin-token";
    let dir = helpers::temp_dir("scheme");
    let node = TestNode::start(&["--admin-token", TOKEN, "--data-dir", dir.to_str().unwrap()]);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let head =
            format!("GET /v1/admin/rules HTTP/1.1\r\nHost: x\r\nAuthorization: {scheme} {TOKEN}");
        let reply = node.raw(head.as_bytes());
        assert_eq!(reply.status, 200, "{scheme}: {reply:?}");
    }
}

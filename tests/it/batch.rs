//! `POST /v1/checks` on a real server (port 0, hand-moved clock): results in
//! order, each item seeing what the ones before it took, the same bytes as
//! `/v1/check`, the bound, and bad input that changes nothing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{Reply, TestNode};

fn checks(node: &TestNode, body: &str) -> Reply {
    node.send("POST", "/v1/checks", None, Some(body))
}

/// The results of a batch that must be accepted.
fn results(node: &TestNode, body: &str) -> Vec<Value> {
    let reply = checks(node, body);
    assert_eq!(reply.status, 200, "{reply:?}");
    match reply.json() {
        Value::Object(mut map) if map.len() == 1 => match map.remove("results") {
            Some(Value::Array(results)) => results,
            other => panic!("no results list: {other:?}"),
        },
        other => panic!("not {{\"results\": [...]}}: {other:?}"),
    }
}

/// `(allowed, remaining)` of a result.
fn outcome(result: &Value) -> (bool, u64) {
    (
        result["allowed"].as_bool().unwrap(),
        result["remaining"].as_u64().unwrap(),
    )
}

/// A batch of these items.
fn batch(items: &[Value]) -> String {
    json!({ "checks": items }).to_string()
}

/// What a single `/v1/check` of `user` (cost 1) says now: (allowed, remaining).
fn single(node: &TestNode, user: &str) -> (bool, u64) {
    let reply = node.check(&json!({ "user": user }).to_string());
    assert_eq!(reply.status, 200, "{reply:?}");
    outcome(&reply.json())
}

#[test]
fn results_come_in_order_and_each_item_sees_what_the_ones_before_took() {
    let node = TestNode::start(&["--capacity", "3", "--refill-per-sec", "1/3600"]);
    let reply = checks(
        &node,
        &batch(&[
            json!({"user": "alice"}),
            json!({"user": "bob", "cost": 2}),
            json!({"user": "alice", "cost": 2}),
            json!({"user": "alice"}),
            json!({"user": "bob"}),
        ]),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), "application/json");
    // Each result carries its numbers; the batch has no rate-limit headers.
    for name in [
        "ratelimit",
        "ratelimit-policy",
        "x-ratelimit-remaining",
        "retry-after",
    ] {
        assert!(!reply.headers.contains_key(name), "{name} in {reply:?}");
    }
    let results = results(&node, &batch(&[json!({"user": "carol"})]));
    assert_eq!(results.len(), 1);
    let body = reply.json();
    let got: Vec<_> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(outcome)
        .collect();
    assert_eq!(
        got,
        [(true, 2), (true, 1), (true, 0), (false, 0), (true, 0)]
    );
    assert_eq!(body["results"][3]["retry_after_ms"], 3_600_000);
    // What the batch took stays taken.
    assert_eq!(single(&node, "alice"), (false, 0));
    assert_eq!(single(&node, "bob"), (false, 0));
    // Every item counts as one decision.
    assert_eq!(
        node.metric(r#"limiter_decisions_total{rule="default",outcome="allowed"}"#),
        5.0
    );
    assert_eq!(
        node.metric(r#"limiter_decisions_total{rule="default",outcome="limited"}"#),
        3.0
    );
    assert_eq!(
        node.metric(r#"http_requests_total{route="/v1/checks",status="200"}"#),
        2.0
    );
}

#[test]
fn a_batch_of_one_answers_the_bytes_of_the_single_check() {
    let node = TestNode::start(&["--capacity", "2", "--refill-per-sec", "0.5"]);
    for _ in 0..3 {
        // Two users in the same state: allowed, allowed, then limited.
        let single = node.check(r#"{"user":"one","route":"/a","method":"GET","cost":1}"#);
        let batch = checks(
            &node,
            r#"{"checks":[{"user":"two","route":"/a","method":"GET","cost":1}]}"#,
        );
        assert_eq!(batch.body, format!(r#"{{"results":[{}]}}"#, single.body));
    }
}

#[test]
fn a_cost_no_rule_can_hold_answers_the_single_checks_error_for_that_item_only() {
    let node = TestNode::start(&["--capacity", "3", "--refill-per-sec", "1/3600"]);
    let too_much = r#"{"user":"alice","cost":4}"#;
    let single = node.check(too_much);
    assert_eq!(single.status, 400, "{single:?}");
    let reply = checks(
        &node,
        &format!(r#"{{"checks":[{{"user":"alice"}},{too_much},{{"user":"alice"}}]}}"#),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let results = reply.json()["results"].as_array().unwrap().clone();
    assert_eq!(
        results[1],
        serde_json::from_str::<Value>(&single.body).unwrap()
    );
    // It took nothing: the items around it took one token each.
    assert_eq!(outcome(&results[0]), (true, 2));
    assert_eq!(outcome(&results[2]), (true, 1));
    assert_eq!(single_remaining(&node, "alice"), 0);
}

fn single_remaining(node: &TestNode, user: &str) -> u64 {
    single(node, user).1
}

#[test]
fn a_thousand_checks_pass_and_one_more_is_refused_taking_nothing() {
    let node = TestNode::start(&["--capacity", "5", "--refill-per-sec", "1/3600"]);
    let items: Vec<Value> = (0..1001)
        .map(|i| json!({"user": format!("u{i}")}))
        .collect();
    let reply = checks(&node, &batch(&items));
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json()["field"], "checks");
    assert_eq!(
        reply.json()["detail"],
        "`checks`: 1001 checks; at most 1000 in one call"
    );
    assert_eq!(single(&node, "u0"), (true, 4));
    let results = results(&node, &batch(&items[..1000]));
    assert_eq!(results.len(), 1000);
    assert!(results.iter().skip(1).all(|r| outcome(r) == (true, 4)));
    assert_eq!(outcome(&results[0]), (true, 3));
    assert_eq!(
        node.metric(r#"limiter_bad_requests_total{error="invalid_field"}"#),
        1.0
    );
}

#[test]
fn an_invalid_item_is_named_with_its_index_and_nothing_is_decided() {
    let node = TestNode::start(&["--capacity", "3", "--refill-per-sec", "1/3600"]);
    let cases = [
        (json!({"user": ""}), "checks[3].user"),
        (json!({"user": 7}), "checks[3].user"),
        (json!({"user": "a", "cost": 0}), "checks[3].cost"),
        (json!({"user": "a", "cost": "1"}), "checks[3].cost"),
        (json!({"user": "a", "route": "x"}), "checks[3].route"),
        (json!({"user": "a", "nmae": 1}), "checks[3].nmae"),
        (json!(["user", "a"]), "checks[3]"),
    ];
    for (bad, field) in cases {
        let mut items = vec![json!({"user": "alice", "cost": 3}); 3];
        items.push(bad);
        items.push(json!({"user": "bob"}));
        let reply = checks(&node, &batch(&items));
        assert_eq!(reply.status, 400, "{reply:?}");
        assert_eq!(reply.json()["error"], "invalid_field", "{reply:?}");
        assert_eq!(reply.json()["field"], field, "{reply:?}");
    }
    // Nothing was taken: both buckets are still full.
    assert_eq!(single(&node, "alice"), (true, 2));
    assert_eq!(single(&node, "bob"), (true, 2));
    assert_eq!(
        node.metric(r#"limiter_decisions_total{rule="default",outcome="allowed"}"#),
        2.0
    );
}

#[test]
fn a_malformed_batch_is_refused_naming_what_is_wrong() {
    let node = TestNode::start(&[]);
    let field = |body: &str| {
        let reply = checks(&node, body);
        assert_eq!(reply.status, 400, "{reply:?}");
        reply.json()["field"].as_str().map(str::to_string)
    };
    assert_eq!(field(r#"{"checks":[]}"#).as_deref(), Some("checks"));
    assert_eq!(field("{}").as_deref(), Some("checks"));
    assert_eq!(
        field(r#"{"checks":{"user":"a"}}"#).as_deref(),
        Some("checks")
    );
    assert_eq!(field(r#"{"checks":"a"}"#).as_deref(), Some("checks"));
    assert_eq!(
        field(r#"{"checks":[{"user":"a"}],"check":1}"#).as_deref(),
        Some("check")
    );
    assert_eq!(field(r#"[{"user":"a"}]"#), None);
    assert_eq!(field(r#"{"checks":[{"user":"a"}"#), None);
    assert_eq!(node.send("GET", "/v1/checks", None, None).status, 405);
}

#[test]
fn a_body_past_the_size_bound_is_refused_unread() {
    let node = TestNode::start(&[]);
    // Said by its length alone: the node answers before any byte of it.
    let mut stream = TcpStream::connect(node.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = "POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 2048001\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // The JSON error every refusal is, naming the bound.
    assert!(
        answer.contains("content-type: application/json"),
        "{answer}"
    );
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    let error: Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["error"], "payload_too_large");
    assert!(
        error["detail"].as_str().unwrap().contains("2048000"),
        "{error}"
    );
    // 1,000 users of 256 bytes, each item padded to 2 KiB: the bound fits them.
    let item = format!(
        r#"{{"user":"{}"}}{}"#,
        "u".repeat(256),
        " ".repeat(2047 - 267)
    );
    let body = format!(r#"{{"checks":[{}]}}"#, vec![item.as_str(); 1000].join(","));
    assert_eq!(body.len(), 2_048_000 - 1 + 13);
    let fits = body.replacen(' ', "", 13);
    assert_eq!(results(&node, &fits).len(), 1000);
}

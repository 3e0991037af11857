//! Gateway mode on a real node in front of a real upstream (an HTTP server on
//! port 0 that echoes what reached it): allowed requests arrive with their
//! body and the right headers, refused and unidentified ones never arrive,
//! bodies stream both ways, and a refused connection, a slow upstream and a
//! body too large are a 502, 504 and 413 naming the route.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use common::echo::{Echo, BIG};
use common::{temp_dir, TestNode};
use serde_json::{json, Value};

fn gateway_node(echo: &Echo, extra: &str) -> TestNode {
    let dir = temp_dir("gateway");
    let file = dir.join("gateway.toml");
    let text = format!(
        r#"
upstream_cool_down_ms = 60000

[[routes]]
name = "api"
prefix = "/api"
upstreams = ["http://{echo}"]
max_body_bytes = 1048576

[[routes]]
name = "uploads"
prefix = "/uploads"
upstreams = ["http://{echo}"]
max_body_bytes = 1073741824
strip_prefix = true

[[routes]]
name = "slow"
prefix = "/slow"
upstreams = ["http://{echo}"]
timeout_ms = 300
{extra}"#,
        echo = echo.addr
    );
    std::fs::write(&file, text).unwrap();
    TestNode::start(&[
        "--capacity",
        "3",
        "--refill-per-sec",
        "0.001",
        "--gateway",
        file.to_str().unwrap(),
    ])
}

fn json_of(response: ureq::Response) -> Value {
    serde_json::from_str(&response.into_string().unwrap()).unwrap()
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// `method url` with `headers`; 4xx/5xx as values.
fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> ureq::Response {
    let mut request = agent().request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let sent = match body {
        Some(body) => request.send_bytes(body),
        None => request.call(),
    };
    match sent {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("{method} {url}: {error}"),
    }
}

#[test]
fn allowed_requests_arrive_with_their_body_and_headers_and_refused_ones_never() {
    let echo = Echo::start();
    let node = gateway_node(&echo, "");
    let url = node.url("/api/orders/7?expand=items");
    let headers = [
        ("X-User-ID", "alice"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "connection-only"),
        ("X-Forwarded-For", "198.51.100.9"),
        ("Host", "shop.example"),
    ];
    let answer = call("POST", &url, &headers, Some(b"{\"qty\":2}"));
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.header("x-upstream"), Some("echo"));
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("2"));
    assert_eq!(answer.header("x-ratelimit-limit"), Some("3"));
    let seen: Value = json_of(answer);
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/api/orders/7");
    assert_eq!(seen["query"], "expand=items");
    assert_eq!(seen["body_bytes"], 9);
    let h = &seen["headers"];
    assert_eq!(h["x-user-id"], "alice");
    assert_eq!(h["x-forwarded-for"], "198.51.100.9, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "shop.example");
    assert_eq!(h["x-hop"], Value::Null, "named by Connection: hop-by-hop");
    assert_eq!(h["host"], json!(echo.addr.to_string()));

    for _ in 0..2 {
        assert_eq!(call("GET", &url, &headers[..1], None).status(), 200);
    }
    let hits = echo.hits();
    let refused = call("GET", &url, &headers[..1], None);
    assert_eq!(refused.status(), 429);
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        echo.hits(),
        hits,
        "a refused request never reaches the upstream"
    );
    // The API keeps working beside the gateway, on the same buckets.
    assert_eq!(node.protected("alice").status, 429);
    assert_eq!(node.get("/healthz").status, 200);
    assert_eq!(
        call("GET", &node.url("/nowhere"), &headers[..1], None).status(),
        404
    );
}

#[test]
fn an_unidentified_caller_is_refused_and_consumes_nothing() {
    let echo = Echo::start();
    let node = gateway_node(&echo, "");
    let answer = call("GET", &node.url("/api/x"), &[], None);
    assert_eq!(answer.status(), 401);
    let body: Value = json_of(answer);
    assert_eq!(body["error"], "missing_credential");
    assert_eq!(body["route"], "api");
    assert_eq!(echo.hits(), 0);
}

#[test]
fn bodies_stream_both_ways_and_the_prefix_can_be_stripped() {
    let echo = Echo::start();
    let node = gateway_node(&echo, "");
    // A body of unknown length, read from a reader as it is sent.
    let upload = agent()
        .post(&node.url("/uploads/file"))
        .set("X-User-ID", "bob")
        .send(std::io::repeat(b'y').take(BIG as u64))
        .unwrap();
    let seen: Value = json_of(upload);
    assert_eq!(seen["path"], "/file");
    assert_eq!(seen["body_bytes"], BIG);
    let download = call(
        "GET",
        &node.url("/uploads/big"),
        &[("X-User-ID", "bob")],
        None,
    );
    assert_eq!(download.status(), 200);
    let mut bytes = 0;
    let mut reader = download.into_reader();
    let mut buf = vec![0; 1 << 16];
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        bytes += n;
    }
    assert_eq!(bytes, BIG);
}

#[test]
fn unreachable_slow_and_too_large_are_502_504_and_413_naming_the_route() {
    let echo = Echo::start();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let extra = format!(
        "[[routes]]\nname = \"gone\"\nprefix = \"/gone\"\nupstreams = [\"http://{closed}\"]\n\
         [[routes]]\nname = \"half\"\nprefix = \"/half\"\nupstreams = [\"http://{closed}\", \"http://{}\"]\n",
        echo.addr
    );
    let node = gateway_node(&echo, &extra);
    let user = [("X-User-ID", "carol")];
    let check = |answer: ureq::Response, status: u16, error: &str, route: &str| {
        assert_eq!(answer.status(), status);
        let body: Value = json_of(answer);
        assert_eq!(
            (body["error"].as_str(), body["route"].as_str()),
            (Some(error), Some(route))
        );
    };
    check(
        call("GET", &node.url("/gone/x"), &user, None),
        502,
        "bad_gateway",
        "gone",
    );
    check(
        call("GET", &node.url("/slow"), &user, None),
        504,
        "upstream_timeout",
        "slow",
    );
    let big = vec![b'z'; 2 << 20];
    check(
        call("POST", &node.url("/api/x"), &user, Some(&big)),
        413,
        "payload_too_large",
        "api",
    );
    // Without a declared length the body is counted as it streams.
    let chunked = agent()
        .post(&node.url("/api/x"))
        .set("X-User-ID", "dave")
        .send(std::io::repeat(b'z').take(2 << 20));
    let answer = match chunked {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    check(answer, 413, "payload_too_large", "api");
    // A refused connection is skipped: the other upstream answers, every time.
    for _ in 0..2 {
        assert_eq!(
            call("GET", &node.url("/half/y"), &[("X-User-ID", "erin")], None).status(),
            200
        );
    }
}

//! Gateway mode on a real node in front of a real upstream (an HTTP server on
//! port 0 that echoes what reached it): allowed requests arrive with their
//! body and the right headers, refused and unidentified ones never arrive,
//! bodies stream both ways, and a refused connection, a slow upstream and a
//! body too large are a 502, 504 and 413 naming the route.

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::echo::{Echo, BIG};
use crate::helpers::{self, temp_dir, TestNode};

fn gateway_node(echo: &Echo, extra: &str) -> TestNode {
    gateway_node_with(echo, extra, &[])
}

/// [`gateway_node`] with more flags.
fn gateway_node_with(echo: &Echo, extra: &str, flags: &[&str]) -> TestNode {
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
    let mut all = vec![
        "--capacity",
        "3",
        "--refill-per-sec",
        "0.001",
        "--gateway",
        file.to_str().unwrap(),
        // The test client stands for a trusted front that sets X-User-ID.
        "--trusted-proxies",
        "127.0.0.1/32",
    ];
    all.extend_from_slice(flags);
    TestNode::start(&all)
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
    assert_eq!(node.get("/healthz").status, 200);
    assert_eq!(
        call("GET", &node.url("/nowhere"), &headers[..1], None).status(),
        404
    );
}

/// The decision APIs trust their caller to name the user: on a gateway's
/// listener, without a decision token, they would let any client spend
/// any user's tokens (one `/v1/checks` call, a thousand users' buckets).
#[test]
fn the_decision_apis_are_closed_to_a_gateways_clients() {
    let echo = Echo::start();
    let node = gateway_node(&echo, "");
    let spend = r#"{"user":"victim","route":"/api/x","cost":3}"#;
    let batch = format!(r#"{{"checks":[{spend}]}}"#);
    let attempts = [
        node.check(spend),
        node.send("POST", "/v1/checks", None, Some(&batch)),
        node.protected("victim"),
        node.raw(b"GET /v1/forward-auth HTTP/1.1\r\nHost: x\r\nX-User-ID: victim"),
    ];
    for reply in attempts {
        assert_eq!(reply.status, 403, "{reply:?}");
        assert_eq!(reply.json()["error"], "decision_api_closed");
        assert!(reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("--decision-token"));
    }
    // The victim's bucket is whole: 3 requests pass, the 4th is refused.
    let user = [("X-User-ID", "victim")];
    for _ in 0..3 {
        assert_eq!(call("GET", &node.url("/api/x"), &user, None).status(), 200);
    }
    assert_eq!(call("GET", &node.url("/api/x"), &user, None).status(), 429);
    let closed = r#"limiter_http_refusals_total{reason="decision_closed"}"#;
    assert_eq!(node.metric(closed), 4.0);
}

/// With a decision token the services that hold it ask beside the gateway,
/// on the same buckets; its clients still need none for the routes.
#[test]
fn with_a_decision_token_its_holders_ask_beside_the_gateway() {
    const TOKEN: &str = "gateway-decision-token-01";
    let echo = Echo::start();
    let node = gateway_node_with(&echo, "", &["--decision-token", TOKEN]);
    let user = [("X-User-ID", "alice")];
    assert_eq!(call("GET", &node.url("/api/x"), &user, None).status(), 200);
    assert_eq!(
        node.check(r#"{"user":"alice","route":"/api/x"}"#).status,
        401
    );
    let checked = node.send(
        "POST",
        "/v1/check",
        Some(TOKEN),
        Some(r#"{"user":"alice","route":"/api/x"}"#),
    );
    assert_eq!(checked.json()["remaining"], 1, "{checked:?}");
    let head = format!(
        "POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: alice\r\nX-Limiter-Token: {TOKEN}"
    );
    assert_eq!(node.raw(head.as_bytes()).status, 200);
    assert_eq!(call("GET", &node.url("/api/x"), &user, None).status(), 429);
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

#[test]
fn paths_are_matched_and_forwarded_in_one_canonical_form() {
    let echo = Echo::start();
    let node = gateway_node(&echo, "");
    let user = [("X-User-ID", "frank")];
    let seen = json_of(call("GET", &node.url("/api/%65xpensive"), &user, None));
    assert_eq!(seen["path"], "/api/expensive");
    // Sent as they are (a client library would resolve some of them first).
    for sneaky in [
        "/api/../uploads/x",
        "/api/%2e%2e/uploads",
        "/api//x",
        "/api/a%2fb",
        // Resolved by Tomcat and Jetty, by an upstream that decodes twice,
        // and by a lenient UTF-8 decoder: each is `/uploads/x` to some.
        "/api/..;/uploads/x",
        "/api/%252e%252e/uploads/x",
        "/api/%c0%ae%c0%ae/uploads/x",
    ] {
        let head = format!("GET {sneaky} HTTP/1.1\r\nHost: x\r\nX-User-ID: frank");
        let answer = node.raw(head.as_bytes());
        assert_eq!(answer.status, 400, "{sneaky}");
        assert_eq!(answer.json()["field"], "path");
    }
    assert_eq!(echo.hits(), 1);
}

#[test]
fn answers_without_a_body_and_expect_pass_through_cleanly() {
    let echo = Echo::start();
    let node = gateway_node(&echo, "");
    // One agent: a broken answer would spoil the kept-alive connection for the next.
    let shared = agent();
    for (i, (method, path, status)) in [
        ("GET", "/uploads/status/204", 204),
        ("GET", "/uploads/status/304", 304),
        ("HEAD", "/api/x", 200),
        ("GET", "/api/x", 200),
    ]
    .into_iter()
    .enumerate()
    {
        let user = format!("grace-{i}");
        let sent = shared
            .request(method, &node.url(path))
            .set("X-User-ID", &user)
            .call();
        let answer = match sent {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: {e}"),
        };
        assert_eq!(answer.status(), status, "{method} {path}");
        answer.into_string().unwrap();
    }
    // `Expect` is the node's to answer, not the upstream's.
    let mut stream = std::net::TcpStream::connect(node.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::io::Write::write_all(
        &mut stream,
        b"GET /api/x HTTP/1.1\r\nHost: x\r\nX-User-ID: grace\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.contains("HTTP/1.1 200 OK"), "{text}");
}

#[test]
fn a_clients_own_forwarding_headers_are_not_believed() {
    let echo = Echo::start();
    let dir = temp_dir("gateway-untrusted");
    let file = dir.join("gateway.toml");
    let text = format!(
        "[[routes]]\nname = \"api\"\nprefix = \"/api\"\nupstreams = [\"http://{}\"]\nidentity = [\"header\", \"ip\"]\n",
        echo.addr
    );
    std::fs::write(&file, text).unwrap();
    let node = TestNode::start(&["--gateway", file.to_str().unwrap()]);
    let spoof = [
        ("X-User-ID", "admin"),
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Real-IP", "6.6.6.6"),
        ("Forwarded", "for=6.6.6.6"),
        ("X-Forwarded-Proto", "https"),
    ];
    let seen = json_of(call("GET", &node.url("/api/x"), &spoof, None));
    let h = &seen["headers"];
    // Not from a trusted proxy: the header names nobody, the IP does.
    assert_eq!(h["x-user-id"], "127.0.0.1");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-real-ip"], Value::Null);
    assert_eq!(h["forwarded"], Value::Null);
}

/// A route with a 300 ms timeout and, unless the extra text says otherwise,
/// the same idle timeout.
fn timed_node(echo: &Echo, idle: &str) -> TestNode {
    let extra = format!(
        "[[routes]]\nname = \"timed\"\nprefix = \"/timed\"\nupstreams = [\"http://{}\"]\n\
         strip_prefix = true\ntimeout_ms = 300\n{idle}",
        echo.addr
    );
    gateway_node(echo, &extra)
}

/// A raw request to `node`; what came back and whether the node closed
/// the connection within 10 s.
fn raw_exchange(node: &TestNode, head: &str, body: &[u8], trickle: bool) -> (String, bool) {
    let mut stream = std::net::TcpStream::connect(node.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    std::io::Write::write_all(&mut stream, head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let body = body.to_vec();
    let sender = std::thread::spawn(move || {
        for byte in body.chunks(1) {
            if std::io::Write::write_all(&mut writer, byte).is_err() {
                return;
            }
            if trickle {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    let mut bytes = Vec::new();
    let closed = match stream.read_to_end(&mut bytes) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    let _ = stream.shutdown(std::net::Shutdown::Both);
    sender.join().unwrap();
    (String::from_utf8_lossy(&bytes).into_owned(), closed)
}

/// An upstream that stops in the middle of its answer holds the client no
/// longer than the route's idle timeout: the client's connection is cut.
#[test]
fn an_answer_that_stalls_is_cut_after_the_routes_idle_timeout() {
    let echo = Echo::start();
    let node = timed_node(&echo, "");
    let head = "GET /timed/stall HTTP/1.1\r\nHost: x\r\nX-User-ID: quinn\r\n\r\n";
    let (text, closed) = raw_exchange(&node, head, b"", false);
    assert!(closed, "still open after 10 s: {text:?}");
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(text.contains("first piece"), "{text:?}");
    assert!(!text.ends_with("0\r\n\r\n"), "cut, not ended: {text:?}");
    let idle = r#"limiter_http_refusals_total{reason="upstream_idle"}"#;
    assert_eq!(node.metric(idle), 1.0);
}

/// A client slow to read an answer is not the upstream pausing: the idle
/// timeout counts only while the node waits for the upstream.
#[test]
fn a_client_slow_to_read_is_not_cut_for_the_upstreams_idleness() {
    let echo = Echo::start();
    let node = timed_node(&echo, "");
    let answer = call(
        "GET",
        &node.url("/timed/big"),
        &[("X-User-ID", "uma")],
        None,
    );
    assert_eq!(answer.status(), 200);
    let mut reader = answer.into_reader();
    let mut buf = vec![0; 1 << 16];
    let mut bytes = reader.read(&mut buf).unwrap();
    // Three times the route's idle timeout without reading.
    std::thread::sleep(Duration::from_millis(900));
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        bytes += n;
    }
    assert_eq!(bytes, BIG);
    let idle = r#"limiter_http_refusals_total{reason="upstream_idle"}"#;
    assert_eq!(node.metric(idle), 0.0);
}

/// A client that stops sending its body is answered 408 after the route's
/// idle timeout, and its connection closed; one that keeps sending is never
/// cut by the route's timeout, which counts from the last byte sent.
#[test]
fn an_upload_is_bounded_by_its_pauses_not_its_length() {
    let echo = Echo::start();
    let node = timed_node(&echo, "idle_timeout_ms = 500\n");
    let head =
        "POST /timed/x HTTP/1.1\r\nHost: x\r\nX-User-ID: rita\r\nContent-Length: 1000\r\n\r\n";
    let (text, closed) = raw_exchange(&node, head, b"0123456789", false);
    assert!(closed, "still open after 10 s: {text:?}");
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(
        text.contains(r#""error":"body_timeout","route":"timed""#),
        "{text:?}"
    );
    let refused = r#"limiter_http_refusals_total{reason="body_timeout"}"#;
    assert_eq!(node.metric(refused), 1.0);
    // 20 bytes over a second, three times the route's timeout: it moves, so it passes.
    let body = [b'm'; 20];
    let head = "POST /timed/x HTTP/1.1\r\nHost: x\r\nX-User-ID: sam\r\nContent-Length: 20\r\nConnection: close\r\n\r\n";
    let (text, _) = raw_exchange(&node, head, &body, true);
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(text.contains(r#""body_bytes":20"#), "{text:?}");
}

/// A body sent after `100 Continue` is a body, not the next request's head:
/// it streams for longer than the head timeout without being cut.
#[test]
fn a_body_after_100_continue_is_not_timed_as_a_head() {
    let echo = Echo::start();
    let node = gateway_node_with(&echo, "", &["--head-timeout-ms", "500"]);
    let mut stream = std::net::TcpStream::connect(node.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = "POST /api/x HTTP/1.1\r\nHost: x\r\nX-User-ID: tess\r\n\
                Expect: 100-continue\r\nContent-Length: 20\r\nConnection: close\r\n\r\n";
    std::io::Write::write_all(&mut stream, head.as_bytes()).unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    // 20 bytes over a second, twice the head timeout.
    for _ in 0..20 {
        std::io::Write::write_all(&mut stream, b"e").unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(text.contains(r#""body_bytes":20"#), "{text:?}");
}

/// Peak resident memory of process `pid`, in bytes (Linux).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Bodies far larger than what the node may hold pass through it both ways
/// while its peak memory stays a fraction of one: nothing is buffered whole.
#[test]
fn bodies_larger_than_the_nodes_memory_bound_stream_through() {
    const HUGE: u64 = 512 << 20;
    let echo = Echo::start();
    let dir = temp_dir("gateway-huge");
    let file = dir.join("gateway.toml");
    let text = format!(
        "[[routes]]\nname = \"up\"\nprefix = \"/up\"\nupstreams = [\"http://{}\"]\nmax_body_bytes = {}\nstrip_prefix = true\n",
        echo.addr,
        HUGE * 2
    );
    std::fs::write(&file, text).unwrap();
    let node = helpers::NodeProcess::start(&[
        "--gateway",
        file.to_str().unwrap(),
        "--trusted-proxies",
        "127.0.0.1/32",
    ]);
    let before = peak_rss(node.child.id());
    let url = format!("http://{}/up/file", node.addr);
    let upload = agent()
        .post(&url)
        .set("X-User-ID", "ivan")
        .send(std::io::repeat(b'u').take(HUGE))
        .unwrap();
    assert_eq!(json_of(upload)["body_bytes"], HUGE);
    let grown = peak_rss(node.child.id()).saturating_sub(before);
    eprintln!(
        "peak RSS grew by {} KiB streaming {} MiB",
        grown >> 10,
        HUGE >> 20
    );
    assert!(
        grown < 64 << 20,
        "the node held {grown} bytes: a body was buffered"
    );
}

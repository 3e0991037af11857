//! What a client owes a node, bounded: a request head and a JSON body each
//! have their time, a head its size, connections their number, and every
//! refusal of the HTTP layer is the JSON error with its code, counted in
//! `limiter_http_refusals_total`. Raw sockets send what clients refuse to.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{eventually, TestNode};

/// What came back on `stream` until it closed (or 10 s passed), and when it closed.
fn answer(stream: &mut TcpStream) -> (String, Option<Instant>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut bytes = Vec::new();
    let closed = match stream.read_to_end(&mut bytes) {
        Ok(_) => Some(Instant::now()),
        // Reset by the node after it answered counts as closed.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(Instant::now()),
        Err(_) => None,
    };
    (String::from_utf8_lossy(&bytes).into_owned(), closed)
}

/// The status and the JSON body of a raw answer.
fn status_and_json(answer: &str) -> (u16, Value) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{answer:?}"
    );
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer:?}"));
    (status, json)
}

fn refusals(node: &TestNode, reason: &str) -> f64 {
    node.metric(&format!(
        "limiter_http_refusals_total{{reason=\"{reason}\"}}"
    ))
}

#[test]
fn a_body_trickled_byte_by_byte_is_refused_at_the_body_timeout() {
    let node = TestNode::start(&["--body-timeout-ms", "1000"]);
    let mut stream = TcpStream::connect(node.addr).unwrap();
    stream
        .write_all(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n{")
        .unwrap();
    // One byte every 100 ms, as long as the node takes them.
    let mut writer = stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        while writer.write_all(b" ").is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let started = Instant::now();
    let (text, closed) = answer(&mut stream);
    let closed = closed.unwrap_or_else(|| panic!("still open after 10 s: {text:?}"));
    assert!(closed - started < Duration::from_secs(10));
    let (status, body) = status_and_json(&text);
    assert_eq!(status, 408, "{text}");
    assert_eq!(body["error"], "body_timeout");
    assert!(text.to_ascii_lowercase().contains("connection: close"));
    let _ = stream.shutdown(std::net::Shutdown::Both);
    trickle.join().unwrap();
    assert_eq!(refusals(&node, "body_timeout"), 1.0);
    // Every reason's series is there from the start.
    assert_eq!(refusals(&node, "connection_cap"), 0.0);
    assert!(node
        .get("/metrics")
        .body
        .contains(r#"limiter_http_refusals_total{reason="connection_cap"} 0"#));
}

#[test]
fn a_json_body_past_its_bound_is_a_json_413_before_it_is_read() {
    let node = TestNode::start(&[]);
    let head = b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 262145\r\n\r\n";
    let mut stream = TcpStream::connect(node.addr).unwrap();
    stream.write_all(head).unwrap();
    let (text, _) = answer(&mut stream);
    let (status, body) = status_and_json(&text);
    assert_eq!(status, 413, "{text}");
    assert_eq!(body["error"], "payload_too_large");
    assert_eq!(refusals(&node, "body_too_large"), 1.0);
}

#[test]
fn a_bad_byte_in_any_header_is_a_json_400_naming_it() {
    let node = TestNode::start(&[]);
    let reply = node.raw(b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: a\r\nX-Trace: t\x01");
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json()["error"], "invalid_field");
    assert_eq!(reply.json()["field"], "X-Trace");
    let reply = node.raw(b"POST /prot\x01ected HTTP/1.1\r\nHost: x");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["field"], "request-line");
    let reply = node.raw(b"POST /protected HTTP/1.1\r\nX-User-ID: a");
    assert_eq!(reply.json()["field"], "Host", "{reply:?}");
    assert_eq!(refusals(&node, "malformed_head"), 3.0);
}

/// nginx's `auth_request` turns any answer but 2xx, 401 and 403 into a 500.
#[test]
fn forward_auth_answers_a_bad_user_header_with_its_401_even_from_the_parser() {
    let node = TestNode::start(&[]);
    for byte in [b"\x7f", b"\x01", b"\x00"] {
        let head = [
            &b"GET /v1/forward-auth HTTP/1.1\r\nHost: x\r\nX-User-ID: al"[..],
            byte,
            b"ice",
        ]
        .concat();
        let reply = node.raw(&head);
        assert_eq!(reply.status, 401, "{byte:?}: {reply:?}");
        assert_eq!(reply.json()["error"], "user_id_control_character");
        assert_eq!(reply.json()["field"], "X-User-ID");
    }
}

#[test]
fn a_head_past_the_parsers_bounds_is_a_json_431() {
    let node = TestNode::start(&[]);
    // Exactly the 128 KiB the parser holds, never ended: all of it is read
    // before the answer, so none is left to reset the connection.
    let start = "POST /protected HTTP/1.1\r\nHost: x\r\nX-Big: ";
    let long = format!("{start}{}", "a".repeat(131_072 - start.len()));
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("POST /protected HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    for head in [long, many] {
        let mut stream = TcpStream::connect(node.addr).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let (text, _) = answer(&mut stream);
        let (status, body) = status_and_json(&text);
        assert_eq!(status, 431, "{text}");
        assert_eq!(body["error"], "request_head_too_large");
    }
    assert_eq!(refusals(&node, "head_too_large"), 2.0);
}

#[test]
fn every_head_on_a_connection_has_the_head_timeout() {
    let node = TestNode::start(&["--head-timeout-ms", "1000"]);
    // The first request of a connection, cut short.
    let mut stream = TcpStream::connect(node.addr).unwrap();
    stream
        .write_all(b"POST /protected HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (text, closed) = answer(&mut stream);
    assert!(closed.is_some(), "still open after 10 s: {text:?}");
    let (status, body) = status_and_json(&text);
    assert_eq!(
        (status, body["error"].as_str()),
        (408, Some("head_timeout"))
    );
    // A kept-alive connection's next head, trickled a byte at a time.
    let mut stream = TcpStream::connect(node.addr).unwrap();
    stream
        .write_all(b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: a\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let mut writer = stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        while writer.write_all(b"P").is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let started = Instant::now();
    let (text, closed) = answer(&mut stream);
    let closed = closed.unwrap_or_else(|| panic!("still open after 10 s: {text:?}"));
    assert!(closed - started < Duration::from_secs(10));
    assert!(text.contains(r#""error":"head_timeout""#), "{text:?}");
    let _ = stream.shutdown(std::net::Shutdown::Both);
    trickle.join().unwrap();
    assert_eq!(refusals(&node, "head_timeout"), 2.0);
}

#[test]
fn a_connection_past_the_cap_is_answered_503_and_counted() {
    let node = TestNode::start(&["--max-connections", "2"]);
    // Connections are taken until one is refused (the test's own HTTP
    // client may hold one open already).
    let mut held = Vec::new();
    let text = loop {
        assert!(held.len() <= 2, "{} connections taken", held.len());
        let mut stream = TcpStream::connect(node.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        match stream.peek(&mut [0u8; 1]) {
            Ok(1..) => break answer(&mut stream).0,
            _ => held.push(stream),
        }
    };
    let (status, body) = status_and_json(&text);
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("too_many_connections"))
    );
    drop(held);
    // Room again once the node has seen them close; each 503 till then is counted.
    let mut busy = 1.0;
    eventually(Duration::from_secs(5), "room for a connection", || {
        let busy_now = node.get("/healthz").status == 503;
        if busy_now {
            busy += 1.0;
        }
        !busy_now
    });
    assert_eq!(refusals(&node, "connection_cap"), busy);
}

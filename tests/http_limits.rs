//! What a client owes a node, bounded: a request head and a JSON body each
//! have their time, a head its size, connections their number, and every
//! refusal of the HTTP layer is the JSON error with its code, counted in
//! `limiter_http_refusals_total`. Raw sockets send what clients refuse to.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::TestNode;
use serde_json::Value;

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

//! Unit tests of the parser's refusals: found in the bytes going out only
//! when they are exactly actix-http's, and explained from the request as
//! read — or let through when the request was well-formed after all.

use std::time::Duration;

use actix_web::http::header::HeaderName;
use actix_web::http::StatusCode;

use super::*;

const DATE: &str = "Sat, 05 Dec 2026 17:15:27 GMT";

fn canned_answer(status_line: &str, close: bool) -> Vec<u8> {
    let close = if close { "connection: close\r\n" } else { "" };
    format!("{status_line}\r\ncontent-length: 0\r\n{close}date: {DATE}\r\n\r\n").into_bytes()
}

fn explain_with(canned: Canned, head: &[u8], user: &str) -> Option<ApiError> {
    let ctx = Explain {
        forward_auth_user: &HeaderName::from_bytes(user.as_bytes()).unwrap(),
        head_timeout: Duration::from_secs(5),
    };
    explain(canned, head, &ctx)
}

fn bad(head: &[u8]) -> Option<ApiError> {
    explain_with(Canned::Malformed, head, "x-user-id")
}

#[test]
fn the_parsers_answers_are_found_at_the_end_of_what_goes_out() {
    for (line, kind) in [
        ("HTTP/1.1 400 Bad Request", Canned::Malformed),
        (
            "HTTP/1.1 431 Request Header Fields Too Large",
            Canned::TooLarge,
        ),
        ("HTTP/1.1 408 Request Timeout", Canned::Timeout),
    ] {
        for close in [true, false] {
            let alone = canned_answer(line, close);
            assert_eq!(canned(&alone), Some((0, kind)), "{line}");
            assert_eq!(date_of(&alone), DATE.as_bytes());
            // After the end of an answer that went before it on the connection.
            let before = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            let after = [&before[..], &alone].concat();
            assert_eq!(canned(&after), Some((before.len(), kind)), "{line}");
        }
    }
}

#[test]
fn answers_of_ours_and_upstreams_with_headers_are_not_the_parsers() {
    let json = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ncontent-type: application/json\r\ndate: {DATE}\r\n\r\n"
    );
    let other = canned_answer("HTTP/1.1 404 Not Found", true);
    let cut = canned_answer("HTTP/1.1 400 Bad Request", true);
    let bodied = [&cut[..], b"{}"].concat();
    for out in [
        json.as_bytes(),
        &other,
        &cut[1..cut.len() - 1],
        &bodied,
        b"",
    ] {
        assert_eq!(canned(out), None, "{}", String::from_utf8_lossy(out));
    }
}

#[test]
fn a_control_character_in_the_user_header_is_its_own_error() {
    for byte in [0x7f, 0x01, 0x1b, 0x00, b'\r'] {
        let head = [
            &b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: ab"[..],
            &[byte],
            b"c\r\n\r\n",
        ]
        .concat();
        assert_eq!(
            bad(&head),
            Some(ApiError::UserIdControlCharacter { position: 2, byte }),
            "0x{byte:02x}"
        );
    }
    // On forward-auth: its configured header, as its 401.
    let head = b"GET /v1/forward-auth/api?x=1 HTTP/1.1\r\nHost: x\r\nRemote-User: a\x7f\r\n\r\n";
    let error = explain_with(Canned::Malformed, head, "remote-user").unwrap();
    assert_eq!(error.status_code(), 401);
    assert_eq!(error.code(), "user_id_control_character");
}

#[test]
fn other_bad_heads_name_the_part_at_fault() {
    let field = |head: &[u8]| match bad(head) {
        Some(ApiError::InvalidField { field, .. }) => field,
        other => panic!("{}: {other:?}", String::from_utf8_lossy(head)),
    };
    assert_eq!(
        field(b"POST /protected HTTP/1.1\r\nHost: x\r\nX-Trace: a\x01\r\n\r\n"),
        "X-Trace"
    );
    assert_eq!(
        field(b"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n"),
        "request-line"
    );
    assert_eq!(field(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n"), "request-line");
    assert_eq!(field(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), "headers");
    assert_eq!(field(b"GET / HTTP/1.1\r\n\r\n"), "Host");
    assert_eq!(
        field(b"GET / HTTP/1.1\nHost: x\nContent-Length: 1x\n\n"),
        "Content-Length"
    );
    assert_eq!(
        field(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        "Content-Length"
    );
    assert_eq!(
        field(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
        "Transfer-Encoding"
    );
    // Cut short before anything wrong shows.
    assert_eq!(
        field(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: aaaa"),
        "headers"
    );
}

#[test]
fn a_well_formed_head_lets_the_answer_through_as_it_is() {
    // A bare 400 then is an upstream's, relayed by the gateway.
    let head =
        b"\r\nPOST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nX-User-ID: bob\r\n\r\n{}";
    assert_eq!(bad(head), None);
    assert_eq!(explain_with(Canned::TooLarge, head, "x-user-id"), None);
    assert_eq!(explain_with(Canned::Timeout, head, "x-user-id"), None);
}

#[test]
fn heads_too_large_or_late_are_said_so() {
    let many: String = (0..97).map(|i| format!("X-{i}: v\r\n")).collect();
    let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
    let too_large = explain_with(Canned::TooLarge, many.as_bytes(), "x-user-id");
    assert_eq!(
        too_large.map(|e| e.status_code()),
        Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    );
    let cut = b"GET / HTTP/1.1\r\nHost: x\r\n";
    let late = explain_with(Canned::Timeout, cut, "x-user-id");
    assert_eq!(late, Some(ApiError::HeadTimeout { timeout_ms: 5000 }));
    assert!(explain_with(Canned::Timeout, b"", "x-user-id").is_some());
}

#[test]
fn an_answer_is_whole_json_and_closes() {
    let bytes = answer(
        &ApiError::HeadTimeout { timeout_ms: 5 },
        Some(DATE.as_bytes()),
    );
    let text = String::from_utf8(bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{head}"
    );
    assert!(head.contains("connection: close") && head.contains(DATE));
    assert!(head.contains(&format!("content-length: {}", body.len())));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).unwrap()["error"],
        "head_timeout"
    );
}

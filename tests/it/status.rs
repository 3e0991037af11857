//! The status page over HTTP on a real server (port 0): HTML at `/` and
//! `/status` with headers that keep it self-contained and uncached, JSON for
//! every error, per-rule refusals over the last minute in `data-`
//! attributes, and the most-limited keys only with the admin token (as a
//! bearer token or the password of HTTP Basic).

use std::time::Duration;

use base64::prelude::{Engine, BASE64_STANDARD};

use crate::helpers::{self, eventually, temp_dir, Reply, TestNode};

const TOKEN: &str = "status-http-admin-token";

/// The value of `attribute` in the first tag that also has `marker`.
fn attribute(html: &str, marker: &str, attribute: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag = &html[at..at + html[at..].find('>')?];
    let rest = tag.split_once(&format!(" {attribute}=\""))?.1;
    Some(rest[..rest.find('"')?].to_string())
}

/// `GET path` with `Authorization: Basic` (user `ops`, password `password`).
fn basic(node: &TestNode, path: &str, password: &str) -> Reply {
    let credentials = BASE64_STANDARD.encode(format!("ops:{password}"));
    let head =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {credentials}");
    node.raw(head.as_bytes())
}

#[test]
fn the_page_is_html_at_both_paths_and_every_error_stays_json() {
    let node = TestNode::start(&[]);
    for path in ["/", "/status", "/status?refresh=0"] {
        let page = node.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(page.header("cache-control"), "no-store");
        assert!(page
            .header("content-security-policy")
            .starts_with("default-src 'none'"));
        assert!(page.body.starts_with("<!DOCTYPE html>"));
        assert!(page.body.contains("standalone (no Kafka brokers"));
        assert!(
            page.body.contains("id=\"keys-off\""),
            "no admin API: no keys"
        );
        assert_eq!(
            page.body.contains("http-equiv=\"refresh\""),
            path != "/status?refresh=0"
        );
    }
    for path in ["/", "/status"] {
        let wrong = node.request("POST", path);
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow"), "GET");
        assert_eq!(wrong.json()["error"], "method_not_allowed");
    }
    let bad = node.get("/status?refresh=soon");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["field"], "refresh");
    assert_eq!(node.get("/status?keys=1&x=1").json()["field"], "x");
    // Asking for keys with the admin API off: no prompt, they are never shown.
    let off = node.get("/status?keys=1");
    assert_eq!(off.status, 200);
    assert!(off.body.contains("id=\"keys-off\""));
    assert_eq!(node.get("/nothing-here").json()["error"], "not_found");
    let metrics = node.get("/metrics").body;
    for route in ["/", "/status"] {
        let series = format!(r#"http_requests_total{{route="{route}",status="200"}}"#);
        assert!(helpers::metric(&metrics, &series) >= 1.0, "{series}");
    }
}

#[test]
fn a_rules_refusals_show_on_the_page_within_seconds() {
    let node = TestNode::start(&["--capacity", "2", "--refill-per-sec", "0.001"]);
    for n in 0..5 {
        let expected = if n < 2 { 200 } else { 429 };
        assert_eq!(node.protected("erin").status, expected);
    }
    // The sampler runs once a second.
    eventually(
        Duration::from_secs(5),
        "three refusals on the status page",
        || {
            let page = node.get("/status").body;
            attribute(&page, "data-rule=\"default\"", "data-refused-60s").as_deref() == Some("3")
        },
    );
    let page = node.get("/status").body;
    let row = |a| attribute(&page, "data-rule=\"default\"", a);
    assert_eq!(row("data-decisions-60s").as_deref(), Some("5"));
    assert_eq!(row("data-refused-10s").as_deref(), Some("3"));
    assert_eq!(row("data-shadow-limited-60s").as_deref(), Some("0"));
}

#[test]
fn keys_show_only_with_the_admin_token() {
    let data = temp_dir("status-keys");
    let node = TestNode::start(&[
        "--capacity",
        "1",
        "--refill-per-sec",
        "0.001",
        "--admin-token",
        TOKEN,
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    node.protected("mallory");
    assert_eq!(node.protected("mallory").status, 429);

    let hidden = node.get("/status");
    assert!(hidden.body.contains("id=\"keys-hidden\""));
    assert!(!hidden.body.contains("mallory"), "no token: no user IDs");
    // The link the page offers asks the browser for the token.
    for asked in [
        node.get("/status?keys=1"),
        basic(&node, "/status?keys=1", "wrong"),
    ] {
        assert_eq!(asked.status, 401);
        assert_eq!(
            asked.header("www-authenticate"),
            r#"Basic realm="crdt-limiter""#
        );
        assert_eq!(asked.header("content-type"), "application/json");
    }
    let bearer = node.send("GET", "/status", Some(TOKEN), None);
    let by_basic = basic(&node, "/status?keys=1", TOKEN);
    for shown in [bearer, by_basic] {
        assert_eq!(shown.status, 200);
        assert_eq!(
            attribute(&shown.body, "data-key=\"mallory\"", "data-refusals").as_deref(),
            Some("1")
        );
    }
    let wrong = node.send("GET", "/status", Some("not-the-token"), None);
    assert!(wrong.body.contains("id=\"keys-hidden\"") && !wrong.body.contains("mallory"));
}

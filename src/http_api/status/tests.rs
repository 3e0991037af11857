//! Unit tests of the status page: its query, who may see the keys (the
//! admin token as a bearer token or a Basic password), and its HTML, with
//! hostile rule names, peer IDs and keys escaped.

use std::sync::Arc;

use actix_web::http::header::HeaderValue;
use base64::prelude::{Engine, BASE64_STANDARD};

use super::cluster::{Cluster, Lag, Node, Peer, Problem};
use super::html::{render, Keys, Page};
use super::query::{query_from, Query, DEFAULT_REFRESH};
use super::*;
use crate::http_api::admin::rules_view::{LimitRow, RuleRow};
use crate::limiter::refusals::Refused;
use crate::limiter::Stamp;
use crate::policy::{Policy, RuleSet};
use crate::policy_log::FileLog;
use crate::telemetry::{RuleMinute, Telemetry};

const TOKEN: &str = "status-test-admin-token";

#[test]
fn refresh_and_keys_are_checked_and_nothing_else_is_accepted() {
    let q = |s| query_from(s);
    assert_eq!(
        q("").unwrap(),
        Query {
            refresh: DEFAULT_REFRESH,
            keys: false
        }
    );
    assert_eq!(
        q("refresh=0&keys=1").unwrap(),
        Query {
            refresh: 0,
            keys: true
        }
    );
    assert_eq!(q("refresh=3600").unwrap().refresh, 3600);
    for (bad, field) in [
        ("refresh=3601", "refresh"),
        ("refresh=-1", "refresh"),
        ("refresh=x", "refresh"),
        ("refresh", "refresh"),
        ("keys=yes", "keys"),
        ("refresh=1&color=red", "color"),
    ] {
        assert!(
            matches!(q(bad), Err(ApiError::InvalidField { field: f, .. }) if f == field),
            "{bad}"
        );
    }
}

#[test]
fn a_basic_password_is_read_whatever_the_user_name() {
    let header = |v: &str| HeaderValue::from_str(v).unwrap();
    let basic = |creds: &str| format!("Basic {}", BASE64_STANDARD.encode(creds));
    assert_eq!(
        basic_password(&header(&basic("ops:s3cr:et"))).as_deref(),
        Some(&b"s3cr:et"[..])
    );
    assert_eq!(
        basic_password(&header(&basic(":tok"))).as_deref(),
        Some(&b"tok"[..])
    );
    let lower = format!("basic {}", BASE64_STANDARD.encode("u:tok"));
    assert_eq!(
        basic_password(&header(&lower)).as_deref(),
        Some(&b"tok"[..])
    );
    for bad in ["Basic", "Basic !!!", "Bearer tok", &basic("no-colon")] {
        assert_eq!(basic_password(&header(bad)), None, "{bad}");
    }
}

fn admin() -> Admin {
    let dir = tempfile::tempdir().unwrap();
    let limit = crate::limiter::Limit::new(
        std::num::NonZeroU32::new(1).unwrap(),
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    let policy = Arc::new(Policy::new(RuleSet::single(limit)));
    let telemetry = Arc::new(Telemetry::new());
    let ledger = crate::policy_log::open_ledger(
        policy,
        "test",
        Some(dir.path()),
        crate::policy_log::Cleared::Drop,
        &telemetry,
    )
    .unwrap();
    let clock: Arc<dyn crate::clock::Clock> = Arc::new(crate::clock::SystemClock::default());
    let log = FileLog::new(ledger, clock, telemetry);
    Admin::new(
        crate::settings::Secret::new(TOKEN.into()),
        Arc::new(log),
        crate::limiter::Tz::UTC,
    )
}

#[test]
fn keys_need_the_admin_token_as_bearer_or_basic_password() {
    let admin = admin();
    let header = |v: String| HeaderValue::from_str(&v).unwrap();
    let basic = |creds: &str| header(format!("Basic {}", BASE64_STANDARD.encode(creds)));
    let access = |value: Option<HeaderValue>| access_of(Some(&admin), value.as_ref());
    assert_eq!(access(None), Access::Denied);
    assert_eq!(
        access(Some(header(format!("Bearer {TOKEN}")))),
        Access::Granted
    );
    assert_eq!(
        access(Some(basic(&format!("anyone:{TOKEN}")))),
        Access::Granted
    );
    assert_eq!(access(Some(basic(&format!(":{TOKEN}")))), Access::Granted);
    for wrong in [
        header("Bearer nope".into()),
        header(format!("Bearer {TOKEN}x")),
        basic("anyone:nope"),
        // The token as the user name is not the password.
        basic(&format!("{TOKEN}:")),
        header(format!("Token {TOKEN}")),
    ] {
        assert_eq!(access(Some(wrong.clone())), Access::Denied, "{wrong:?}");
    }
    // Admin API off: never, whatever is sent.
    let bearer = header(format!("Bearer {TOKEN}"));
    assert_eq!(access_of(None, Some(&bearer)), Access::Off);
}

const HOSTILE: &str = "<script>alert(\"x\")</script>&'";

fn page(keys: Keys) -> Page<'static> {
    let node = Node {
        id: Some(format!("node-{HOSTILE}")),
        mode: "cluster",
        version: "0.1.0",
        merge: Some("counted"),
        kafka_connected: true,
        kafka_problem: None,
        bootstrap_done: true,
        buckets: 12,
        sync_pending: 3,
        partitioned: false,
        nodes_up: 2,
        limit_share: 1,
        peer_gone_after_ms: Some(5_000),
    };
    let peer = Peer {
        id: format!("peer-\"><img src=x onerror=alert(1)>{HOSTILE}"),
        state: "up",
        last_heard_unix_ms: 1_700_000_000_000 - 1_500,
        records_per_sec: 4.0,
        heartbeats_per_sec: 2.0,
        lag_ms: Some(Lag { p50: 3, p99: 17 }),
    };
    let limit = LimitRow {
        capacity: 5,
        refill_per_sec: Some(0.5),
        window: None,
    };
    let rule = |name: &'static str| RuleRow {
        name,
        matcher: vec![("route", format!("/api/{HOSTILE}"))],
        key: "user",
        shadow: false,
        limit: Some(limit),
    };
    let mut refused_per_sec = [0; 60];
    refused_per_sec[59] = 4;
    Page {
        query: Query {
            refresh: 2,
            keys: false,
        },
        now_unix_ms: 1_700_000_000_000,
        cluster: Cluster {
            node,
            peers: vec![peer],
        },
        rules: vec![rule("rule-<b>\"evil\"</b>"), rule("quiet")],
        plans: vec![("gold", limit)],
        default_plan: Some("gold"),
        minutes: vec![RuleMinute {
            name: "rule-<b>\"evil\"</b>".into(),
            last_60s: [10, 7, 2],
            last_10s: [1, 4, 0],
            refused_per_sec,
        }],
        keys,
    }
}

fn shown_key() -> Keys {
    Keys::Shown(vec![Refused {
        key: format!("orders user-{HOSTILE}").into(),
        rule: "rule-<b>\"evil\"</b>".into(),
        refusals: 9,
        error: 0,
        last: Stamp::from_unix_nanos(1_699_999_999_000_000_000),
    }])
}

#[test]
fn every_outside_string_is_escaped() {
    let html = render(&page(shown_key()));
    // Text needs <, > and & escaped; double-quoted attributes " as well.
    for raw in ["<script", "<img", "<b>", "&'", "=\"peer-\">", "=\"rule-<"] {
        assert!(!html.contains(raw), "{raw} unescaped in\n{html}");
    }
    // Still there, escaped, as text and in the data- attributes.
    assert!(html.contains("node-&lt;script&gt;alert(\"x\")&lt;/script&gt;&amp;'"));
    assert!(html.contains("data-rule=\"rule-&lt;b&gt;&quot;evil&quot;&lt;/b&gt;\""));
    assert!(html.contains("data-peer=\"peer-&quot;&gt;&lt;img"));
    assert!(html.contains("orders user-&lt;script&gt;"));
    assert!(html.contains("/api/&lt;script&gt;"));
}

#[test]
fn the_page_stands_alone_and_shows_each_section() {
    let html = render(&page(Keys::Hidden));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<link rel=\"icon\" href=\"data:,\">"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
    assert!(!html.contains("<script") && !html.contains("src=\"http"));
    assert!(html.contains("data-state=\"up\""));
    assert!(html.contains("1.5 s ago") && html.contains("3 / 17 ms"));
    assert!(html.contains("<td class=\"n\">0.5</td>"), "refill/s");
    // The rule with decisions, and the rule without any (all zero).
    assert!(html.contains(
        "data-decisions-60s=\"19\" data-refused-60s=\"7\" data-shadow-limited-60s=\"2\" data-refused-10s=\"4\""
    ));
    assert!(html.contains("data-rule=\"quiet\" data-decisions-60s=\"0\" data-refused-60s=\"0\""));
    assert_eq!(html.matches("<svg class=\"spark\"").count(), 2);
    let mut quiet = page(Keys::Hidden);
    quiet.query.refresh = 0;
    assert!(
        !render(&quiet).contains("http-equiv"),
        "refresh=0 turns it off"
    );
}

#[test]
fn keys_are_shown_only_when_allowed() {
    let hidden = render(&page(Keys::Hidden));
    assert!(hidden.contains("id=\"keys-hidden\""));
    assert!(hidden.contains("href=\"/status?keys=1\""));
    assert!(!hidden.contains("orders user-"));
    let off = render(&page(Keys::Off));
    assert!(off.contains("id=\"keys-off\"") && !off.contains("keys=1"));
    let shown = render(&page(shown_key()));
    assert!(shown.contains("id=\"top-keys\"") && shown.contains("data-refusals=\"9\""));
    assert!(shown.contains("1.0 s ago"));
    assert!(render(&page(Keys::Shown(Vec::new()))).contains("id=\"no-keys\""));
}

#[test]
fn a_standalone_node_says_so() {
    let mut p = page(Keys::Off);
    p.cluster.node.id = None;
    p.cluster.node.merge = None;
    p.cluster.peers.clear();
    let html = render(&p);
    assert!(html.contains("standalone (no Kafka brokers"));
    assert!(html.contains("id=\"no-peers\""));
}

#[test]
fn a_broker_refusing_the_node_is_named_with_what_to_check() {
    let mut p = page(Keys::Off);
    assert!(!render(&p).contains("kafka-problem"));
    p.cluster.node.kafka_problem = Some(Problem {
        cause: "tls_ca",
        fix: "the broker's certificate is not signed by --kafka-ca-file",
    });
    let html = render(&p);
    assert!(
        html.contains("Kafka refuses this node (<code>tls_ca</code>): the broker"),
        "{html}"
    );
}

#[test]
fn rates_keep_three_significant_digits_below_one() {
    use super::html::rate;
    for (per_sec, shown) in [
        (10.0, "10"),
        (2.5, "2.5"),
        (0.5, "0.5"),
        (1.0 / 60.0, "0.0167"),
        (1.0 / 86_400.0, "0.0000116"),
    ] {
        assert_eq!(rate(per_sec), shown, "{per_sec}");
    }
}

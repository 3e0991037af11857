//! The status page's HTML: one self-contained document (inline CSS and SVG,
//! no script, no request for anything else). Every string from outside —
//! rule names, match values, peer IDs from the wire, bucket keys — goes
//! through `html_escape`; numbers the tests read are in `data-` attributes.
//! Bounded: at most 256 peers, 64 keys, and the rules of the rules file.

use std::collections::HashMap;
use std::fmt::{self, Write};

use html_escape::{encode_double_quoted_attribute_to_string, encode_text_to_string};

use super::cluster::{Cluster, Peer};
use super::query::{Query, DEFAULT_REFRESH};
use super::spark::write_sparkline;
use crate::http_api::admin::rules_view::{LimitRow, RuleRow};
use crate::limiter::refusals::Refused;
use crate::policy::RuleOutcome;
use crate::telemetry::{RuleMinute, MINUTE_SLOTS};

/// Everything the page shows.
pub(super) struct Page<'a> {
    /// What was asked for.
    pub query: Query,
    /// The node's clock, to say how long ago things happened.
    pub now_unix_ms: u64,
    /// This node and its peers.
    pub cluster: Cluster,
    /// The rules in effect, in order.
    pub rules: Vec<RuleRow<'a>>,
    /// The plans, by name.
    pub plans: Vec<(&'a str, LimitRow)>,
    /// The plan of users not moved to another.
    pub default_plan: Option<&'a str>,
    /// Per-rule decisions over the last minute (by name; rules without are 0).
    pub minutes: Vec<RuleMinute>,
    /// The most-limited keys, if this request may see them.
    pub keys: Keys,
}

/// The most-limited keys section.
pub(super) enum Keys {
    /// The admin API is off: never shown.
    Off,
    /// Shown only with the admin token.
    Hidden,
    /// Most refused first.
    Shown(Vec<Refused>),
}

const STYLE: &str = "body{font:14px/1.35 system-ui,sans-serif;margin:1em 1.5em;color:#222;background:#fafafa}\
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1em 0 .4em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ddd;padding:.2em .6em;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#eee}\
.up{color:#176317;font-weight:600}.gone{color:#a11;font-weight:600}.muted{color:#666}\
.shadow{color:#8a5a00}code{font-size:.95em;word-break:break-all}\
.row{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}h3{font-size:1em;margin:.8em 0 .3em}";

/// The whole page.
pub(super) fn render(page: &Page<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    write_page(&mut out, page).expect("writing to a String cannot fail");
    out
}

fn write_page(out: &mut String, page: &Page<'_>) -> fmt::Result {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    // No /favicon.ico request (a 404 the browser would log as an error).
    out.push_str("<link rel=\"icon\" href=\"data:,\">");
    if page.query.refresh > 0 {
        write!(
            out,
            "<meta http-equiv=\"refresh\" content=\"{}\">",
            page.query.refresh
        )?;
    }
    write!(
        out,
        "<title>crdt-limiter status</title><style>{STYLE}</style></head><body>"
    )?;
    out.push_str("<h1>crdt-limiter status</h1><p class=\"muted\">");
    match page.query.refresh {
        0 => write!(
            out,
            "Not refreshing. <a href=\"{}\">Refresh every {DEFAULT_REFRESH} s</a>",
            link(page.query.keys, DEFAULT_REFRESH)
        )?,
        n => write!(
            out,
            "Refreshes every {n} s. <a href=\"{}\">Stop</a>",
            link(page.query.keys, 0)
        )?,
    }
    out.push_str(
        " · JSON: <a href=\"/v1/cluster\">/v1/cluster</a>, <a href=\"/metrics\">/metrics</a></p>",
    );
    write_node(out, &page.cluster)?;
    write_peers(out, &page.cluster.peers, page.now_unix_ms)?;
    write_rules(out, &page.rules)?;
    write_plans(out, &page.plans, page.default_plan)?;
    write_minutes(out, &page.rules, &page.minutes)?;
    write_keys(out, page)?;
    out.push_str("</body></html>\n");
    Ok(())
}

/// `/status` with these parameters (the defaults left out).
fn link(keys: bool, refresh: u32) -> String {
    match (keys, refresh) {
        (false, DEFAULT_REFRESH) => "/status".into(),
        (true, DEFAULT_REFRESH) => "/status?keys=1".into(),
        (false, n) => format!("/status?refresh={n}"),
        (true, n) => format!("/status?keys=1&amp;refresh={n}"),
    }
}

fn text(out: &mut String, s: &str) {
    encode_text_to_string(s, out);
}

fn attr(out: &mut String, s: &str) {
    encode_double_quoted_attribute_to_string(s, out);
}

fn yes_no(b: bool) -> &'static str {
    ["no", "yes"][usize::from(b)]
}

fn write_node(out: &mut String, cluster: &Cluster) -> fmt::Result {
    let node = &cluster.node;
    // One row of names over one of values: the whole node in a glance.
    out.push_str(
        "<section id=\"node\"><h2>This node and the cluster</h2><table><tr><th>Node ID</th>\
         <th>Version</th><th>Merge mode</th><th>Kafka connected</th><th>Bootstrap done</th>\
         <th>Buckets</th><th>Sync pending</th><th>Partitioned</th><th>Nodes up</th>\
         <th>Limit share</th></tr><tr><td id=\"node-id\">",
    );
    match &node.id {
        Some(id) => {
            out.push_str("<code>");
            text(out, id);
            out.push_str("</code>");
        }
        None => out.push_str("standalone (no Kafka brokers: this node decides alone)"),
    }
    write!(
        out,
        "</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">1/{}</td>\
         </tr></table>",
        node.version,
        node.merge.unwrap_or("none"),
        yes_no(node.kafka_connected),
        yes_no(node.bootstrap_done),
        node.buckets,
        node.sync_pending,
        yes_no(node.partitioned),
        node.nodes_up,
        node.limit_share
    )?;
    // A broker refusing this node (TLS, SASL) is the operator's to fix: say what to check.
    if let Some(problem) = &node.kafka_problem {
        out.push_str("<p class=\"gone\" id=\"kafka-problem\">Kafka refuses this node (<code>");
        text(out, problem.cause);
        out.push_str("</code>): ");
        text(out, problem.fix);
        out.push_str("</p>");
    }
    Ok(())
}

fn write_peers(out: &mut String, peers: &[Peer], now_unix_ms: u64) -> fmt::Result {
    out.push_str("<h3>Peers</h3>");
    if peers.is_empty() {
        out.push_str("<p class=\"muted\" id=\"no-peers\">No peer heard from.</p></section>");
        return Ok(());
    }
    out.push_str(
        "<table id=\"peers\"><tr><th>Node ID</th><th>State</th><th>Last heard</th>\
         <th>Records/s</th><th>Heartbeats/s</th><th>Lag p50 / p99</th></tr>",
    );
    for peer in peers {
        out.push_str("<tr data-peer=\"");
        attr(out, &peer.id);
        write!(out, "\" data-state=\"{}\"><td><code>", peer.state)?;
        text(out, &peer.id);
        let ago = now_unix_ms.saturating_sub(peer.last_heard_unix_ms) as f64 / 1000.0;
        write!(
            out,
            "</code></td><td class=\"{0}\">{0}</td><td class=\"n\">{ago:.1} s ago</td>\
             <td class=\"n\">{1:.1}</td><td class=\"n\">{2:.1}</td><td class=\"n\">",
            peer.state, peer.records_per_sec, peer.heartbeats_per_sec
        )?;
        match &peer.lag_ms {
            Some(lag) => write!(out, "{} / {} ms", lag.p50, lag.p99)?,
            None => out.push('–'),
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</table></section>");
    Ok(())
}

/// A rate as people write it: `10`, `0.5`, `0.0167`.
pub(super) fn rate(per_sec: f64) -> String {
    if per_sec.fract() == 0.0 {
        return format!("{per_sec:.0}");
    }
    // Three significant digits below 1, so a token a day is not "0".
    let digits = if per_sec >= 1.0 {
        2
    } else {
        (2 - per_sec.log10().floor() as i32).clamp(2, 12) as usize
    };
    let s = format!("{per_sec:.digits$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn write_limit(out: &mut String, limit: &LimitRow) -> fmt::Result {
    // Names of units and IANA zones: nothing to escape.
    let refill = match (limit.refill_per_sec, limit.window) {
        (Some(per_sec), _) => rate(per_sec),
        (None, Some(w)) => format!("per {} {}", w.window, w.time_zone.unwrap_or("(epoch)")),
        (None, None) => String::new(),
    };
    write!(
        out,
        "<td class=\"n\">{}</td><td class=\"n\">{refill}</td>",
        limit.capacity,
    )
}

fn write_rules(out: &mut String, rules: &[RuleRow<'_>]) -> fmt::Result {
    out.push_str(
        "<section id=\"rules\"><h2>Rules and plans in effect</h2><div class=\"row\"><table>",
    );
    out.push_str(
        "<tr><th>Rule</th><th>Match</th><th>Key</th><th>Capacity</th>\
         <th>Refill/s</th><th>Mode</th></tr>",
    );
    for rule in rules {
        out.push_str("<tr><td><code>");
        text(out, rule.name);
        out.push_str("</code></td><td>");
        if rule.matcher.is_empty() {
            out.push_str("<span class=\"muted\">every request</span>");
        }
        for (n, (field, value)) in rule.matcher.iter().enumerate() {
            let sep = if n == 0 { "" } else { ", " };
            write!(out, "{sep}{field} = <code>")?;
            text(out, value);
            out.push_str("</code>");
        }
        write!(out, "</td><td>{}</td>", rule.key)?;
        match &rule.limit {
            Some(limit) => write_limit(out, limit)?,
            None => out.push_str("<td colspan=\"2\">the user's plan</td>"),
        }
        match rule.shadow {
            true => out.push_str("<td class=\"shadow\">shadow (never refuses)</td></tr>"),
            false => out.push_str("<td>enforced</td></tr>"),
        }
    }
    out.push_str("</table>");
    Ok(())
}

fn write_plans(
    out: &mut String,
    plans: &[(&str, LimitRow)],
    default_plan: Option<&str>,
) -> fmt::Result {
    if plans.is_empty() {
        out.push_str("<p class=\"muted\">No plans.</p></div></section>");
        return Ok(());
    }
    out.push_str("<table><tr><th>Plan</th><th>Capacity</th><th>Refill/s</th><th></th></tr>");
    for (name, limit) in plans {
        out.push_str("<tr><td><code>");
        text(out, name);
        out.push_str("</code></td>");
        write_limit(out, limit)?;
        let default = if default_plan == Some(*name) {
            "default"
        } else {
            ""
        };
        write!(out, "<td>{default}</td></tr>")?;
    }
    out.push_str("</table></div></section>");
    Ok(())
}

fn write_minutes(out: &mut String, rules: &[RuleRow<'_>], minutes: &[RuleMinute]) -> fmt::Result {
    out.push_str("<section id=\"minute\"><h2>Decisions per rule, last minute</h2><table>");
    out.push_str(
        "<tr><th>Rule</th><th>Decisions (60 s)</th><th>Refused (60 s)</th>\
         <th>Shadow-limited (60 s)</th><th>Refused (10 s)</th><th>Refusals/s, 60 s</th></tr>",
    );
    let (limited, shadow) = (
        RuleOutcome::Limited.index(),
        RuleOutcome::ShadowLimited.index(),
    );
    let minutes: HashMap<&str, &RuleMinute> = minutes.iter().map(|m| (&*m.name, m)).collect();
    for rule in rules {
        let minute = minutes.get(rule.name);
        let (m60, m10) = minute.map_or(([0; 3], [0; 3]), |m| (m.last_60s, m.last_10s));
        let decisions = RuleMinute::decisions(&m60);
        out.push_str("<tr data-rule=\"");
        attr(out, rule.name);
        write!(
            out,
            "\" data-decisions-60s=\"{decisions}\" data-refused-60s=\"{}\" \
             data-shadow-limited-60s=\"{}\" data-refused-10s=\"{}\"><td><code>",
            m60[limited], m60[shadow], m10[limited]
        )?;
        text(out, rule.name);
        write!(
            out,
            "</code></td><td class=\"n\">{decisions}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td>",
            m60[limited], m60[shadow], m10[limited]
        )?;
        write_sparkline(
            out,
            minute.map_or(&[0; MINUTE_SLOTS - 1], |m| &m.refused_per_sec),
        )?;
        out.push_str("</td></tr>");
    }
    out.push_str("</table></section>");
    Ok(())
}

fn write_keys(out: &mut String, page: &Page<'_>) -> fmt::Result {
    out.push_str("<section id=\"keys\"><h2>Most-limited keys</h2>");
    let top = match &page.keys {
        Keys::Off => {
            out.push_str(
                "<p class=\"muted\" id=\"keys-off\">Bucket keys contain user IDs: they are shown \
                 only with the admin token, and the admin API is off on this node.</p></section>",
            );
            return Ok(());
        }
        Keys::Hidden => {
            write!(
                out,
                "<p class=\"muted\" id=\"keys-hidden\">Bucket keys contain user IDs: they are \
                 hidden without the admin token. <a href=\"{}\">Show them</a> (asks for the token \
                 as a password).</p></section>",
                link(true, page.query.refresh)
            )?;
            return Ok(());
        }
        Keys::Shown(top) => top,
    };
    if top.is_empty() {
        out.push_str("<p class=\"muted\" id=\"no-keys\">No key refused lately.</p></section>");
        return Ok(());
    }
    out.push_str(
        "<table id=\"top-keys\"><tr><th>Key</th><th>Rule</th><th>Refusals (decaying)</th>\
         <th>Overcount at most</th><th>Last refused</th></tr>",
    );
    for key in top {
        out.push_str("<tr data-key=\"");
        attr(out, &key.key);
        write!(out, "\" data-refusals=\"{}\"><td><code>", key.refusals)?;
        text(out, &key.key);
        out.push_str("</code></td><td><code>");
        text(out, &key.rule);
        let ago = page
            .now_unix_ms
            .saturating_sub(key.last.as_unix_nanos() / 1_000_000) as f64
            / 1000.0;
        write!(
            out,
            "</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{ago:.1} s ago</td></tr>",
            key.refusals, key.error
        )?;
    }
    out.push_str("</table></section>");
    Ok(())
}

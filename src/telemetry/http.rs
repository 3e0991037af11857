//! Metrics of the HTTP layer: `http_requests_total{route,status}` with its
//! duration (label values from fixed lists, so random paths make no new
//! series), and `limiter_http_refusals_total{reason}`: requests and
//! connections turned away because a client or an upstream did not
//! deliver what it owed in time or within bounds, or asked for decisions it
//! may not ask for. Every reason's series exists from the start, at 0, so a
//! rate over it is defined before the first refusal.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{describe_counter, Counter};

use super::{Telemetry, HTTP_REQUESTS};

const REFUSALS: &str = "limiter_http_refusals_total";

/// Routes get their own label value; anything else is `other`, so a scan of
/// random paths cannot grow the number of series.
/// Every admin path counts as `/v1/admin`, every forward-auth path as `/v1/forward-auth`.
pub const ROUTES: [&str; 12] = [
    "/protected",
    "/v1/check",
    "/v1/checks",
    "/v1/forward-auth",
    "/v1/admin",
    "/metrics",
    "/healthz",
    "/readyz",
    "/v1/cluster",
    "/status",
    "/",
    "other",
];
const STATUSES: [(u16, &str); 11] = [
    (200, "200"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (408, "408"),
    (413, "413"),
    (429, "429"),
    (503, "503"),
    (0, "other"),
];

/// The request counters, by route and status; each made on first use, so
/// `/metrics` lists only series that happened.
pub(super) type RequestCounters = [[OnceLock<Counter>; STATUSES.len()]; ROUTES.len()];

/// Why the HTTP layer refused a request or cut a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A connection beyond `--max-connections`: answered 503 and closed.
    ConnectionCap,
    /// A request head not sent within `--head-timeout-ms`.
    HeadTimeout,
    /// A request head larger than the parser takes (431).
    HeadTooLarge,
    /// A request head the parser refuses: bad bytes, a bad request line (400).
    MalformedHead,
    /// A request body not sent in time: a JSON API's within
    /// `--body-timeout-ms`, a gateway upload paused past its route's idle timeout.
    BodyTimeout,
    /// A JSON API body beyond its bound (413).
    BodyTooLarge,
    /// An upstream's answer paused past its route's idle timeout: the client's connection is cut.
    UpstreamIdle,
    /// A decision API asked without the decision token, or with a wrong one (401).
    DecisionToken,
    /// A decision API asked on a gateway that has no decision token (403).
    DecisionClosed,
}

impl Refusal {
    /// Every reason, in label order.
    pub const ALL: [Refusal; 9] = [
        Refusal::ConnectionCap,
        Refusal::HeadTimeout,
        Refusal::HeadTooLarge,
        Refusal::MalformedHead,
        Refusal::BodyTimeout,
        Refusal::BodyTooLarge,
        Refusal::UpstreamIdle,
        Refusal::DecisionToken,
        Refusal::DecisionClosed,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::ConnectionCap => "connection_cap",
            Refusal::HeadTimeout => "head_timeout",
            Refusal::HeadTooLarge => "head_too_large",
            Refusal::MalformedHead => "malformed_head",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::UpstreamIdle => "upstream_idle",
            Refusal::DecisionToken => "decision_token",
            Refusal::DecisionClosed => "decision_closed",
        }
    }
}

/// One counter per reason, by [`Refusal::ALL`]'s order.
pub(super) type RefusalCounters = [Counter; Refusal::ALL.len()];

/// Describes the metric and makes its counters (on the current recorder).
pub(super) fn refusal_counters() -> RefusalCounters {
    describe_counter!(
        REFUSALS,
        "Requests and connections the HTTP layer refused or cut, by reason."
    );
    Refusal::ALL.map(|reason| metrics::counter!(REFUSALS, "reason" => reason.label()))
}

impl Telemetry {
    /// Records one HTTP request by route index (into [`ROUTES`]) and status.
    pub fn http_request(&self, route: usize, status: u16, took: Duration) {
        let route = route.min(ROUTES.len() - 1);
        let status = STATUSES
            .iter()
            .position(|(code, _)| *code == status)
            .unwrap_or(STATUSES.len() - 1);
        self.http_requests[route][status]
            .get_or_init(|| {
                self.local(|| metrics::counter!(HTTP_REQUESTS, "route" => ROUTES[route], "status" => STATUSES[status].1))
            })
            .increment(1);
        self.http_seconds[route].record(took);
    }

    /// Counts one refusal of the HTTP layer.
    pub fn http_refusal(&self, reason: Refusal) {
        self.http_refusals[reason as usize].increment(1);
    }
}

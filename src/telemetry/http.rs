//! `limiter_http_refusals_total{reason}`: requests and connections the HTTP
//! layer turned away because a client or an upstream did not deliver what
//! it owed in time or within bounds, or asked for decisions it may not ask
//! for. Every reason's series exists from the start, at 0, so a rate over
//! it is defined before the first refusal.

use metrics::{describe_counter, Counter};

use super::Telemetry;

const REFUSALS: &str = "limiter_http_refusals_total";

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
    /// Counts one refusal of the HTTP layer.
    pub fn http_refusal(&self, reason: Refusal) {
        self.http_refusals[reason as usize].increment(1);
    }
}

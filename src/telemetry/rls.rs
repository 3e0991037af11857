//! Metrics of the Envoy rate-limit service: requests by outcome, and
//! descriptors by configured limit and outcome, with series bounded by the
//! descriptor files (plus at most [`MAX_DETAILED`] named by the request's
//! values: `detailed_metric`, `value_to_metric`, overrides).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use metrics::{describe_counter, Counter};

use super::Telemetry;
use crate::policy::descriptors::{DescriptorLimit, Outcome};

const REQUESTS: &str = "limiter_rls_requests_total";
const DESCRIPTORS: &str = "limiter_rls_descriptors_total";

/// Most `descriptor` label values made from requests' values
/// (`detailed_metric`); past it, those descriptors count under their
/// configured name.
pub const MAX_DETAILED: usize = 1000;

/// What became of one `ShouldRateLimit` call.
#[derive(Clone, Copy, Debug)]
pub enum RlsOutcome {
    Ok,
    OverLimit,
    Invalid,
    Unavailable,
    /// Without the decision token, or with a wrong one.
    Unauthenticated,
    /// Over a limit, answered `OK` under `--rls-shadow` (envoyproxy/ratelimit's
    /// `global_shadow_mode` statistic).
    ShadowLimited,
}

impl RlsOutcome {
    /// Every outcome, in declaration order: `ALL[o as usize] == o`, what the
    /// request counters are indexed by (checked by a unit test).
    const ALL: [RlsOutcome; 6] = [
        Self::Ok,
        Self::OverLimit,
        Self::Invalid,
        Self::Unavailable,
        Self::Unauthenticated,
        Self::ShadowLimited,
    ];

    /// The outcome's label in metrics and spans.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::OverLimit => "over_limit",
            Self::Invalid => "invalid_argument",
            Self::Unavailable => "unavailable",
            Self::Unauthenticated => "unauthenticated",
            Self::ShadowLimited => "shadow_limited",
        }
    }
}

/// Handles for the rate-limit service, made from a node's [`Telemetry`].
pub struct RlsMetrics {
    telemetry: Arc<Telemetry>,
    requests: [Counter; RlsOutcome::ALL.len()],
    /// By `descriptor` label; each outcome's counter made on first use.
    descriptors: DashMap<Box<str>, [OnceLock<Counter>; Outcome::ALL.len()], ahash::RandomState>,
    /// Detailed names made so far (a few more than admitted, under races).
    detailed: AtomicUsize,
}

impl RlsMetrics {
    /// This node's handles.
    pub fn new(telemetry: Arc<Telemetry>) -> Self {
        let requests = telemetry.local(|| {
            describe_counter!(REQUESTS, "Envoy rate-limit service calls, by outcome.");
            describe_counter!(
                DESCRIPTORS,
                "Descriptors decided by the rate-limit service, by configured limit and outcome (shadow_limited: over a shadow-mode limit, let through)."
            );
            RlsOutcome::ALL.map(|outcome| metrics::counter!(REQUESTS, "outcome" => outcome.as_str()))
        });
        Self {
            telemetry,
            requests,
            descriptors: DashMap::with_hasher(ahash::RandomState::new()),
            detailed: AtomicUsize::new(0),
        }
    }

    /// Counts one call.
    pub fn request(&self, outcome: RlsOutcome) {
        self.requests[outcome as usize].increment(1);
    }

    /// Counts one descriptor under its limit's statistics name, or under
    /// `detailed` (the name with the request's values: `detailed_metric`,
    /// `value_to_metric`, an override) while fewer than [`MAX_DETAILED`]
    /// such names exist.
    pub fn descriptor(
        &self,
        limit: Option<&DescriptorLimit>,
        detailed: Option<&str>,
        outcome: Outcome,
    ) {
        let configured = limit.map_or("none", |l| &*l.path);
        let label = match detailed {
            Some(detailed) => detailed,
            _ => configured,
        };
        if let Some(series) = self.descriptors.get(label) {
            return self.count(&series, label, outcome);
        }
        // Configured names are bounded by the files; request values are not.
        let label = if label != configured
            && self.detailed.fetch_add(1, Ordering::Relaxed) >= MAX_DETAILED
        {
            configured
        } else {
            label
        };
        let series = self.descriptors.entry(label.into()).or_default();
        self.count(&series, label, outcome);
    }

    fn count(
        &self,
        series: &[OnceLock<Counter>; Outcome::ALL.len()],
        label: &str,
        outcome: Outcome,
    ) {
        series[outcome.index()]
            .get_or_init(|| {
                let label = label.to_string();
                self.telemetry.local(|| {
                    metrics::counter!(DESCRIPTORS, "descriptor" => label, "outcome" => outcome.as_str())
                })
            })
            .increment(1);
    }
}

#[cfg(test)]
#[path = "rls_tests.rs"]
mod tests;

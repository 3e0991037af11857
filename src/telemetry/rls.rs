//! Metrics of the Envoy rate-limit service: requests by outcome, and
//! descriptors by configured limit and outcome, with series bounded by the
//! descriptor files (plus a bounded number for `detailed_metric`).

use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use metrics::{describe_counter, Counter};

use super::Telemetry;
use crate::policy::descriptors::{DescriptorLimit, Outcome};

const REQUESTS: &str = "limiter_rls_requests_total";
const DESCRIPTORS: &str = "limiter_rls_descriptors_total";
const RELOADS: &str = "limiter_rls_config_reloads_total";

/// Most `descriptor` label values: the configured limits are far fewer; the
/// rest is left to `detailed_metric` values, which come from requests.
const MAX_SERIES: usize = 4096;

impl Telemetry {
    /// A reload of the descriptor files, applied or refused.
    pub fn rls_config_reload(&self, applied: bool) {
        let outcome = if applied { "applied" } else { "refused" };
        self.local(|| {
            describe_counter!(
                RELOADS,
                "Reloads of the rate-limit service's descriptor files, by outcome."
            );
            metrics::counter!(RELOADS, "outcome" => outcome).increment(1)
        });
    }
}

/// What became of one `ShouldRateLimit` call.
#[derive(Clone, Copy, Debug)]
pub enum RlsOutcome {
    Ok,
    OverLimit,
    Invalid,
    Unavailable,
}

/// Handles for the rate-limit service, made from a node's [`Telemetry`].
pub struct RlsMetrics {
    telemetry: Arc<Telemetry>,
    requests: [Counter; 4],
    /// By `descriptor` label; each outcome's counter made on first use.
    descriptors: DashMap<Box<str>, [OnceLock<Counter>; Outcome::ALL.len()], ahash::RandomState>,
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
            ["ok", "over_limit", "invalid_argument", "unavailable"]
                .map(|outcome| metrics::counter!(REQUESTS, "outcome" => outcome))
        });
        Self {
            telemetry,
            requests,
            descriptors: DashMap::with_hasher(ahash::RandomState::new()),
        }
    }

    /// Counts one call.
    pub fn request(&self, outcome: RlsOutcome) {
        self.requests[outcome as usize].increment(1);
    }

    /// Counts one descriptor under its limit's statistics name, or under
    /// `detailed` (the name with the request's values) for `detailed_metric`.
    pub fn descriptor(
        &self,
        limit: Option<&DescriptorLimit>,
        detailed: Option<&str>,
        outcome: Outcome,
    ) {
        let label = match (limit, detailed) {
            (Some(limit), Some(detailed)) if limit.detailed_metric => detailed,
            (Some(limit), _) => &limit.path,
            (None, _) => "none",
        };
        let counter = |series: &[OnceLock<Counter>; Outcome::ALL.len()], label: &str| {
            series[outcome.index()]
                .get_or_init(|| {
                    let label = label.to_string();
                    self.telemetry.local(|| {
                        metrics::counter!(DESCRIPTORS, "descriptor" => label, "outcome" => outcome.as_str())
                    })
                })
                .increment(1);
        };
        if let Some(series) = self.descriptors.get(label) {
            return counter(&series, label);
        }
        let label = if self.descriptors.len() >= MAX_SERIES {
            "other"
        } else {
            label
        };
        let series = self.descriptors.entry(label.into()).or_default();
        counter(&series, label);
    }
}

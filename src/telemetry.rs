//! Metrics: every name described once here, recorded through small named
//! functions on cached handles (no registry lookup or allocation per request),
//! rendered in the Prometheus text format for `GET /metrics`.

use std::sync::Arc;

use std::time::Duration;

use metrics::{
    describe_counter, describe_gauge, describe_histogram, Counter, Gauge, Histogram, Unit,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::limiter::Store;
use crate::policy::Verdict;

mod http;
mod minute;
mod reloads;
mod rls;
mod rules;
pub mod traces;
pub use http::{Refusal, ROUTES};
pub use minute::{RuleMinute, SLOTS as MINUTE_SLOTS};
pub use reloads::{ConfigFile, ReloadOutcome};
pub use rls::{RlsMetrics, RlsOutcome};

const DECISIONS: &str = "limiter_decisions_total";
const DECISION_SECONDS: &str = "limiter_decision_duration_seconds";
const BUCKETS: &str = "limiter_buckets";
const MAX_KEYS: &str = "limiter_max_keys";
const EVICTIONS: &str = "limiter_evictions_total";
const BAD_REQUESTS: &str = "limiter_bad_requests_total";
const SYNC_PUBLISHED: &str = "limiter_sync_published_total";
const SYNC_PUBLISH_FAILURES: &str = "limiter_sync_publish_failures_total";
const SYNC_RECEIVED: &str = "limiter_sync_received_total";
const SYNC_LAG: &str = "limiter_sync_lag_seconds";
const SYNC_DECODE_ERRORS: &str = "limiter_sync_decode_errors_total";
const SYNC_CLAMPED: &str = "limiter_sync_clock_skew_clamped_total";
const KAFKA_CONNECTED: &str = "limiter_kafka_connected";
const KAFKA_TOPIC_LOST: &str = "limiter_kafka_topic_lost_total";
const KAFKA_ERRORS: &str = "limiter_kafka_errors_total";
const SYNC_PENDING: &str = "limiter_sync_pending";
const BOOTSTRAP_SECONDS: &str = "limiter_bootstrap_duration_seconds";
const PARTITIONED: &str = "limiter_partitioned";
const CLUSTER_NODES: &str = "limiter_cluster_nodes";
const SHARE: &str = "limiter_limit_share";
const PARTITION_CHANGES: &str = "limiter_partition_changes_total";
const CONFIG_APPLIED: &str = "limiter_config_changes_applied_total";
const CONFIG_DECODE_ERRORS: &str = "limiter_config_decode_errors_total";
const CONFIG_REPUBLISHED: &str = "limiter_config_republished_total";
const TLS_RELOADS: &str = "limiter_tls_reloads_total";
const HTTP_REQUESTS: &str = "http_requests_total";
const HTTP_SECONDS: &str = "http_request_duration_seconds";

/// A recorder of this node's own: every node (several run in one test
/// process) counts and renders only what it recorded itself, so no node's
/// `/metrics` depends on another's traffic.
fn recorder() -> PrometheusRecorder {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(DECISION_SECONDS.into()),
            &[1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 1e-4, 1e-3],
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(HTTP_SECONDS.into()),
                &[5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1, 1.0],
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(SYNC_LAG.into()),
                &[
                    1e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            )
        })
        .expect("bucket lists are non-empty")
        .build_recorder();
    metrics::with_local_recorder(&recorder, describe);
    recorder
}

fn describe() {
    describe_decisions();
    describe_sync();
    describe_config();
}

fn describe_decisions() {
    describe_counter!(
        DECISIONS,
        "Rate-limit decisions, by rule and outcome (allowed, limited, shadow_limited)."
    );
    describe_histogram!(
        DECISION_SECONDS,
        Unit::Seconds,
        "Time to decide one request in the limiter core."
    );
    describe_gauge!(BUCKETS, "Buckets (keys) tracked in memory.");
    describe_gauge!(MAX_KEYS, "The cap on tracked keys (--max-keys).");
    describe_counter!(
        EVICTIONS,
        "Buckets dropped from memory: idle (full, nothing lost) or pressure (at the key cap before full)."
    );
    describe_counter!(BAD_REQUESTS, "Requests refused with 400, by error.");
    describe_counter!(HTTP_REQUESTS, "HTTP requests, by route and status.");
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "HTTP request handling time, by route."
    );
}

fn describe_sync() {
    describe_counter!(
        SYNC_PUBLISHED,
        "Bucket states (and tombstones) the broker acknowledged."
    );
    describe_counter!(
        SYNC_PUBLISH_FAILURES,
        "Publishes that failed, by action: retry (published again later) or give_up (the broker refuses the record)."
    );
    describe_gauge!(
        PARTITIONED,
        "1 while this node is cut off: its own heartbeat not back for --partition-after-ms (longer while round trips are slow), until it hears steadily again."
    );
    describe_counter!(
        PARTITION_CHANGES,
        "Times this node went cut off (to=\"cut_off\") or heard the cluster steadily again (to=\"connected\")."
    );
    describe_gauge!(
        CLUSTER_NODES,
        "Nodes this node hears heartbeats from, itself included."
    );
    describe_gauge!(
        SHARE,
        "Nodes each key's limit is shared by while cut off: admitted tokens cost this many (1 when connected)."
    );
    describe_counter!(SYNC_RECEIVED, "Peer bucket states merged into this node.");
    describe_histogram!(
        SYNC_LAG,
        Unit::Seconds,
        "Now minus the sender's sent_at for merged peer states."
    );
    describe_counter!(
        SYNC_DECODE_ERRORS,
        "Records on the topic skipped as undecodable, by kind."
    );
    describe_counter!(
        SYNC_CLAMPED,
        "Peer stamps further in the future than --max-clock-skew-ms, clamped."
    );
    describe_gauge!(
        KAFKA_CONNECTED,
        "1 while the broker answers, 0 while the node decides on its own."
    );
    describe_counter!(
        KAFKA_ERRORS,
        "Kafka connections refused for a cause the operator must fix, by cause: tls_ca, tls_client_cert, tls_closed, tls, sasl."
    );
    describe_counter!(
        KAFKA_TOPIC_LOST,
        "Topics this node had read that came back re-created (a Kafka rebuilt empty or restored), by topic (state, config)."
    );
    describe_gauge!(
        BOOTSTRAP_SECONDS,
        "Time spent reading the topic at start before ready."
    );
}

fn describe_config() {
    describe_counter!(
        CONFIG_APPLIED,
        "Rule and plan changes applied, by source (admin: made on this node; log: read from the config topic or file)."
    );
    describe_counter!(
        CONFIG_DECODE_ERRORS,
        "Records of the config topic or file skipped: undecodable, or beyond a bound (API keys)."
    );
    describe_counter!(
        CONFIG_REPUBLISHED,
        "Config records this node put back into a config topic that lacked them (after Kafka lost it, or from --data-dir)."
    );
    reloads::describe();
    describe_counter!(
        TLS_RELOADS,
        "TLS certificate reloads (files changed, or SIGHUP), by listener (http, grpc) and outcome (applied, refused)."
    );
}

/// Handles to every metric this node records.
pub struct Telemetry {
    /// Shared with the replication threads, which record on it too.
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    rule_counters: rules::RuleCounters,
    /// Per-rule decisions over the last minute, for the status page.
    minute: parking_lot::Mutex<minute::Minute>,
    decision_seconds: Histogram,
    buckets: Gauge,
    max_keys: Gauge,
    evicted_idle: Counter,
    evicted_pressure: Counter,
    http_requests: http::RequestCounters,
    http_seconds: Vec<Histogram>,
    http_refusals: http::RefusalCounters,
}

impl Telemetry {
    /// A recorder of this node's own, and its handles.
    pub fn new() -> Self {
        let recorder = Arc::new(recorder());
        let handle = recorder.handle();
        metrics::with_local_recorder(&*Arc::clone(&recorder), || Self {
            recorder,
            handle,
            rule_counters: Default::default(),
            minute: Default::default(),
            decision_seconds: metrics::histogram!(DECISION_SECONDS),
            buckets: metrics::gauge!(BUCKETS),
            max_keys: metrics::gauge!(MAX_KEYS),
            evicted_idle: metrics::counter!(EVICTIONS, "reason" => "idle"),
            evicted_pressure: metrics::counter!(EVICTIONS, "reason" => "pressure"),
            http_requests: Default::default(),
            http_seconds: ROUTES
                .iter()
                .map(|route| metrics::histogram!(HTTP_SECONDS, "route" => *route))
                .collect(),
            http_refusals: http::refusal_counters(),
        })
    }

    /// Runs `record` against this node's recorder (for series made on first use).
    fn local<T>(&self, record: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&*self.recorder, record)
    }

    /// Records a decision under the rules (`None`: no rule applied, allowed)
    /// and how long the core took to make it.
    pub fn verdict(&self, verdict: Option<&Verdict>, took: Duration) {
        self.count(verdict);
        self.decision_seconds.record(took);
    }

    /// Records how long the core took to make one decision.
    pub fn decision_time(&self, took: Duration) {
        self.decision_seconds.record(took);
    }

    /// A rule or plan change applied; `source` is `admin` or `log`.
    pub fn config_applied(&self, source: &'static str) {
        self.local(|| metrics::counter!(CONFIG_APPLIED, "source" => source).increment(1));
    }

    /// A config record skipped as undecodable.
    pub fn config_decode_error(&self) {
        self.local(|| metrics::counter!(CONFIG_DECODE_ERRORS).increment(1));
    }

    /// Config records put back into the config topic.
    pub fn config_republished(&self, records: usize) {
        self.local(|| metrics::counter!(CONFIG_REPUBLISHED).increment(records as u64));
    }

    /// A Kafka failure the operator must fix (`tls_ca`, `tls_client_cert`, `tls_closed`, `tls`, `sasl`).
    pub fn kafka_error(&self, cause: &'static str) {
        self.local(|| metrics::counter!(KAFKA_ERRORS, "cause" => cause).increment(1));
    }

    /// A topic this node had read came back re-created; `topic` is `state` or `config`.
    pub fn kafka_topic_lost(&self, topic: &'static str) {
        self.local(|| metrics::counter!(KAFKA_TOPIC_LOST, "topic" => topic).increment(1));
    }

    /// A reload of a listener's TLS files, applied or refused.
    pub fn tls_reload(&self, listener: &'static str, applied: bool) {
        let outcome = if applied { "applied" } else { "refused" };
        self.local(|| {
            metrics::counter!(TLS_RELOADS, "listener" => listener, "outcome" => outcome)
                .increment(1);
        });
    }

    /// Records a request refused as malformed; `error` is one of a fixed set of codes.
    pub fn bad_request(&self, error: &'static str) {
        self.local(|| metrics::counter!(BAD_REQUESTS, "error" => error).increment(1));
    }

    /// A publish the broker acknowledged.
    pub fn sync_published(&self) {
        self.local(|| metrics::counter!(SYNC_PUBLISHED).increment(1));
    }

    /// A publish that failed; `action` is `retry` or `give_up`.
    pub fn sync_publish_failed(&self, action: &'static str) {
        self.local(|| metrics::counter!(SYNC_PUBLISH_FAILURES, "action" => action).increment(1));
    }

    /// Whether this node is cut off, how many nodes it hears, and its share divisor.
    pub fn membership(&self, partitioned: bool, nodes: u32, share: u32) {
        self.local(|| metrics::gauge!(PARTITIONED).set(if partitioned { 1.0 } else { 0.0 }));
        self.local(|| metrics::gauge!(CLUSTER_NODES).set(f64::from(nodes)));
        self.local(|| metrics::gauge!(SHARE).set(f64::from(share)));
    }

    /// This node went cut off (`true`) or heard the cluster steadily again.
    pub fn partition_changed(&self, cut_off: bool) {
        let to = if cut_off { "cut_off" } else { "connected" };
        self.local(|| metrics::counter!(PARTITION_CHANGES, "to" => to).increment(1));
    }

    /// A peer state merged, `lag` after its sender published it.
    pub fn sync_received(&self, lag: Duration) {
        self.local(|| metrics::counter!(SYNC_RECEIVED).increment(1));
        self.local(|| metrics::histogram!(SYNC_LAG).record(lag));
    }

    /// A record skipped as undecodable; `kind` is one of a fixed set.
    pub fn sync_decode_error(&self, kind: &'static str) {
        self.local(|| metrics::counter!(SYNC_DECODE_ERRORS, "kind" => kind).increment(1));
    }

    /// A peer stamp clamped for clock skew.
    pub fn sync_clamped(&self) {
        self.local(|| metrics::counter!(SYNC_CLAMPED).increment(1));
    }

    /// Whether the broker answers.
    pub fn kafka_connected(&self, connected: bool) {
        self.local(|| metrics::gauge!(KAFKA_CONNECTED).set(if connected { 1.0 } else { 0.0 }));
    }

    /// Bootstrap finished after `took`.
    pub fn bootstrap_done(&self, took: Duration) {
        self.local(|| metrics::gauge!(BOOTSTRAP_SECONDS).set(took));
    }

    /// Folds recorded histogram samples into their buckets; run periodically so
    /// samples do not pile up between scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition, with the store's gauges brought up to date.
    pub fn render(&self, store: &Store) -> String {
        self.buckets.set(store.len() as f64);
        self.local(|| metrics::gauge!(SYNC_PENDING).set(store.pending_changes() as f64));
        self.max_keys.set(store.max_keys() as f64);
        let evictions = store.evictions();
        self.evicted_idle.absolute(evictions.idle);
        self.evicted_pressure.absolute(evictions.pressure);
        self.handle.render()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

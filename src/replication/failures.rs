//! Kafka failures only the operator can fix — a CA that does not sign the
//! broker's certificate, a client certificate the broker refuses, SASL
//! credentials it rejects — told apart from a broker that is merely away:
//! each cause is logged once at `error` with what to fix, and counted every
//! time. The node keeps deciding locally meanwhile, as with any broker down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::cluster::{ClusterView, KafkaProblem};
use crate::telemetry::Telemetry;

/// Why a secured connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cause {
    /// The broker's certificate is not signed by the CA the node trusts.
    TlsCa,
    /// The broker refused the node's client certificate (or its absence).
    TlsClientCert,
    /// The broker closed the connection right after the TLS handshake, with
    /// no alert: what a TLS proxy in front of it (nginx) does with a client
    /// certificate it did not get or trust, and also with a broker it cannot
    /// reach; librdkafka only logs it.
    TlsClosed,
    /// Another TLS failure: a broker not speaking TLS, an unreadable key.
    Tls,
    /// The broker refused the SASL login.
    Sasl,
}

impl Cause {
    const ALL: [Cause; 5] = [
        Cause::TlsCa,
        Cause::TlsClientCert,
        Cause::TlsClosed,
        Cause::Tls,
        Cause::Sasl,
    ];

    /// The metric's `cause` label.
    pub(super) fn label(self) -> &'static str {
        match self {
            Cause::TlsCa => "tls_ca",
            Cause::TlsClientCert => "tls_client_cert",
            Cause::TlsClosed => "tls_closed",
            Cause::Tls => "tls",
            Cause::Sasl => "sasl",
        }
    }

    /// What the operator should check.
    fn fix(self) -> &'static str {
        match self {
            Cause::TlsCa => "the broker's certificate is not trusted: set --kafka-ca-file to the CA that signed it",
            Cause::TlsClientCert => "the broker refused this node's client certificate: set --kafka-cert-file and --kafka-key-file to a pair signed by a CA the broker trusts",
            Cause::TlsClosed => "the broker closed the connection right after the TLS handshake: it may want a client certificate it did not get or does not trust (--kafka-cert-file, --kafka-key-file), or a TLS proxy in front of it cannot reach it",
            Cause::Tls => "TLS to the broker failed: check --kafka-security-protocol matches the listener, and the certificate files",
            Cause::Sasl => "the broker refused the SASL login: check --kafka-sasl-mechanism, --kafka-sasl-username and the password",
        }
    }
}

/// The cause of a client error, if it is one the operator must fix; `None`
/// for a broker that is away, a partition's end, and the like. Read from
/// librdkafka's text as well as its code: a refused handshake often comes as
/// a transport failure whose text tells OpenSSL's reason. (A broker's name
/// in the text, `sasl_ssl://host:9093/1`, names no cause.)
pub(super) fn cause(code: Option<RDKafkaErrorCode>, reason: &str) -> Option<Cause> {
    let reason = reason.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| reason.contains(n));
    if code == Some(RDKafkaErrorCode::Authentication)
        || has(&["sasl authentication", "authentication failed"])
    {
        return Some(Cause::Sasl);
    }
    if has(&["certificate verify failed", "unable to get local issuer"]) {
        return Some(Cause::TlsCa);
    }
    if has(&[
        "alert bad certificate",
        "alert certificate required",
        "alert unknown ca",
        "alert certificate unknown",
        "alert handshake failure",
    ]) {
        return Some(Cause::TlsClientCert);
    }
    if code == Some(RDKafkaErrorCode::SSL) || has(&["ssl handshake", "ssl transport"]) {
        return Some(Cause::Tls);
    }
    None
}

/// The cause a librdkafka log line tells and no error callback does: a TLS
/// connection the broker closed before answering the first request.
pub(super) fn logged_cause(facility: &str, message: &str) -> Option<Cause> {
    let closed = facility == "FAIL"
        && message.contains("SSL connection closed by peer")
        && message.contains("state APIVERSION_QUERY");
    closed.then_some(Cause::TlsClosed)
}

/// Where every client's context reports its errors.
pub(super) struct Failures {
    telemetry: Arc<Telemetry>,
    /// Shows the latest cause in `GET /v1/cluster` until the broker answers.
    cluster: Arc<ClusterView>,
    /// Whether each cause has been logged at `error` already.
    logged: [AtomicBool; Cause::ALL.len()],
}

impl Failures {
    pub(super) fn new(telemetry: Arc<Telemetry>, cluster: Arc<ClusterView>) -> Arc<Self> {
        Arc::new(Self {
            telemetry,
            cluster,
            logged: Default::default(),
        })
    }

    /// Counts `error` if it is one the operator must fix, and logs its
    /// cause the first time; every other error goes to debug (librdkafka
    /// retries, and the connected gauge tells of a broker away).
    pub(super) fn report(&self, error: &KafkaError, reason: &str) {
        let Some(cause) = cause(error.rdkafka_error_code(), reason) else {
            if !matches!(error, KafkaError::PartitionEOF(_)) {
                tracing::debug!(%error, reason, "kafka client error; librdkafka retries");
            }
            return;
        };
        self.count(cause, reason);
    }

    /// librdkafka's own log line, to a quiet log (see [`quiet_log`]); one
    /// that tells a cause is counted and logged as such.
    pub(super) fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        match logged_cause(facility, message) {
            Some(cause) => self.count(cause, message),
            None => quiet_log(level, facility, message),
        }
    }

    fn count(&self, cause: Cause, reason: &str) {
        self.telemetry.kafka_error(cause.label());
        self.cluster.refused(KafkaProblem {
            cause: cause.label(),
            fix: cause.fix(),
        });
        let index = Cause::ALL.iter().position(|c| *c == cause).unwrap_or(0);
        if !self.logged[index].swap(true, Ordering::Relaxed) {
            tracing::error!(cause = cause.label(), reason, "kafka: {}", cause.fix());
        } else {
            tracing::debug!(cause = cause.label(), reason, "kafka client error");
        }
    }
}

/// librdkafka's lines to debug, except the severe ones.
fn quiet_log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
            tracing::error!(facility, "librdkafka: {message}")
        }
        _ => tracing::debug!(facility, "librdkafka: {message}"),
    }
}

#[cfg(test)]
#[path = "failures_tests.rs"]
mod tests;

//! The node's Envoy rate-limit service: started beside the HTTP server when
//! `--grpc-listen` is set.

use std::sync::Arc;

use super::Parts;
use crate::clock::Clock;
use crate::rls::{self, RlsServer};
use crate::settings::Config;
use crate::tls::ListenerTls;

/// The Envoy rate-limit service, when `--grpc-listen` is set.
pub(super) fn start_rls(
    config: &Config,
    parts: &Parts,
    clock: &Arc<dyn Clock>,
    tls: Option<Arc<ListenerTls>>,
) -> std::io::Result<Option<RlsServer>> {
    let Some(addr) = config.grpc_listen else {
        return Ok(None);
    };
    if config.descriptors.is_none() {
        tracing::warn!("--grpc-listen without --rls-config: every descriptor is within limits");
    }
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("grpc-listen: cannot listen on {addr}: {e}"),
        )
    })?;
    let mut limiter = rls::limiter(
        Arc::clone(&parts.store),
        Arc::clone(&parts.policy),
        Arc::clone(clock),
        Arc::clone(&parts.telemetry),
        config
            .http
            .decision_token
            .clone()
            .map(|token| Box::new(token) as Box<dyn rls::DecisionToken>),
        parts.traces.clone(),
    );
    limiter.response_metadata = config.rls_response_metadata;
    limiter.answers = config.rls_answers.clone();
    limiter.counting = config.rls_counting;
    RlsServer::start(listener, limiter, config.workers.get(), tls).map(Some)
}

/// The rate-limit service checks the decision token through the settings'
/// secret, compared in constant time.
impl rls::DecisionToken for crate::settings::Secret {
    fn matches(&self, presented: &[u8]) -> bool {
        crate::settings::Secret::matches(self, presented)
    }
}

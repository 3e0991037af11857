//! Settings of the ways proxies call a node: the Envoy rate-limit service's
//! gRPC address (its files and answers are in `rls.rs`), the header naming
//! the user on `/v1/forward-auth`, and the gateway file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::header::HeaderName;

use super::ConfigError;
use crate::gateway::identity::TrustedProxies;
use crate::gateway::Gateway;

/// The forward-auth user header: a valid header name.
pub(super) fn user_header(name: &str) -> Result<HeaderName, ConfigError> {
    HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
        ConfigError::new(
            "forward-auth-user-header",
            format!("`{name}` is not a valid header name"),
        )
    })
}

/// The gateway file, read and validated now (a bad one refuses the start),
/// believing `X-Forwarded-For` from `trusted` proxies only.
pub(super) fn gateway(
    path: Option<PathBuf>,
    trusted: &[String],
) -> Result<Option<Arc<Gateway>>, ConfigError> {
    let proxies = TrustedProxies::parse(trusted)
        .map_err(|e| ConfigError::new("trusted-proxies", e.to_string()))?;
    path.map(|path| {
        Gateway::load(&path, proxies)
            .map(Arc::new)
            .map_err(|e| ConfigError::new("gateway", e.to_string()))
    })
    .transpose()
}

pub(super) fn grpc_listen(text: Option<String>) -> Result<Option<SocketAddr>, ConfigError> {
    text.map(|text| {
        text.parse().map_err(|_| {
            ConfigError::new(
                "grpc-listen",
                format!("`{text}` is not an address like 0.0.0.0:8081"),
            )
        })
    })
    .transpose()
}

//! Settings of the ways proxies call a node: the Envoy rate-limit service's
//! gRPC address and envoyproxy/ratelimit YAML files (one file, or every
//! `.yaml`/`.yml` file of a directory, as envoyproxy/ratelimit reads its
//! runtime directory), the header naming the user on `/v1/forward-auth`, and
//! the gateway file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::http::header::HeaderName;

use super::ConfigError;
use crate::gateway::identity::TrustedProxies;
use crate::gateway::Gateway;
use crate::policy::algorithm::AlgorithmDefaults;
use crate::policy::descriptors::yaml::Domains;
use crate::rls::files::{load_descriptors, DescriptorSource};

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

/// The descriptor files, read and validated now; with `merge`, a domain may
/// be configured in several of them.
pub(super) fn source(
    path: Option<PathBuf>,
    merge: bool,
    defaults: AlgorithmDefaults,
) -> Result<Option<DescriptorSource>, ConfigError> {
    let domains = match merge {
        true => Domains::Merge,
        false => Domains::Unique,
    };
    path.map(|path| {
        let set = load_descriptors(&path, domains, defaults)
            .map_err(|e| ConfigError::new("rls-config", e.to_string()))?;
        Ok(DescriptorSource {
            path,
            domains,
            set: Arc::new(set),
            defaults,
        })
    })
    .transpose()
}

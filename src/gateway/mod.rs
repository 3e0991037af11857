//! Gateway mode: the node in front of upstream services — it identifies the
//! caller, limits, and forwards what is allowed. This is its core, read from
//! the gateway file (`--gateway FILE`): the routes to upstreams, how requests
//! are spread over them, and who the caller is. The HTTP side (forwarding)
//! is `http_api::gateway`.
//!
//! - [`routes`]: path prefix (and host, methods) → upstreams.
//! - [`balance`]: round-robin with passive health.
//! - [`path`]: the one canonical form of a request path (or a refusal).
//! - [`tls`]: what `https://` upstreams are verified against.
//! - [`identity`]: who the caller is (trusted header, API key, JWT, client IP),
//!   per route, first match wins.
//! - [`live`]: the gateway in effect, replaced whole on a reload (SIGHUP).

pub mod balance;
pub mod identity;
pub mod live;
pub mod path;
pub mod routes;
pub mod tls;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::pki_types::CertificateDer;
use rustls::ClientConfig;
use serde::Deserialize;

use balance::{Balancer, DEFAULT_COOL_DOWN};
use identity::jwks::Jwks;
use identity::{
    Headers, Identifier, Identity, IdentityConfig, IdentityError, KeyHash, LiveKeys, Methods,
    TrustedProxies,
};
use routes::{Route, RouteFile, Routes};

/// The gateway file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    /// How long an upstream that refused a connection is skipped.
    upstream_cool_down_ms: Option<u64>,
    /// CA certificates (PEM) `https://` upstreams may be signed by, beside the public roots.
    upstream_ca_file: Option<PathBuf>,
    /// How callers are identified (methods' settings).
    identity: Option<IdentityConfig>,
    #[serde(default)]
    routes: Vec<RouteFile>,
}

/// TLS settings for upstreams, and the extra CA certificates they trust.
type UpstreamTls = (Arc<ClientConfig>, Vec<CertificateDer<'static>>);

/// The routes in effect, the state of their upstreams, and how their callers are identified.
#[derive(Debug)]
pub struct Gateway {
    routes: Routes,
    /// One per route, in the routes' order.
    balancers: Vec<Balancer>,
    /// One per route, in the routes' order.
    methods: Vec<Methods>,
    identifier: Identifier,
    /// The file it was read from, read again on a reload.
    source: Option<PathBuf>,
    /// What TLS to `https://` upstreams trusts, and the extra CAs it was
    /// made with (to tell whether a reload changed it); `None` when no route
    /// has one.
    upstream_tls: Option<UpstreamTls>,
}

/// Why a gateway file was not taken: at start-up the node does not start;
/// on a reload the gateway in effect stays.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not a valid gateway file: the route (or table) and field, and why.
    #[error("{0}")]
    Invalid(String),
    /// TLS to upstreams cannot be set up (the CA file).
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// An error in the file at `path`.
    #[error("{}: {error}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        error: Box<GatewayError>,
    },
    /// A reload of a gateway that was not read from a file.
    #[error("this gateway was not read from a file")]
    NotFromFile,
    /// The task reading the file again stopped.
    #[error("the read stopped: {0}")]
    ReadStopped(String),
    /// A reload's JWKS from a new source could not be read.
    #[error("the new JWKS could not be read: {0}")]
    Keys(#[source] identity::jwks::JwksError),
    /// A reload's JWKS from a new source holds no usable key.
    #[error("the new JWKS holds no usable key")]
    NoUsableKey,
}

impl Gateway {
    /// Parses and validates a gateway file's text, believing `X-Forwarded-For`
    /// from `proxies` only; the error names the route (or table) and field.
    pub fn parse(text: &str, proxies: TrustedProxies) -> Result<Self, GatewayError> {
        let invalid = |e: &dyn std::fmt::Display| GatewayError::Invalid(e.to_string());
        let file: GatewayFile = toml::from_str(text).map_err(|e| invalid(&e.message()))?;
        if file.routes.is_empty() {
            return Err(invalid(&"`routes`: at least one route"));
        }
        let cool_down = file
            .upstream_cool_down_ms
            .map_or(DEFAULT_COOL_DOWN, Duration::from_millis);
        let identifier = file
            .identity
            .unwrap_or_default()
            .validate(proxies, |name| std::env::var(name).ok())
            .map_err(|e| invalid(&e))?;
        let routes = Routes::new(file.routes).map_err(|e| invalid(&e))?;
        let methods = routes
            .routes()
            .iter()
            .map(|route| match &route.identity {
                Some(names) => identifier
                    .methods(&format!("route {:?}: identity", route.name), names)
                    .map_err(|e| invalid(&e)),
                None => Ok(identifier.default_methods.clone()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let balancers = routes
            .routes()
            .iter()
            .map(|r| Balancer::new(r.upstreams.len(), cool_down))
            .collect();
        let upstream_tls = upstream_tls(&routes, file.upstream_ca_file.as_deref())?;
        Ok(Self {
            routes,
            balancers,
            methods,
            identifier,
            source: None,
            upstream_tls,
        })
    }

    /// Reads `path` (see [`Gateway::parse`]).
    pub fn load(path: &Path, proxies: TrustedProxies) -> Result<Self, GatewayError> {
        let text =
            crate::config_files::read_text(path).map_err(|source| GatewayError::Unreadable {
                path: path.to_path_buf(),
                source,
            })?;
        let mut gateway = Self::parse(&text, proxies).map_err(|e| GatewayError::InFile {
            path: path.to_path_buf(),
            error: Box::new(e),
        })?;
        gateway.source = Some(path.to_path_buf());
        Ok(gateway)
    }

    /// The file this gateway was read from (`None`: parsed from text).
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Reads this gateway's file again, with the same trusted proxies
    /// (blocking: file I/O). A JWKS with the same source and refresh period
    /// is carried over with its refresher, so a reload never empties it: it
    /// takes the file's keys as just read, or fetches its URL again.
    pub fn reread(&self) -> Result<Self, GatewayError> {
        let path = self.source.as_ref().ok_or(GatewayError::NotFromFile)?;
        let mut new = Self::load(path, self.identifier.proxies.clone())?;
        // The same trust keeps the same settings, so workers keep their
        // clients and pooled connections.
        if let (Some(fresh), Some(old)) = (&mut new.upstream_tls, &self.upstream_tls) {
            if fresh.1 == old.1 {
                fresh.0 = Arc::clone(&old.0);
            }
        }
        let old = self.identifier.jwt.as_ref().and_then(|j| j.jwks.as_ref());
        if let Some(jwt) = new.identifier.jwt.as_mut() {
            if let (Some(fresh), Some(old)) = (&jwt.jwks, old) {
                if fresh.same_as(old) {
                    old.renew_from(fresh);
                    jwt.jwks = Some(Arc::clone(old));
                }
            }
        }
        Ok(new)
    }

    /// The route (and its position) for a request, if any.
    pub fn find(&self, host: Option<&str>, method: &str, path: &str) -> Option<(usize, &Route)> {
        self.routes.find(host, method, path)
    }

    /// Identifies the caller of a request for the route at `index`; `live`
    /// finds API keys beyond the gateway file's (the admin API's).
    pub fn identify<H: Headers + ?Sized>(
        &self,
        index: usize,
        headers: &H,
        peer: IpAddr,
        now: SystemTime,
        live: &LiveKeys<'_>,
    ) -> Result<Identity, IdentityError> {
        self.identifier
            .identify_with(&self.methods[index], headers, peer, now, live)
    }

    /// Whether the gateway file lists the key whose hash is `hash`.
    pub fn has_file_key(&self, hash: &KeyHash) -> bool {
        self.identifier.api_key.keys.contains(hash)
    }

    /// Whether the JWKS (if any) has had its first fetch: a node is not
    /// ready before, or it would refuse valid tokens as signed by an unknown key.
    pub fn keys_tried(&self) -> bool {
        let jwt = self.identifier.jwt.as_ref();
        jwt.and_then(|j| j.jwks.as_ref())
            .is_none_or(|jwks| jwks.tried())
    }

    /// Whether `peer` is a trusted proxy (its `X-Forwarded-*` are believed).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.identifier.proxies.contains(peer)
    }

    /// The trusted header naming the user and the API-key header, lowercase:
    /// the one is set to the verified caller upstream, the other not passed on.
    pub fn credential_headers(&self) -> (&str, &str) {
        (
            &self.identifier.header.name,
            &self.identifier.api_key.header,
        )
    }

    /// The JWKS to keep fresh (a task runs [`Jwks::run`]), if JWTs are checked with one.
    pub fn jwks(&self) -> Option<Arc<Jwks>> {
        self.identifier.jwt.as_ref()?.jwks.clone()
    }

    /// The route at `index` (as [`Gateway::find`] gave it).
    pub fn route(&self, index: usize) -> &Route {
        &self.routes.routes()[index]
    }

    /// The balancer of the route at `index`.
    pub fn balancer(&self, index: usize) -> &Balancer {
        &self.balancers[index]
    }

    /// The TLS settings for `https://` upstreams, if any route has one.
    pub fn upstream_tls(&self) -> Option<&Arc<ClientConfig>> {
        self.upstream_tls.as_ref().map(|(config, _)| config)
    }
}

/// TLS settings when some upstream is `https://`. The CA file is read and
/// checked either way: a bad one refuses the start even before it is needed.
fn upstream_tls(
    routes: &Routes,
    ca_file: Option<&Path>,
) -> Result<Option<UpstreamTls>, GatewayError> {
    let extra = ca_file.map(tls::read_ca_file).transpose()?;
    let any_tls = routes
        .routes()
        .iter()
        .any(|r| r.upstreams.iter().any(|u| u.tls));
    any_tls
        .then(|| {
            let extra = extra.unwrap_or_default();
            tls::client_config(extra.clone())
                .map(|config| (config, extra))
                .map_err(GatewayError::from)
        })
        .transpose()
}

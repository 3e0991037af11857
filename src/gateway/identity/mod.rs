//! Who is calling: the caller-identity layer of gateway mode (and, later, of
//! `/v1/forward-auth`). Pure of HTTP frameworks: headers come through the
//! small [`Headers`] trait and the connection's peer as an [`IpAddr`].
//!
//! A route lists identity [`Method`]s in order — a trusted header, an API key,
//! a JWT bearer token, the client IP — and the first that finds its
//! credential decides.
//!
//! **Present but invalid never falls through.** Each method first looks for
//! its credential. Only if it is *absent* is the next method tried. If it is
//! present, it decides: valid, the caller is identified; invalid (expired,
//! bad signature, unknown key, malformed…), the request is refused with that
//! error and no later method is tried. Otherwise a caller could send a
//! broken token and be let through by a weaker method (say, `ip`).
//!
//! **`Authorization: Bearer`** carries JWTs, and API keys too when the API-key
//! method is configured with `bearer = true`. If a route lists both methods,
//! a value shaped like a JWT (three base64url parts) is the JWT method's and
//! any other value the API-key method's; if it lists one of them, that one
//! takes every bearer value. Another scheme (`Basic …`) is no credential of
//! ours: it counts as absent.

pub mod api_keys;
pub mod claims;
pub mod client_ip;
pub mod config;
mod error;
pub mod jwks;
pub mod jwt;

use std::net::IpAddr;

use compact_str::CompactString;

pub use api_keys::{hash_key, ApiKeys, KeyHash, KeyOwner};
pub use client_ip::{client_ip, TrustedProxies};
pub use config::{IdentityConfig, IdentityConfigError};
pub use error::IdentityError;
use jwt::{looks_like_jwt, JwtVerifier, BEARER};

/// The request headers, as the identity layer reads them (an adapter over
/// the HTTP framework's header map).
pub trait Headers {
    /// Every value of header `name` (given in lowercase), in the order received.
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's;
}

impl<N: AsRef<str>, V: AsRef<[u8]>> Headers for [(N, V)] {
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s [u8]> + 's {
        self.iter()
            .filter(move |(n, _)| n.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// A way to identify the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// A header set by a trusted front (default `X-User-ID`).
    Header,
    /// An API key (default header `X-API-Key`).
    ApiKey,
    /// A JWT in `Authorization: Bearer`.
    Jwt,
    /// The client IP (never absent: a route ending in it always identifies).
    Ip,
}

impl Method {
    /// Every method, by its configuration name.
    pub const ALL: [(&'static str, Method); 4] = [
        ("header", Method::Header),
        ("api_key", Method::ApiKey),
        ("jwt", Method::Jwt),
        ("ip", Method::Ip),
    ];

    /// The configuration name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |(n, _)| n)
    }
}

/// A route's methods, in order: non-empty, each at most once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Methods(Vec<Method>);

impl Methods {
    /// The methods in order.
    pub fn as_slice(&self) -> &[Method] {
        &self.0
    }

    fn has(&self, method: Method) -> bool {
        self.0.contains(&method)
    }
}

/// Who the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user (for the `ip` method, the client IP as text).
    pub user: CompactString,
    /// The plan, if the credential says.
    pub plan: Option<CompactString>,
    /// The tenant, if the credential says.
    pub tenant: Option<CompactString>,
    /// The client IP (see [`client_ip`]), whatever the method.
    pub ip: IpAddr,
    /// The method that identified the caller.
    pub method: Method,
}

/// What a credential says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The user.
    pub user: CompactString,
    /// The plan, if said.
    pub plan: Option<CompactString>,
    /// The tenant, if said.
    pub tenant: Option<CompactString>,
}

/// The trusted header's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderMethod {
    /// The header's name, lowercase.
    pub name: String,
}

/// The API-key method's settings.
#[derive(Clone, Debug)]
pub struct ApiKeyMethod {
    /// The header read, lowercase.
    pub header: String,
    /// Whether `Authorization: Bearer <key>` is read too.
    pub bearer: bool,
    /// The known keys.
    pub keys: ApiKeys,
}

/// Every method's settings: identifies callers for any route's [`Methods`].
#[derive(Clone, Debug)]
pub struct Identifier {
    /// The trusted header.
    pub header: HeaderMethod,
    /// API keys.
    pub api_key: ApiKeyMethod,
    /// JWTs, if configured.
    pub jwt: Option<JwtVerifier>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub proxies: TrustedProxies,
    /// The methods of a route that does not list its own.
    pub default_methods: Methods,
}

mod identify;
pub use identify::LiveKeys;

#[cfg(test)]
#[path = "testkit_tests.rs"]
mod testkit;

#[cfg(test)]
#[path = "identify_tests.rs"]
mod identify_tests;

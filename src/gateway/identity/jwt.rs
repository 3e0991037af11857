//! JWT bearer tokens: HS256 with a shared secret, RS256 and ES256 with keys
//! from a JWKS ([`super::jwks`]). The header is read first (`alg: none` and
//! any algorithm not configured are refused before any key is touched), then
//! the signature is verified, and only then are the claims read and checked
//! ([`super::claims`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::claims::{self, ClaimRules};
use super::error::{shown, IdentityError};
use super::jwks::{Jwks, Lookup};
use super::Found;

/// How the error names a bearer token.
pub const BEARER: &str = "bearer token";
/// Default longest token accepted, in bytes.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The algorithms that can be configured.
pub const ALGORITHMS: &[(&str, Algorithm)] = &[
    ("HS256", Algorithm::HS256),
    ("RS256", Algorithm::RS256),
    ("ES256", Algorithm::ES256),
];

/// The HS256 secret; never shown.
#[derive(Clone)]
pub struct Secret(DecodingKey);

impl Secret {
    /// A secret of these bytes.
    pub fn new(bytes: &[u8]) -> Self {
        Self(DecodingKey::from_secret(bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Verifies tokens as configured.
#[derive(Clone, Debug)]
pub struct JwtVerifier {
    /// The algorithms accepted (a subset of [`ALGORITHMS`]).
    pub algorithms: Vec<Algorithm>,
    /// The HS256 secret, if HS256 is accepted.
    pub secret: Option<Secret>,
    /// The RS256/ES256 keys, if either is accepted.
    pub jwks: Option<Arc<Jwks>>,
    /// Longest token accepted, in bytes.
    pub max_token_bytes: usize,
    /// What the claims must say.
    pub claims: ClaimRules,
}

/// The part of a JOSE header we read.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

impl JwtVerifier {
    /// The identity in `token` at wall-clock time `now`.
    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Found, IdentityError> {
        if token.len() > self.max_token_bytes {
            return Err(IdentityError::malformed(
                BEARER,
                format!("longer than {} bytes", self.max_token_bytes),
            ));
        }
        let (message, signature) = token
            .rsplit_once('.')
            .filter(|(message, _)| message.bytes().filter(|b| *b == b'.').count() == 1)
            .ok_or_else(|| IdentityError::malformed(BEARER, "not a JWT (three parts)"))?;
        let (header, payload) = message.split_once('.').unwrap_or_default();
        let header: Header = decode_part(header, "header")?;
        if header.crit.is_some() {
            return Err(IdentityError::malformed(
                BEARER,
                "critical header extensions (crit) are not supported",
            ));
        }
        let alg = self.algorithm(&header.alg)?;
        let key = self.key(alg, header.kid.as_deref())?;
        match jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, alg) {
            Ok(true) => {}
            Ok(false) => return Err(IdentityError::BadSignature),
            Err(e) => return Err(IdentityError::malformed(BEARER, format!("signature: {e}"))),
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| IdentityError::malformed(BEARER, "the payload is not base64url"))?;
        claims::check(&self.claims, &claims::parse(&payload, BEARER)?, now)
    }

    /// The configured algorithm `name` names; `none` and the others refused.
    fn algorithm(&self, name: &str) -> Result<Algorithm, IdentityError> {
        ALGORITHMS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, alg)| *alg)
            .filter(|alg| self.algorithms.contains(alg))
            .ok_or_else(|| IdentityError::AlgorithmNotAllowed(shown(name)))
    }

    /// The key to verify an `alg` token naming `kid` with.
    fn key(&self, alg: Algorithm, kid: Option<&str>) -> Result<DecodingKey, IdentityError> {
        if alg == Algorithm::HS256 {
            return self
                .secret
                .as_ref()
                .map(|s| s.0.clone())
                .ok_or_else(|| IdentityError::AlgorithmNotAllowed("HS256".into()));
        }
        let jwks = self
            .jwks
            .as_ref()
            .ok_or_else(|| IdentityError::AlgorithmNotAllowed(format!("{alg:?}")))?;
        let keys = jwks.keys();
        match keys.lookup(kid, alg) {
            Lookup::Found(key) if key.alg == alg => Ok(key.key.clone()),
            Lookup::Found(key) => Err(IdentityError::AlgorithmNotAllowed(format!(
                "{alg:?} with key {} (an {:?} key)",
                kid.map_or_else(|| "(no kid)".to_string(), shown),
                key.alg
            ))),
            Lookup::Unknown => {
                jwks.request_refetch(Instant::now());
                Err(IdentityError::UnknownKey(match kid {
                    Some(kid) => format!("no key with kid {} in the JWKS", shown(kid)),
                    None => "the token names no key (kid) and the JWKS has no single key for it"
                        .to_string(),
                }))
            }
        }
    }
}

/// A base64url JSON part of a token.
fn decode_part<T: serde::de::DeserializeOwned>(part: &str, what: &str) -> Result<T, IdentityError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| IdentityError::malformed(BEARER, format!("the {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| {
        IdentityError::malformed(BEARER, format!("the {what} is not the JSON of a JWT"))
    })
}

/// Whether a bearer value looks like a JWT (three base64url parts), which
/// tells a token from an API key when both come as `Authorization: Bearer`.
pub fn looks_like_jwt(value: &str) -> bool {
    value.split('.').count() == 3
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
#[path = "jwt_tests.rs"]
mod tests;

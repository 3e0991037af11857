//! `[identity.jwt]` as written, validated into a [`JwtVerifier`]: algorithms,
//! the HS256 secret (inline, from an environment variable or from a file), the JWKS file
//! or URL, and the claim rules.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use super::IdentityConfigError;
use crate::gateway::identity::claims::{ClaimRules, DEFAULT_LEEWAY_SECS};
use crate::gateway::identity::jwks::{Jwks, JwksSource};
use crate::gateway::identity::jwt::{JwtVerifier, Secret, ALGORITHMS, DEFAULT_MAX_TOKEN_BYTES};

/// Default JWKS refresh interval, in seconds.
pub const DEFAULT_JWKS_REFRESH_SECS: u64 = 300;
/// Shortest HS256 secret, in bytes (RFC 7518: a key as long as the hash).
pub const MIN_SECRET_BYTES: usize = 32;

/// One string or a list of them.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// `[identity.jwt]`. `Debug` never shows the secret.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Accepted algorithms: HS256, RS256, ES256.
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    /// The HS256 secret, inline.
    #[serde(default)]
    pub secret: Option<String>,
    /// The environment variable holding the HS256 secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// A file whose first line is the HS256 secret (read again with the gateway file).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// A JWKS file.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL (http or https).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Seconds between JWKS refreshes (default 300).
    #[serde(default)]
    pub jwks_refresh_secs: Option<u64>,
    /// Clock skew allowed on `exp`/`nbf`, in seconds (default 30).
    #[serde(default)]
    pub leeway_secs: Option<u64>,
    /// Accepted issuers.
    #[serde(default)]
    pub issuer: Option<OneOrMany>,
    /// Accepted audiences.
    #[serde(default)]
    pub audience: Option<OneOrMany>,
    /// The user claim (default `sub`).
    #[serde(default)]
    pub user_claim: Option<String>,
    /// The plan claim.
    #[serde(default)]
    pub plan_claim: Option<String>,
    /// The tenant claim.
    #[serde(default)]
    pub tenant_claim: Option<String>,
    /// Longest token, in bytes (default 8192).
    #[serde(default)]
    pub max_token_bytes: Option<usize>,
}

impl fmt::Debug for JwtConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtConfig")
            .field("algorithms", &self.algorithms)
            .field("secret", &self.secret.as_ref().map(|_| ".."))
            .field("secret_env", &self.secret_env)
            .field("secret_file", &self.secret_file)
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .finish_non_exhaustive()
    }
}

fn err(field: &str, reason: impl ToString) -> IdentityConfigError {
    IdentityConfigError::new(format!("jwt.{field}"), reason)
}

/// The first line of the secret file at `path` (a trailing newline is not
/// part of the secret); the error names the file, never what it holds.
fn first_line(path: &std::path::Path) -> Result<String, IdentityConfigError> {
    crate::config_files::first_line(path).map_err(|e| {
        err(
            "secret_file",
            format!("cannot read {}: {e}", path.display()),
        )
    })
}

impl JwtConfig {
    /// Validates; `env` reads `secret_env`.
    pub fn validate(
        self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<JwtVerifier, IdentityConfigError> {
        let secret = self.secret(env)?;
        let jwks = self.jwks()?;
        let algorithms = self.algorithms(secret.is_some(), jwks.is_some())?;
        // A JWKS no algorithm uses would still be fetched, and hold readiness.
        if jwks.is_some() && algorithms.iter().all(|a| *a == Algorithm::HS256) {
            let field = if self.jwks_url.is_some() {
                "jwks_url"
            } else {
                "jwks_file"
            };
            return Err(err(
                field,
                "no algorithm uses it: add RS256 or ES256 to `algorithms`, or leave it out",
            ));
        }
        let claims = self.claim_rules()?;
        let max_token_bytes = self.max_token_bytes.unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        if !(64..=65_536).contains(&max_token_bytes) {
            return Err(err("max_token_bytes", "must be 64-65536"));
        }
        Ok(JwtVerifier {
            secret: algorithms
                .contains(&Algorithm::HS256)
                .then_some(secret)
                .flatten(),
            jwks,
            algorithms,
            max_token_bytes,
            claims,
        })
    }

    fn secret(
        &self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Secret>, IdentityConfigError> {
        let given = [
            self.secret.is_some(),
            self.secret_env.is_some(),
            self.secret_file.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(err(
                "secret",
                "set one of `secret`, `secret_env` or `secret_file`",
            ));
        }
        let (field, secret) = match (&self.secret, &self.secret_env, &self.secret_file) {
            (Some(secret), _, _) => ("secret", secret.clone()),
            (_, Some(var), _) => (
                "secret_env",
                env(var).ok_or_else(|| {
                    err(
                        "secret_env",
                        format!("environment variable {var} is not set"),
                    )
                })?,
            ),
            (_, _, Some(path)) => ("secret_file", first_line(path)?),
            (None, None, None) => return Ok(None),
        };
        if secret.len() < MIN_SECRET_BYTES {
            return Err(err(
                field,
                format!("the secret must be at least {MIN_SECRET_BYTES} bytes"),
            ));
        }
        Ok(Some(Secret::new(secret.as_bytes())))
    }

    fn jwks(&self) -> Result<Option<Arc<Jwks>>, IdentityConfigError> {
        let refresh = self.jwks_refresh_secs.unwrap_or(DEFAULT_JWKS_REFRESH_SECS);
        if refresh == 0 {
            return Err(err("jwks_refresh_secs", "must be at least 1"));
        }
        let source = match (&self.jwks_file, &self.jwks_url) {
            (Some(_), Some(_)) => {
                return Err(err("jwks_url", "set `jwks_file` or `jwks_url`, not both"))
            }
            (None, None) => return Ok(None),
            (Some(path), None) => JwksSource::File(path.clone()),
            (None, Some(url)) if url.starts_with("https://") || url.starts_with("http://") => {
                JwksSource::Url(url.clone())
            }
            (None, Some(url)) => {
                return Err(err("jwks_url", format!("`{url}` is not an http(s) URL")))
            }
        };
        let jwks = Jwks::new(source, Duration::from_secs(refresh));
        if let JwksSource::File(path) = jwks.source() {
            let keys = jwks.fetch_blocking().map_err(|e| err("jwks_file", e))?;
            if keys.is_empty() {
                return Err(err(
                    "jwks_file",
                    format!("{} holds no RS256 or ES256 key", path.display()),
                ));
            }
            jwks.replace(keys);
        }
        Ok(Some(Arc::new(jwks)))
    }

    fn algorithms(&self, secret: bool, jwks: bool) -> Result<Vec<Algorithm>, IdentityConfigError> {
        let Some(names) = &self.algorithms else {
            let mut default = Vec::new();
            if secret {
                default.push(Algorithm::HS256);
            }
            if jwks {
                default.extend([Algorithm::RS256, Algorithm::ES256]);
            }
            if default.is_empty() {
                return Err(err("secret_env", "set `secret_env` (or `secret`) for HS256, or `jwks_url` (or `jwks_file`) for RS256/ES256"));
            }
            return Ok(default);
        };
        if names.is_empty() {
            return Err(err(
                "algorithms",
                "list at least one of HS256, RS256, ES256",
            ));
        }
        let mut algorithms = Vec::new();
        for name in names {
            let alg = ALGORITHMS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, a)| *a)
                .ok_or_else(|| {
                    err(
                        "algorithms",
                        format!("`{name}` is not one of HS256, RS256, ES256"),
                    )
                })?;
            if alg == Algorithm::HS256 && !secret {
                return Err(err("algorithms", "HS256 needs `secret_env` or `secret`"));
            }
            if alg != Algorithm::HS256 && !jwks {
                return Err(err(
                    "algorithms",
                    format!("{name} needs `jwks_url` or `jwks_file`"),
                ));
            }
            algorithms.push(alg);
        }
        Ok(algorithms)
    }

    fn claim_rules(&self) -> Result<ClaimRules, IdentityConfigError> {
        let claim =
            |field: &str, name: &Option<String>| -> Result<Option<String>, IdentityConfigError> {
                match name {
                    Some(name) if name.is_empty() || name.len() > 64 => {
                        Err(err(field, "must be a claim name of 1-64 bytes"))
                    }
                    other => Ok(other.clone()),
                }
            };
        let list =
            |field: &str, list: &Option<OneOrMany>| -> Result<Vec<String>, IdentityConfigError> {
                let list = list.clone().map(OneOrMany::into_vec).unwrap_or_default();
                match list.iter().any(String::is_empty) || (self.has(field) && list.is_empty()) {
                    true => Err(err(field, "must be a non-empty string or list of them")),
                    false => Ok(list),
                }
            };
        Ok(ClaimRules {
            leeway_secs: self.leeway_secs.unwrap_or(DEFAULT_LEEWAY_SECS),
            issuers: list("issuer", &self.issuer)?,
            audiences: list("audience", &self.audience)?,
            user_claim: claim("user_claim", &self.user_claim)?.unwrap_or_else(|| "sub".to_string()),
            plan_claim: claim("plan_claim", &self.plan_claim)?,
            tenant_claim: claim("tenant_claim", &self.tenant_claim)?,
        })
    }

    fn has(&self, field: &str) -> bool {
        match field {
            "issuer" => self.issuer.is_some(),
            _ => self.audience.is_some(),
        }
    }
}

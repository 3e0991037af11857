//! The `[identity]` table of the gateway file, read with serde and validated
//! into an [`Identifier`] with errors that name the field:
//!
//! ```toml
//! [identity]
//! methods = ["jwt", "api_key", "ip"]   # routes that do not say; first match wins
//!
//! [identity.header]
//! name = "X-User-ID"                   # the default
//!
//! [identity.api_key]
//! header = "X-API-Key"                 # the default
//! bearer = false                       # also read `Authorization: Bearer <key>`
//! keys = [
//!   { hash = "sha256:…64 hex…", user = "alice", plan = "pro" },
//! ]
//!
//! [identity.jwt]
//! algorithms = ["HS256", "RS256"]      # default: HS256 with a secret, RS256 and ES256 with a JWKS
//! secret_env = "JWT_SECRET"            # or `secret = "…"` or `secret_file = "…"` (HS256; at least 32 bytes)
//! jwks_url = "https://id.example.com/.well-known/jwks.json"   # or `jwks_file = "…"`
//! jwks_refresh_secs = 300
//! leeway_secs = 30
//! issuer = "https://id.example.com"    # a string or a list; unset: not checked
//! audience = ["api"]                   # a string or a list; unset: not checked
//! user_claim = "sub"
//! plan_claim = "plan"
//! tenant_claim = "org"
//! max_token_bytes = 8192
//! ```
//!
//! Trusted proxies come from `--trusted-proxies`, not from this table.

use std::fmt;

use compact_str::CompactString;
use serde::Deserialize;

use super::api_keys::{ApiKeys, KeyHash, KeyOwner};
use super::{ApiKeyMethod, HeaderMethod, Identifier, Method, Methods, TrustedProxies};
use crate::policy::rules::{valid_id, valid_name};

#[path = "config_jwt.rs"]
mod jwt_config;

pub use jwt_config::JwtConfig;

/// The default trusted header.
pub const DEFAULT_USER_HEADER: &str = "X-User-ID";
/// The default API-key header.
pub const DEFAULT_KEY_HEADER: &str = "X-API-Key";

/// A setting that is wrong, named by its path (`identity.jwt.secret_env`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityConfigError {
    /// The setting, e.g. `identity.api_key.keys[2].hash`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl IdentityConfigError {
    /// An error about `field` (under `identity.`).
    pub fn new(field: impl fmt::Display, reason: impl ToString) -> Self {
        Self {
            field: format!("identity.{field}"),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for IdentityConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for IdentityConfigError {}

/// The `[identity]` table as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The methods of routes that do not list theirs (default `["header"]`).
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// The trusted header.
    #[serde(default)]
    pub header: Option<HeaderConfig>,
    /// API keys.
    #[serde(default)]
    pub api_key: Option<ApiKeyConfig>,
    /// JWT bearer tokens.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
}

/// `[identity.header]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderConfig {
    /// The header's name (default `X-User-ID`).
    #[serde(default)]
    pub name: Option<String>,
}

/// `[identity.api_key]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The header read (default `X-API-Key`).
    #[serde(default)]
    pub header: Option<String>,
    /// Whether `Authorization: Bearer <key>` is read too.
    #[serde(default)]
    pub bearer: bool,
    /// The keys, by hash.
    #[serde(default)]
    pub keys: Vec<ApiKeyEntry>,
}

/// One key: its hash and owner. `Debug` leaves the hash out: a hash of a
/// short key can be guessed back.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyEntry {
    /// `sha256:<64 hex>` of the key (see [`super::hash_key`]).
    pub hash: String,
    /// The user the key identifies.
    pub user: String,
    /// The user's plan.
    #[serde(default)]
    pub plan: Option<String>,
}

impl fmt::Debug for ApiKeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyEntry")
            .field("hash", &"..")
            .field("user", &self.user)
            .field("plan", &self.plan)
            .finish()
    }
}

impl IdentityConfig {
    /// Parses the text of an `[identity]` table's contents (for tests and
    /// for a file holding only it).
    pub fn from_toml(text: &str) -> Result<Self, IdentityConfigError> {
        toml::from_str(text).map_err(|e| IdentityConfigError::new("", e.message().to_string()))
    }

    /// Validates into an [`Identifier`]. `env` reads an environment variable
    /// (`secret_env`); a JWKS file is read now, a JWKS URL only once its
    /// refresh task runs.
    pub fn validate(
        self,
        proxies: TrustedProxies,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Identifier, IdentityConfigError> {
        let header = self.header.unwrap_or_default();
        let header = HeaderMethod {
            name: header_name("header.name", header.name, DEFAULT_USER_HEADER)?,
        };
        let api_key = api_key_method(self.api_key.unwrap_or_default())?;
        let jwt = self.jwt.map(|jwt| jwt.validate(&env)).transpose()?;
        let mut identifier = Identifier {
            header,
            api_key,
            jwt,
            proxies,
            default_methods: Methods(vec![Method::Header]),
        };
        if let Some(names) = self.methods {
            identifier.default_methods = identifier.methods("identity.methods", &names)?;
        }
        Ok(identifier)
    }
}

impl Identifier {
    /// A route's methods from their names; `field` names the setting in errors.
    pub fn methods<S: AsRef<str>>(
        &self,
        field: &str,
        names: &[S],
    ) -> Result<Methods, IdentityConfigError> {
        let error = |reason: String| IdentityConfigError {
            field: field.to_string(),
            reason,
        };
        if names.is_empty() {
            return Err(error(
                "list at least one of header, api_key, jwt, ip".into(),
            ));
        }
        let mut methods = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            let method = Method::ALL
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, m)| *m)
                .ok_or_else(|| error(format!("`{name}` is not one of header, api_key, jwt, ip")))?;
            if methods.contains(&method) {
                return Err(error(format!("`{name}` is listed twice")));
            }
            if method == Method::Jwt && self.jwt.is_none() {
                return Err(error("`jwt` needs an [identity.jwt] table".into()));
            }
            methods.push(method);
        }
        if let Some(at) = methods.iter().position(|m| *m == Method::Ip) {
            if at + 1 != methods.len() {
                return Err(error("`ip` always identifies: list it last".into()));
            }
        }
        Ok(Methods(methods))
    }
}

/// A header name: visible ASCII token characters; kept lowercase.
fn header_name(
    field: &str,
    name: Option<String>,
    default: &str,
) -> Result<String, IdentityConfigError> {
    let name = name.unwrap_or_else(|| default.to_string());
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || name.len() > 64 || !name.bytes().all(token) {
        return Err(IdentityConfigError::new(
            field,
            format!("`{name}` is not a header name"),
        ));
    }
    Ok(name.to_ascii_lowercase())
}

fn api_key_method(config: ApiKeyConfig) -> Result<ApiKeyMethod, IdentityConfigError> {
    let header = header_name("api_key.header", config.header, DEFAULT_KEY_HEADER)?;
    if header == "authorization" {
        return Err(IdentityConfigError::new(
            "api_key.header",
            "for Authorization: Bearer, set `bearer = true` instead",
        ));
    }
    let mut keys = ApiKeys::default();
    for (i, entry) in config.keys.into_iter().enumerate() {
        let at = |part: &str| format!("api_key.keys[{i}].{part}");
        let hash =
            KeyHash::parse(&entry.hash).map_err(|e| IdentityConfigError::new(at("hash"), e))?;
        valid_id(&entry.user).map_err(|e| IdentityConfigError::new(at("user"), e))?;
        if let Some(plan) = &entry.plan {
            valid_name(plan).map_err(|e| IdentityConfigError::new(at("plan"), e))?;
        }
        let owner = KeyOwner {
            user: CompactString::from(entry.user),
            plan: entry.plan.map(CompactString::from),
        };
        keys.insert(hash, owner)
            .map_err(|_| IdentityConfigError::new(at("hash"), "the same key is listed before"))?;
    }
    Ok(ApiKeyMethod {
        header,
        bearer: config.bearer,
        keys,
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

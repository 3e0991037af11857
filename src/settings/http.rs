//! Settings of who may ask for decisions and of what clients owe: the
//! decision token (`--decision-token`, or from `--decision-token-file`),
//! the time a client has to send a request head and a body, and the most
//! connections served at once.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use subtle::ConstantTimeEq;

use super::checks::{positive, token};
use super::file::FileSettings;
use super::ConfigError;

/// The HTTP flags, flattened into the command line.
#[derive(Debug, Default, Args)]
pub(super) struct HttpFlags {
    /// Token the decision APIs (/protected, /v1/check, /v1/checks, /v1/forward-auth, the gRPC
    /// rate-limit service) require, as X-Limiter-Token or Authorization: Bearer (at least 16
    /// characters). Unset: they are open, except in gateway mode, where they are closed.
    #[arg(
        long,
        env = "LIMITER_DECISION_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub(super) decision_token: Option<String>,

    /// File whose first line is the decision token (instead of --decision-token).
    #[arg(long, env = "LIMITER_DECISION_TOKEN_FILE", value_name = "FILE")]
    pub(super) decision_token_file: Option<PathBuf>,

    /// Longest a client may take to send a request's head, in ms; then 408 and the
    /// connection is closed [default: 5000].
    #[arg(long, env = "LIMITER_HEAD_TIMEOUT_MS", value_name = "MS")]
    pub(super) head_timeout_ms: Option<u64>,

    /// Longest a client may take to send the body of a JSON API request, in ms; then 408 and
    /// the connection is closed [default: 10000].
    #[arg(long, env = "LIMITER_BODY_TIMEOUT_MS", value_name = "MS")]
    pub(super) body_timeout_ms: Option<u64>,

    /// Most client connections open at once; one more is answered 503 and closed [default: 10000].
    #[arg(long, env = "LIMITER_MAX_CONNECTIONS", value_name = "N")]
    pub(super) max_connections: Option<usize>,
}

/// A secret from the settings; never shown (not even by `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret of this text (checked by whoever reads it from the settings).
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether `presented` is this secret, compared in constant time
    /// (`subtle`), so timing tells a caller nothing about how much of a
    /// guess was right (only whether its length was).
    pub fn matches(&self, presented: &[u8]) -> bool {
        presented.ct_eq(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The validated HTTP settings.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// What the decision APIs require; `None`: nothing (closed in gateway mode).
    pub decision_token: Option<Secret>,
    /// Time a client has to send a request head.
    pub head_timeout: Duration,
    /// Time a client has to send the body of a JSON API request.
    pub body_timeout: Duration,
    /// Most client connections open at once.
    pub max_connections: NonZeroUsize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            decision_token: None,
            head_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(10),
            max_connections: NonZeroUsize::new(10_000).expect("not zero"),
        }
    }
}

/// The HTTP settings from the flags and the file; the decision token must
/// differ from `admin_token`.
pub(super) fn http(
    flags: &HttpFlags,
    file: &FileSettings,
    admin_token: Option<&str>,
) -> Result<HttpSettings, ConfigError> {
    let defaults = HttpSettings::default();
    let decision_token = decision_token(
        flags.decision_token.clone().or(file.decision_token.clone()),
        flags
            .decision_token_file
            .clone()
            .or(file.decision_token_file.clone()),
    )?;
    if decision_token.is_some() && decision_token.as_deref() == admin_token {
        return Err(ConfigError::new(
            "decision-token",
            "must differ from the admin token: every proxy holds the decision token",
        ));
    }
    let millis = |setting, value: Option<u64>, default: Duration| match value {
        None => Ok(default),
        Some(0) => Err(ConfigError::new(setting, "must be at least 1")),
        Some(ms) => Ok(Duration::from_millis(ms)),
    };
    Ok(HttpSettings {
        decision_token: decision_token.map(Secret),
        head_timeout: millis(
            "head-timeout-ms",
            flags.head_timeout_ms.or(file.head_timeout_ms),
            defaults.head_timeout,
        )?,
        body_timeout: millis(
            "body-timeout-ms",
            flags.body_timeout_ms.or(file.body_timeout_ms),
            defaults.body_timeout,
        )?,
        max_connections: positive(
            "max-connections",
            flags.max_connections.or(file.max_connections),
            defaults.max_connections,
        )?,
    })
}

/// The token given, or read from the file given (its first line, so a
/// trailing newline does not count); not both.
fn decision_token(
    given: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
    let Some(path) = file else {
        return token("decision-token", given);
    };
    if given.is_some() {
        return Err(ConfigError::new(
            "decision-token-file",
            "set the decision token or its file, not both",
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        ConfigError::new(
            "decision-token-file",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let first = text.lines().next().unwrap_or_default().to_string();
    token("decision-token-file", Some(first))
}

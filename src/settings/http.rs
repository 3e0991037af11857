//! Settings of who may ask for decisions and of what clients owe: the
//! decision token (`--decision-token`, or from `--decision-token-file`),
//! the time a client has to send a request head and a body, and the most
//! connections served at once.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

use subtle::ConstantTimeEq;

use super::{positive, Cli, Config, ConfigError, MIN_ADMIN_TOKEN};

/// A secret from the settings; never shown (not even by `Debug`). Clones
/// share it, so one read again from its file on SIGHUP ([`Secret::reload`])
/// is what every check compares against from then on.
#[derive(Clone)]
pub struct Secret {
    current: Arc<ArcSwap<String>>,
    /// The file it was read from, and that file's setting name.
    file: Option<(&'static str, PathBuf)>,
}

impl Secret {
    /// A secret of this text (checked by whoever reads it from the settings).
    pub fn new(text: String) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(text)),
            file: None,
        }
    }

    /// A secret read from the file `path` of setting `setting`.
    pub(super) fn from_file(text: String, setting: &'static str, path: PathBuf) -> Self {
        Self {
            file: Some((setting, path)),
            ..Self::new(text)
        }
    }

    /// Whether `presented` is this secret, compared in constant time
    /// (`subtle`), so timing tells a caller nothing about how much of a
    /// guess was right (only whether its length was).
    pub fn matches(&self, presented: &[u8]) -> bool {
        presented.ct_eq(self.current.load().as_bytes()).into()
    }

    /// The setting of the file it was read from, if it was.
    pub fn file_setting(&self) -> Option<&'static str> {
        self.file.as_ref().map(|(setting, _)| *setting)
    }

    /// Reads its file again: a valid token replaces it; an unreadable file
    /// or a bad token (empty, short) is refused, naming the setting and
    /// never the content, and the secret stays. Not from a file: nothing.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let Some((setting, path)) = &self.file else {
            return Ok(());
        };
        let text = token_or_file(["", setting], None, Some(path.clone()))?;
        let text = text.ok_or_else(|| ConfigError::new(setting, "empty"))?;
        self.current.store(Arc::new(text));
        Ok(())
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other.current.load().as_bytes())
    }
}

impl Eq for Secret {}

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
        Config::default().http
    }
}

/// The HTTP settings from the flags and the file; the decision token must
/// differ from `admin_token`.
pub(super) fn http(cli: &Cli, admin_token: Option<&str>) -> Result<HttpSettings, ConfigError> {
    let file = cli.decision_token_file.clone();
    let decision_token = token_or_file(
        ["decision-token", "decision-token-file"],
        cli.decision_token.clone(),
        file.clone(),
    )?;
    if decision_token.is_some() && decision_token.as_deref() == admin_token {
        return Err(ConfigError::new(
            "decision-token",
            "must differ from the admin token: every proxy holds the decision token",
        ));
    }
    let millis = |setting, ms: u64| match ms {
        0 => Err(ConfigError::new(setting, "must be at least 1")),
        ms => Ok(Duration::from_millis(ms)),
    };
    Ok(HttpSettings {
        decision_token: decision_token.map(|token| match file {
            Some(path) => Secret::from_file(token, "decision-token-file", path),
            None => Secret::new(token),
        }),
        head_timeout: millis("head-timeout-ms", cli.head_timeout_ms)?,
        body_timeout: millis("body-timeout-ms", cli.body_timeout_ms)?,
        max_connections: positive("max-connections", cli.max_connections)?,
    })
}

/// The token given, or read from the file given (its first line, so a
/// trailing newline does not count); not both. `settings`: the token's and
/// the file's setting names.
pub(super) fn token_or_file(
    [setting, file_setting]: [&'static str; 2],
    given: Option<String>,
    file: Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
    let Some(path) = file else {
        return token(setting, given);
    };
    if given.is_some() {
        return Err(ConfigError::new(
            file_setting,
            format!("set --{setting} or its file, not both"),
        ));
    }
    token(file_setting, Some(first_line_of(file_setting, &path)?))
}

/// The first line of a secret's file, so a trailing newline does not count.
pub(super) fn first_line_of(setting: &'static str, path: &Path) -> Result<String, ConfigError> {
    crate::config_files::first_line(path)
        .map_err(|e| ConfigError::new(setting, format!("cannot read {}: {e}", path.display())))
}

/// A token short or with spaces or control characters is refused: it would
/// be guessed, or mangled by a shell or a header.
pub(super) fn token(
    setting: &'static str,
    token: Option<String>,
) -> Result<Option<String>, ConfigError> {
    if let Some(token) = &token {
        if token.len() < MIN_ADMIN_TOKEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new(
                setting,
                format!("at least {MIN_ADMIN_TOKEN} characters of visible ASCII"),
            ));
        }
    }
    Ok(token)
}

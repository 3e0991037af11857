//! Checks of single settings shared by the parser: the admin token, counts
//! that must be positive, and reading the settings file.

use std::num::NonZeroUsize;
use std::path::Path;

use super::{ConfigError, FileSettings, MIN_ADMIN_TOKEN};

/// A token short or with spaces or control characters is refused: it would
/// be guessed, or mangled by a shell or a header.
pub(super) fn admin_token(token: Option<String>) -> Result<Option<String>, ConfigError> {
    if let Some(token) = &token {
        if token.len() < MIN_ADMIN_TOKEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new(
                "admin-token",
                format!("at least {MIN_ADMIN_TOKEN} characters of visible ASCII"),
            ));
        }
    }
    Ok(token)
}

pub(super) fn positive(
    setting: &'static str,
    value: Option<usize>,
    default: NonZeroUsize,
) -> Result<NonZeroUsize, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) => {
            NonZeroUsize::new(n).ok_or_else(|| ConfigError::new(setting, "must be at least 1"))
        }
    }
}

pub(super) fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::new("config", format!("{}: {}", path.display(), e.message())))
}

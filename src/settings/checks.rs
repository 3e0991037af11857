//! Checks of single settings shared by the parser: tokens, and counts
//! that must be positive.

use std::num::NonZeroUsize;

use super::{ConfigError, MIN_ADMIN_TOKEN};

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

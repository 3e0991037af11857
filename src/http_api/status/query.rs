//! The status page's query: `refresh=N` (seconds between reloads, 0 =
//! never) and `keys=1` (ask for the admin token), read and checked.

use crate::http_api::wire::error::ApiError;
use crate::http_api::wire::request::query_pairs;

/// Seconds between reloads unless `refresh` says otherwise.
pub const DEFAULT_REFRESH: u32 = 2;
/// The longest `refresh` accepted (an hour).
pub const MAX_REFRESH: u32 = 3600;

/// What the query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    /// Seconds between reloads; 0: never.
    pub refresh: u32,
    /// Ask for the admin token to show the keys.
    pub keys: bool,
}

/// Reads `refresh` and `keys`; anything else, or a bad value, is a 400 naming it.
pub fn query_from(query: &str) -> Result<Query, ApiError> {
    let mut out = Query {
        refresh: DEFAULT_REFRESH,
        keys: false,
    };
    for (name, value) in query_pairs(query, &["refresh", "keys"])? {
        if name == "refresh" {
            out.refresh = value
                .parse()
                .ok()
                .filter(|n| *n <= MAX_REFRESH)
                .ok_or_else(|| {
                    ApiError::field(
                        "refresh",
                        format!("a whole number of seconds from 0 (never) to {MAX_REFRESH}"),
                    )
                })?;
        } else {
            out.keys = match value {
                "1" => true,
                "0" => false,
                _ => return Err(ApiError::field("keys", "1 (show them) or 0")),
            };
        }
    }
    Ok(out)
}

//! What every HTTP surface shares on the wire: the JSON error and its
//! status ([`error::ApiError`]), request bodies read within bounds and
//! parsed into typed structs, decision responses and their rate-limit
//! headers, and the tokens callers present.

pub mod body;
pub mod error;
pub mod headers;
pub mod request;
pub mod response;
pub mod tokens;

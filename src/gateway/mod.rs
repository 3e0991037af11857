//! Gateway mode: the node in front of upstream services — it identifies the
//! caller, limits, and forwards what is allowed.
//!
//! - [`identity`]: who the caller is (trusted header, API key, JWT, client IP),
//!   per route, first match wins.

pub mod identity;

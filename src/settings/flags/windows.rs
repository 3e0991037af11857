//! The flags of window limits (the algorithm and zone of limits that name
//! none, how RLS descriptors count) and of the test clock's start.

use clap::Args;

/// Window algorithms' node-wide choices, flattened into the command line.
#[derive(Debug, Args)]
pub(in crate::settings) struct WindowFlags {
    /// Algorithm of RLS descriptor limits that name none: token-bucket, fixed-window
    /// (windows aligned as envoyproxy/ratelimit aligns them), sliding-window or calendar.
    #[arg(
        long,
        env = "LIMITER_RLS_ALGORITHM",
        value_name = "ALGORITHM",
        default_value = "token-bucket"
    )]
    pub(in crate::settings) rls_algorithm: String,

    /// Count every RLS descriptor's hits even when the call is over the limit, each
    /// over when its count passes the limit (envoyproxy/ratelimit's default,
    /// STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT=false). Off: a refused call takes nothing.
    #[arg(
        long,
        env = "LIMITER_RLS_COUNT_OVER_LIMIT",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(in crate::settings) rls_count_over_limit: bool,

    /// IANA time zone of calendar windows that name none (America/New_York).
    #[arg(
        long,
        env = "LIMITER_TIME_ZONE",
        value_name = "ZONE",
        default_value = "UTC"
    )]
    pub(in crate::settings) time_zone: String,

    /// For tests and drills only: the instant (RFC 3339) the node's clock reads at start,
    /// running on from there. Unset: the wall clock.
    #[arg(long, env = "LIMITER_CLOCK_START", value_name = "INSTANT")]
    pub(in crate::settings) clock_start: Option<String>,
}

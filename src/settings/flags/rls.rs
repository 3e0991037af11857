//! The flags of the Envoy rate-limit service's limits and answers:
//! envoyproxy/ratelimit's settings (`MERGE_DOMAIN_CONFIG`,
//! `RESPONSE_DYNAMIC_METADATA`, `SHADOW_MODE`, `QUOTA_MODE`,
//! `LIMIT_RESPONSE_HEADERS_ENABLED` and its header names) under our names.

use std::path::PathBuf;

use clap::Args;

/// The rate-limit service's settings, flattened into the command line.
#[derive(Debug, Args)]
pub(in crate::settings) struct RlsFlags {
    /// envoyproxy/ratelimit YAML file, or a directory of them: the descriptor limits of the
    /// rate-limit service. Read again on SIGHUP and when the files change.
    #[arg(long, env = "LIMITER_RLS_CONFIG", value_name = "PATH")]
    pub(in crate::settings) rls_config: Option<PathBuf>,

    /// A domain configured in several descriptor files gets the descriptors of them all
    /// (envoyproxy/ratelimit's MERGE_DOMAIN_CONFIG). Off: such files are refused.
    #[arg(
        long,
        env = "LIMITER_RLS_MERGE_DOMAINS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(in crate::settings) rls_merge_domains: bool,

    /// The rate-limit service answers with dynamic metadata: the request's domain and
    /// descriptors, and the `metadata` of the descriptors that passed
    /// (envoyproxy/ratelimit's RESPONSE_DYNAMIC_METADATA).
    #[arg(
        long,
        env = "LIMITER_RLS_RESPONSE_METADATA",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(in crate::settings) rls_response_metadata: bool,

    /// The rate-limit service never answers OVER_LIMIT overall: descriptors are counted and
    /// their statuses say which are over, but the call passes (envoyproxy/ratelimit's
    /// SHADOW_MODE). --shadow covers the HTTP rules only.
    #[arg(
        long,
        env = "LIMITER_RLS_SHADOW",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(in crate::settings) rls_shadow: bool,

    /// Every descriptor limit is in quota mode, as if each said `quota_mode: true`
    /// (envoyproxy/ratelimit's QUOTA_MODE).
    #[arg(
        long,
        env = "LIMITER_RLS_QUOTA_MODE",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(in crate::settings) rls_quota_mode: bool,

    /// The rate-limit service's answers carry rate-limit headers for Envoy to add to the
    /// response: the limit, remaining and reset of the descriptor nearest its limit
    /// (envoyproxy/ratelimit's LIMIT_RESPONSE_HEADERS_ENABLED).
    #[arg(
        long,
        env = "LIMITER_RLS_RESPONSE_HEADERS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(in crate::settings) rls_response_headers: bool,

    /// With --rls-response-headers: the header holding the limit (LIMIT_LIMIT_HEADER).
    #[arg(
        long,
        env = "LIMITER_RLS_LIMIT_HEADER",
        value_name = "HEADER",
        default_value = "RateLimit-Limit"
    )]
    pub(in crate::settings) rls_limit_header: String,

    /// With --rls-response-headers: the header holding the requests remaining
    /// (LIMIT_REMAINING_HEADER).
    #[arg(
        long,
        env = "LIMITER_RLS_REMAINING_HEADER",
        value_name = "HEADER",
        default_value = "RateLimit-Remaining"
    )]
    pub(in crate::settings) rls_remaining_header: String,

    /// With --rls-response-headers: the header holding the seconds until the limit resets
    /// (LIMIT_RESET_HEADER).
    #[arg(
        long,
        env = "LIMITER_RLS_RESET_HEADER",
        value_name = "HEADER",
        default_value = "RateLimit-Reset"
    )]
    pub(in crate::settings) rls_reset_header: String,
}

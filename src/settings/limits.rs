//! Settings of the limits: the default limit (`--capacity`,
//! `--refill-per-sec`) and, to roll out limits safely, `--shadow`, which
//! makes every rule a shadow rule (counted and reported, never refusing).

use std::num::NonZeroU32;

use clap::Args;

use super::{Cli, ConfigError, FileSettings};
use crate::limiter::rate::{parse_rate, RateText};
use crate::limiter::Limit;

/// The rollout flags, flattened into the command line.
#[derive(Debug, Default, Args)]
pub(super) struct RolloutFlags {
    /// Every rule is shadow: decided, counted and reported in the rate-limit headers
    /// (plus RateLimit-Shadow), but never refusing [default: false].
    #[arg(
        long,
        env = "LIMITER_SHADOW",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(super) shadow: Option<bool>,
}

/// The default limit: `capacity` and `refill-per-sec`.
pub(super) fn limit(cli: &Cli, file: &FileSettings, default: &Limit) -> Result<Limit, ConfigError> {
    let capacity = cli.capacity.or(file.capacity).unwrap_or(default.capacity());
    let capacity = NonZeroU32::new(capacity)
        .ok_or_else(|| ConfigError::new("capacity", "must be at least 1"))?;
    let rate = cli
        .refill_per_sec
        .clone()
        .or(file.refill_per_sec.as_ref().map(RateText::to_string));
    let interval = match rate {
        Some(text) => {
            parse_rate(&text).map_err(|e| ConfigError::new("refill-per-sec", e.to_string()))?
        }
        None => default.interval(),
    };
    Limit::new(capacity, interval).map_err(|e| ConfigError::new("refill-per-sec", e.to_string()))
}

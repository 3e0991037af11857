//! The node-wide choices for window limits (`--rls-algorithm`,
//! `--time-zone`), how RLS descriptors count (`--rls-count-over-limit`) and
//! the test clock's start (`--clock-start`).

use super::flags::Cli;
use super::ConfigError;
use crate::limiter::Stamp;
use crate::policy::algorithm::{parse_zone, AlgorithmDefaults, AlgorithmKind};
use crate::policy::descriptors::Counting;

/// The algorithm and zone of limits that name none.
pub(super) fn defaults(cli: &Cli) -> Result<AlgorithmDefaults, ConfigError> {
    let rls = AlgorithmKind::parse(&cli.windows.rls_algorithm).ok_or_else(|| {
        ConfigError::new(
            "rls-algorithm",
            format!(
                "`{}` is not one of token-bucket, fixed-window, sliding-window, calendar",
                cli.windows.rls_algorithm
            ),
        )
    })?;
    let time_zone = parse_zone(&cli.windows.time_zone).ok_or_else(|| {
        ConfigError::new(
            "time-zone",
            format!(
                "`{}` is not an IANA time zone such as America/New_York",
                cli.windows.time_zone
            ),
        )
    })?;
    Ok(AlgorithmDefaults { rls, time_zone })
}

/// How the rate-limit service counts a request's descriptors: over the
/// limit too (`--rls-count-over-limit`), or all or nothing.
pub(super) fn counting(over_limit: bool) -> Counting {
    match over_limit {
        true => Counting::OverLimit,
        false => Counting::AllOrNothing,
    }
}

/// The instant the node's clock starts at, if one is given.
pub(super) fn clock_start(cli: &Cli) -> Result<Option<Stamp>, ConfigError> {
    let Some(text) = cli.windows.clock_start.as_deref() else {
        return Ok(None);
    };
    let bad = || {
        ConfigError::new(
            "clock-start",
            format!(
                "`{text}` is not an RFC 3339 instant after 1970, like 2026-01-31T23:59:50-05:00"
            ),
        )
    };
    let instant = chrono::DateTime::parse_from_rfc3339(text).map_err(|_| bad())?;
    let nanos = instant.timestamp_nanos_opt().ok_or_else(bad)?;
    let nanos = u64::try_from(nanos).map_err(|_| bad())?;
    Ok(Some(Stamp::from_unix_nanos(nanos)))
}

//! Rates as operators write them (`5`, `0.25`, `1/3600` tokens per second),
//! parsed exactly into the time one token takes: the one parser behind the
//! flags, the settings file, the rules file and the admin API.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// A rate as a file or a request body carries it: a number (`5`, `0.25`) or
/// text (`"1/3600"`, which no number can say exactly).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum RateText {
    /// A whole number of tokens per second.
    Integer(u64),
    /// A decimal number of tokens per second.
    Float(f64),
    /// Anything [`parse_rate`] reads.
    Text(String),
}

/// What to write instead when a rate is neither a number nor text.
pub const RATE_HINT: &str = "a number (5, 0.5) or a fraction (\"1/3600\")";

impl RateText {
    /// The time one token takes at this rate.
    pub fn interval(&self) -> Result<Duration, RateError> {
        parse_rate(&self.to_string())
    }
}

impl fmt::Display for RateText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateText::Integer(n) => write!(f, "{n}"),
            RateText::Float(x) => write!(f, "{x}"),
            RateText::Text(s) => f.write_str(s),
        }
    }
}

/// Why a rate does not parse (each names the text as written).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Not a decimal number, nor a fraction of two.
    #[error("`{0}` is not a number like 5, 0.5 or 1/3600")]
    NotANumber(String),
    /// More digits than the arithmetic holds.
    #[error("`{0}` has too many digits")]
    TooManyDigits(String),
    /// Zero.
    #[error("`{0}` must be a positive rate, like 5, 0.5 or 1/3600")]
    NotPositive(String),
    /// One token would take longer than a `u64` of nanoseconds.
    #[error("`{0}` is too slow a rate")]
    TooSlow(String),
    /// More than a token per nanosecond.
    #[error("at most 1000000000 tokens per second")]
    TooFast,
}

/// Parses tokens per second — `5`, `0.25`, `1/3600` — into the time one token
/// takes, rounded to the nanosecond. Exact for every rate whose interval is a
/// whole number of nanoseconds (1/s, 1/hour, 1,000,000/s, 0.25/s, …).
pub fn parse_rate(text: &str) -> Result<Duration, RateError> {
    let text = text.trim();
    let (num, den) = match text.split_once('/') {
        Some((n, d)) => (parse_decimal(n)?, parse_decimal(d)?),
        None => (parse_decimal(text)?, (1, 1)),
    };
    // rate = (num.0 / num.1) / (den.0 / den.1) tokens per second.
    let too_precise = || RateError::TooManyDigits(text.to_string());
    let rate_num = num.0.checked_mul(den.1).ok_or_else(too_precise)?;
    let rate_den = num.1.checked_mul(den.0).ok_or_else(too_precise)?;
    if rate_num == 0 || rate_den == 0 {
        return Err(RateError::NotPositive(text.to_string()));
    }
    let nanos = rate_den
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(rate_num / 2))
        .map(|n| n / rate_num)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| RateError::TooSlow(text.to_string()))?;
    if nanos == 0 {
        return Err(RateError::TooFast);
    }
    Ok(Duration::from_nanos(nanos))
}

/// A non-negative decimal as `(numerator, power-of-ten denominator)`.
fn parse_decimal(text: &str) -> Result<(u128, u128), RateError> {
    let bad = || RateError::NotANumber(text.to_string());
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
        || whole.len() + frac.len() > 18
    {
        return Err(bad());
    }
    let digits = format!("{whole}{frac}");
    let num: u128 = digits.parse().map_err(|_| bad())?;
    Ok((num, 10u128.pow(frac.len() as u32)))
}

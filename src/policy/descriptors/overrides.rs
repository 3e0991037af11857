//! Limits a request brings (Envoy's `RateLimitDescriptor.limit`): honoured in
//! any configured domain whatever its descriptors say, as envoyproxy/ratelimit
//! does, and counted per the request's entries and values. The bucket key
//! names the override (`@rls edge !10/minute user=alice`), so a peer or the
//! admin API knows the limit from the key alone; each distinct override of
//! the same entries is a bucket of its own. Counted under the node's
//! `--rls-algorithm`, as configured limits naming none are.

use std::fmt::Write as _;
use std::num::NonZeroU32;
use std::sync::Arc;

use super::{
    push_escaped, unescape, Counted, DescriptorLimit, DescriptorSet, LimitKind, Unit, KEY_PREFIX,
    MAX_KEY,
};
use crate::limiter::Limit;
use crate::policy::algorithm::{window_limit, AlgorithmDefaults, AlgorithmKind};

/// Starts the part of a key naming an override; entry parts hold a `=`, it never does.
const MARK: char = '!';

/// Whether a key's part names an override.
pub(super) fn is_spec(part: &str) -> bool {
    part.starts_with(MARK) && !part.contains('=')
}

impl DescriptorSet {
    /// The limit of `requests_per_unit` per `unit` a request brought for
    /// `entries` of `domain`, writing its bucket key after what `key` holds;
    /// `None` (and `key` as it was) when the domain is not configured, the
    /// limit cannot be a bucket (see [`LimitKind::of`]) or the key would be
    /// longer than [`MAX_KEY`].
    pub fn resolve_override(
        &self,
        domain: &str,
        entries: &[(&str, &str)],
        requests_per_unit: u32,
        unit: Unit,
        key: &mut String,
    ) -> Option<Arc<DescriptorLimit>> {
        if !self.domains.contains_key(domain) {
            return None;
        }
        let kind = kind_of(requests_per_unit, unit, &self.defaults)?;
        let start = key.len();
        key.push_str(KEY_PREFIX);
        push_escaped(key, domain);
        // Writing into a String cannot fail.
        let _ = write!(key, " {MARK}{requests_per_unit}/{}", unit.name());
        for (name, value) in entries {
            key.push(' ');
            push_escaped(key, name);
            key.push('=');
            Counted::Value { value, prefix: "" }.push(key);
        }
        if key.len() - start > MAX_KEY {
            key.truncate(start);
            return None;
        }
        Some(Arc::new(DescriptorLimit {
            // Metrics name it by the request's values (bounded), else by this.
            path: format!("{domain}.override").into(),
            name: None,
            requests_per_unit,
            unit,
            kind,
            shadow: false,
            replaces: Vec::new(),
            detailed_metric: true,
            value_to_metric: false,
            quota_mode: self.quota_mode,
            metadata: None,
            overridden: true,
        }))
    }
}

/// The limit of override key `key` (the rest of its `parts` after the
/// domain, `again` holding the key down to the domain), if it comes back the same.
pub(super) fn limit_of_key<'k>(
    domain: &str,
    mut parts: impl Iterator<Item = &'k str>,
    mut again: String,
    key: &str,
    defaults: &AlgorithmDefaults,
) -> Option<(Arc<str>, Limit)> {
    let (requests, unit) = parts.next()?.strip_prefix(MARK)?.split_once('/')?;
    let (requests, unit) = (requests.parse::<u32>().ok()?, Unit::parse(unit)?);
    let _ = write!(again, " {MARK}{requests}/{}", unit.name());
    for part in parts {
        let (name, value) = part.split_once('=')?;
        again.push(' ');
        push_escaped(&mut again, &unescape(name)?);
        again.push('=');
        match value.strip_prefix('#') {
            Some(digest) if digest.len() == 32 && digest.bytes().all(is_hex) => {
                again.push('#');
                again.push_str(digest);
            }
            Some(_) => return None,
            // A long value comes back digested, and so not the same.
            None => Counted::Value {
                value: &unescape(value)?,
                prefix: "",
            }
            .push(&mut again),
        }
    }
    match kind_of(requests, unit, defaults)? {
        LimitKind::Bucket(limit) if again == key => {
            Some((format!("{domain}.override").into(), limit))
        }
        _ => None,
    }
}

/// What an override of `requests` per `unit` counts in: a window of the
/// unit under the node's window algorithm (a calendar node counts a second,
/// minute or hour in a fixed window: no calendar has them, and a request's
/// limit must not vanish for it), else a token bucket (or blocked, for 0);
/// `None` if it cannot be a limit (see [`LimitKind::of`]).
fn kind_of(requests: u32, unit: Unit, defaults: &AlgorithmDefaults) -> Option<LimitKind> {
    let kind = match defaults.rls {
        AlgorithmKind::Calendar if !unit.is_calendar() => AlgorithmKind::FixedWindow,
        kind => kind,
    };
    match NonZeroU32::new(requests) {
        Some(capacity) if kind != AlgorithmKind::TokenBucket => {
            window_limit(kind, capacity, unit, defaults.time_zone)
                .ok()
                .map(LimitKind::Bucket)
        }
        _ => LimitKind::of(requests, unit).ok(),
    }
}

fn is_hex(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
}

#[cfg(test)]
#[path = "overrides_tests.rs"]
mod tests;

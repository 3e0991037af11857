//! Descriptor limits in envoyproxy/ratelimit's configuration format: domains
//! of nested `key`/`value` descriptors, each possibly with a `rate_limit`.
//!
//! A request names a domain and descriptors (lists of key/value entries, as
//! Envoy's `rate_limits` actions produce them). One descriptor is matched
//! level by level: an entry matches a configured `key` with the same `value`
//! first, then one whose value ends in `*` and is a prefix of it (the first in
//! the file), then the `key` with no value. The limit is the one configured
//! where the last entry matched. Each distinct set of values is its own
//! bucket (a token bucket of `requests_per_unit` tokens refilled over the
//! unit), unless `share_threshold` makes every value under a wildcard share one.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::limiter::Limit;

mod check;
pub mod yaml;

pub use check::{DescriptorQuery, DescriptorVerdict, Outcome};

/// The start of every descriptor bucket key. A space never appears in a
/// user ID or a rule name, so these keys meet no other bucket's.
pub const KEY_PREFIX: &str = "@rls ";

/// Longest bucket key a descriptor may make, in bytes (what replication carries).
pub const MAX_KEY: usize = 1024;

/// A `rate_limit` unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    /// Every unit as written in a file.
    pub const NAMES: &'static str = "second, minute, hour, day, week, month, year";

    /// Parses a unit in any case, as envoyproxy/ratelimit does.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "second" => Self::Second,
            "minute" => Self::Minute,
            "hour" => Self::Hour,
            "day" => Self::Day,
            "week" => Self::Week,
            "month" => Self::Month,
            "year" => Self::Year,
            _ => return None,
        })
    }

    /// Its length; a month is 30 days and a year 365, as in envoyproxy/ratelimit.
    pub fn length(self) -> Duration {
        const DAY: u64 = 24 * 3600;
        Duration::from_secs(match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => DAY,
            Self::Week => 7 * DAY,
            Self::Month => 30 * DAY,
            Self::Year => 365 * DAY,
        })
    }
}

/// What a matched `rate_limit` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// A token bucket.
    Bucket(Limit),
    /// `unlimited: true`: never limited, nothing counted.
    Unlimited,
    /// `requests_per_unit: 0`: every request is over the limit.
    Blocked,
}

/// One configured `rate_limit` with its descriptor's options.
#[derive(Debug, PartialEq, Eq)]
pub struct DescriptorLimit {
    /// Domain and keys down to it (`domain.key_value.key`), as envoyproxy/ratelimit
    /// names its statistics; the metric label.
    pub path: Arc<str>,
    /// `name`, if given (what `replaces` refers to).
    pub name: Option<Arc<str>>,
    /// As configured, for the response's `current_limit`.
    pub requests_per_unit: u32,
    pub unit: Unit,
    pub kind: LimitKind,
    /// Counted and reported, never refuses.
    pub shadow: bool,
    /// Names of limits this one replaces when both apply to a request.
    pub replaces: Vec<Arc<str>>,
    /// Metrics per value, not only per configured key.
    pub detailed_metric: bool,
}

/// Every domain's descriptors.
#[derive(Debug, Default)]
pub struct DescriptorSet {
    domains: HashMap<Box<str>, Level>,
}

/// The descriptors configured at one depth, by key.
#[derive(Debug, Default)]
struct Level {
    keys: HashMap<Box<str>, KeyEntry>,
}

/// The descriptors of one key at one depth.
#[derive(Debug, Default)]
struct KeyEntry {
    values: HashMap<Box<str>, Node>,
    /// `value: prefix*` as written, in file order: the first that matches wins.
    wildcards: Vec<(Box<str>, Node)>,
    /// No `value`: any value.
    any: Option<Node>,
}

#[derive(Debug, Default)]
struct Node {
    limit: Option<Arc<DescriptorLimit>>,
    /// `share_threshold`: every value under this wildcard counts in one bucket.
    share: bool,
    children: Level,
}

impl KeyEntry {
    /// The node `value` matches, and the wildcard its bucket is counted
    /// under instead of the value (`share_threshold`).
    fn find(&self, value: &str) -> Option<(&Node, Option<&str>)> {
        if let Some(node) = self.values.get(value) {
            return Some((node, None));
        }
        for (pattern, node) in &self.wildcards {
            if value.starts_with(pattern.strip_suffix('*').unwrap_or(pattern)) {
                return Some((node, node.share.then_some(&**pattern)));
            }
        }
        self.any.as_ref().map(|node| (node, None))
    }
}

impl DescriptorSet {
    /// Whether any domain is configured.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// The configured domains, sorted.
    pub fn domains(&self) -> Vec<&str> {
        let mut domains: Vec<&str> = self.domains.keys().map(|d| &**d).collect();
        domains.sort_unstable();
        domains
    }

    /// The limit of the descriptor `entries` in `domain`, writing its bucket
    /// key after what `key` holds; `None` (and `key` as it was) when no
    /// limit applies or the key would be longer than [`MAX_KEY`].
    pub fn resolve<'s>(
        &'s self,
        domain: &str,
        entries: &[(&str, &str)],
        key: &mut String,
    ) -> Option<&'s Arc<DescriptorLimit>> {
        let start = key.len();
        let found = self.walk(domain, entries, key);
        if found.is_none() || key.len() - start > MAX_KEY {
            key.truncate(start);
            return None;
        }
        found
    }

    fn walk<'s>(
        &'s self,
        domain: &str,
        entries: &[(&str, &str)],
        key: &mut String,
    ) -> Option<&'s Arc<DescriptorLimit>> {
        let mut level = self.domains.get(domain)?;
        let last = entries.len().checked_sub(1)?;
        key.push_str(KEY_PREFIX);
        push_escaped(key, domain);
        for (i, (name, value)) in entries.iter().enumerate() {
            let (node, shared) = level.keys.get(*name)?.find(value)?;
            key.push(' ');
            push_escaped(key, name);
            key.push('=');
            push_escaped(key, shared.unwrap_or(value));
            if i == last {
                return node.limit.as_ref();
            }
            level = &node.children;
        }
        None
    }

    /// The limit of bucket `key` (one [`DescriptorSet::resolve`] wrote), if
    /// it still has one. A key that does not come back the same is refused:
    /// keys from the wire are never trusted.
    pub fn limit_of_key(&self, key: &str) -> Option<(&Arc<DescriptorLimit>, Limit)> {
        let rest = key.strip_prefix(KEY_PREFIX)?;
        let mut parts = rest.split(' ');
        let domain = unescape(parts.next()?)?;
        let mut owned = Vec::new();
        for part in parts {
            let (name, value) = part.split_once('=')?;
            owned.push((unescape(name)?, unescape(value)?));
        }
        let entries: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (&**k, &**v)).collect();
        let mut again = String::with_capacity(key.len());
        let limit = self.resolve(&domain, &entries, &mut again)?;
        match limit.kind {
            LimitKind::Bucket(bucket) if again == key => Some((limit, bucket)),
            _ => None,
        }
    }
}

/// Writes `text` with every byte outside visible ASCII, and `%`, `=` and
/// space, as `%XX`: values from requests can hold anything, and a key must
/// split back into its parts.
fn push_escaped(key: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && byte != b'%' && byte != b'=' {
            key.push(byte as char);
        } else {
            // Writing into a String cannot fail.
            let _ = write!(key, "%{byte:02X}");
        }
    }
}

fn unescape(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests;

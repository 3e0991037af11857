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

use sha1::{Digest, Sha1};

use crate::limiter::Limit;

mod check;
pub mod yaml;

pub use check::{DescriptorQuery, DescriptorVerdict, Outcome};

/// The start of every descriptor bucket key. A space never appears in a
/// user ID or a rule name, so these keys meet no other bucket's.
pub const KEY_PREFIX: &str = "@rls ";

/// Longest bucket key a descriptor may make, in bytes (what replication carries).
pub const MAX_KEY: usize = 1024;

/// Longest value written into a key as it is (escaped); a longer one is
/// written as a digest, so long values cannot push a key past [`MAX_KEY`]
/// and out of every limit.
pub const MAX_VALUE_IN_KEY: usize = 128;

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

    /// The limiter's unit of the same name (window algorithms).
    pub fn window_unit(self) -> crate::limiter::Unit {
        use crate::limiter::Unit as W;
        match self {
            Self::Second => W::Second,
            Self::Minute => W::Minute,
            Self::Hour => W::Hour,
            Self::Day => W::Day,
            Self::Week => W::Week,
            Self::Month => W::Month,
            Self::Year => W::Year,
        }
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
    /// The node `value` matches, and how its bucket key names the value.
    fn find<'s: 'c, 'v: 'c, 'c>(&'s self, value: &'v str) -> Option<(&'s Node, Counted<'c>)> {
        if let Some(node) = self.values.get(value) {
            return Some((node, Counted::Value { value, prefix: "" }));
        }
        for (pattern, node) in &self.wildcards {
            let prefix = pattern.strip_suffix('*').unwrap_or(pattern);
            if value.starts_with(prefix) {
                let counted = match node.share {
                    true => Counted::Shared(pattern),
                    false => Counted::Value { value, prefix },
                };
                return Some((node, counted));
            }
        }
        self.any
            .as_ref()
            .map(|node| (node, Counted::Value { value, prefix: "" }))
    }
}

impl KeyEntry {
    /// The node a digested value matched: a wildcard with this prefix, or
    /// (no prefix) the key alone — what [`KeyEntry::find`] picks for a long value.
    fn find_digested(&self, prefix: &str) -> Option<&Node> {
        let wildcard = self
            .wildcards
            .iter()
            .find(|(pattern, node)| !node.share && pattern.strip_suffix('*') == Some(prefix));
        match wildcard {
            Some((_, node)) => Some(node),
            None if prefix.is_empty() => self.any.as_ref(),
            None => None,
        }
    }
}

/// What an entry's part of a bucket key holds.
enum Counted<'a> {
    /// The value, matched by `prefix` (a wildcard's, or nothing).
    Value { value: &'a str, prefix: &'a str },
    /// The wildcard every value under it shares (`share_threshold`).
    Shared(&'a str),
}

impl Counted<'_> {
    /// Writes the value escaped, or, when that is longer than
    /// [`MAX_VALUE_IN_KEY`], the matching prefix, `#` and a digest of the
    /// value: the same value always makes the same key, and the key still
    /// matches the same descriptor when read back.
    fn push(&self, key: &mut String) {
        let (value, prefix) = match self {
            Counted::Shared(pattern) => return push_escaped(key, pattern),
            Counted::Value { value, prefix } => (*value, *prefix),
        };
        let start = key.len();
        push_escaped(key, value);
        if key.len() - start > MAX_VALUE_IN_KEY {
            key.truncate(start);
            push_escaped(key, prefix);
            key.push('#');
            for byte in &Sha1::digest(value.as_bytes())[..16] {
                // Writing into a String cannot fail.
                let _ = write!(key, "{byte:02x}");
            }
        }
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
        // Loading refuses files whose keys could be longer; kept as a guard.
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
            let (node, counted) = level.keys.get(*name)?.find(value)?;
            key.push(' ');
            push_escaped(key, name);
            key.push('=');
            counted.push(key);
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
        let mut parts = key.strip_prefix(KEY_PREFIX)?.split(' ');
        let domain = unescape(parts.next()?)?;
        let mut level = self.domains.get(domain.as_str())?;
        let mut again = String::with_capacity(key.len());
        again.push_str(KEY_PREFIX);
        push_escaped(&mut again, &domain);
        let mut node = None;
        for part in parts {
            let (name, value) = part.split_once('=')?;
            let name = unescape(name)?;
            let entry = level.keys.get(name.as_str())?;
            again.push(' ');
            push_escaped(&mut again, &name);
            again.push('=');
            let next = match value.split_once('#') {
                Some((prefix, digest)) => {
                    let prefix = unescape(prefix)?;
                    push_escaped(&mut again, &prefix);
                    again.push('#');
                    again.push_str(digest);
                    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
                    if digest.len() != 32 || !digest.bytes().all(hex) {
                        return None;
                    }
                    entry.find_digested(&prefix)?
                }
                None => {
                    let value = unescape(value)?;
                    let (next, counted) = entry.find(&value)?;
                    counted.push(&mut again);
                    next
                }
            };
            level = &next.children;
            node = Some(next);
        }
        let limit = node?.limit.as_ref()?;
        match limit.kind {
            LimitKind::Bucket(bucket) if again == key => Some((limit, bucket)),
            _ => None,
        }
    }
}

/// Writes `text` with every byte outside visible ASCII, and `%`, `=`, `#`
/// and space, as `%XX`: values from requests can hold anything, a key must
/// split back into its parts, and `#` starts a digest only.
fn push_escaped(key: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && !matches!(byte, b'%' | b'=' | b'#') {
            key.push(byte as char);
        } else {
            // Writing into a String cannot fail.
            let _ = write!(key, "%{byte:02X}");
        }
    }
}

/// How long `text` is once [`push_escaped`] wrote it.
fn escaped_len(text: &str) -> usize {
    text.bytes()
        .map(
            |byte| match byte.is_ascii_graphic() && !matches!(byte, b'%' | b'=' | b'#') {
                true => 1,
                false => 3,
            },
        )
        .sum()
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

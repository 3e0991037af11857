//! Descriptor limits in envoyproxy/ratelimit's configuration format: domains
//! of nested `key`/`value` descriptors, each possibly with a `rate_limit`.
//!
//! A request names a domain and descriptors (lists of key/value entries, as
//! Envoy's `rate_limits` actions produce them). One descriptor is matched
//! level by level: an entry matches a configured `key` with the same `value`
//! first, then one whose value holds `*`s that match it (the first in the
//! file; see [`pattern`]), then the `key` with no value. The limit is the one
//! configured where the last entry matched. Each distinct set of values is its
//! own bucket (a token bucket of `requests_per_unit` tokens refilled over the
//! unit), unless `share_threshold` makes every value under a wildcard share
//! one. A request may bring its own limit instead ([`overrides`]).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::limiter::{Limit, LimitError};
use crate::policy::algorithm::AlgorithmDefaults;

mod check;
mod escape;
mod names;
mod options;
mod overrides;
mod pattern;
pub mod yaml;

pub use check::{Counting, DescriptorQuery, DescriptorVerdict, Outcome};
use escape::{escaped_len, push_escaped, unescape, Counted};
use pattern::Pattern;

/// The start of every descriptor bucket key. A space never appears in a
/// user ID or a rule name, so these keys meet no other bucket's.
pub const KEY_PREFIX: &str = "@rls ";

/// Longest bucket key a descriptor may make, in bytes (what replication carries).
pub const MAX_KEY: usize = 1024;

/// Longest value written into a key as it is (escaped); a longer one is
/// written as a digest, so long values cannot push a key past [`MAX_KEY`]
/// and out of every limit.
pub const MAX_VALUE_IN_KEY: usize = 128;

/// A `rate_limit` unit: the limiter's, parsed and named as envoyproxy/ratelimit does.
pub use crate::limiter::Unit;

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

impl LimitKind {
    /// `requests_per_unit` per `unit`: a bucket of that many tokens refilled
    /// evenly over the unit, or, for 0, every request over the limit.
    pub fn of(requests_per_unit: u32, unit: Unit) -> Result<Self, LimitError> {
        let Some(capacity) = NonZeroU32::new(requests_per_unit) else {
            return Ok(Self::Blocked);
        };
        let nanos = unit.length().as_nanos() / u128::from(requests_per_unit);
        Limit::new(capacity, Duration::from_nanos(nanos as u64)).map(Self::Bucket)
    }
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
    /// `value_to_metric` on a descriptor down to it: its statistics name
    /// holds the request's values where those matched a wildcard or any value.
    pub value_to_metric: bool,
    /// `quota_mode`: over it, the request is refused only if every quota
    /// limit of the request is over too (and no other limit refuses).
    pub quota_mode: bool,
    /// `metadata`, as JSON: returned in the response's dynamic metadata when
    /// the descriptor passes.
    pub metadata: Option<Arc<serde_json::Value>>,
    /// Brought by the request (Envoy's `limit` override), not configured.
    pub overridden: bool,
}

/// Every domain's descriptors.
#[derive(Debug, Default)]
pub struct DescriptorSet {
    domains: HashMap<Box<str>, Level>,
    /// Every limit in quota mode (`--rls-quota-mode`): requests' `limit`
    /// overrides too, and a call is refused only when every descriptor
    /// that is not unlimited is over a limit, as envoyproxy/ratelimit's `QUOTA_MODE` decides.
    quota_mode: bool,
    /// The node's algorithm and zone, for limits requests bring.
    defaults: AlgorithmDefaults,
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
    /// Values with `*`s, in file order: the first that matches wins.
    wildcards: Vec<(Pattern, Node)>,
    /// No `value`: any value.
    any: Option<Node>,
}

#[derive(Debug, Default)]
struct Node {
    limit: Option<Arc<DescriptorLimit>>,
    /// `share_threshold`: every value under this wildcard counts in one bucket.
    share: bool,
    /// `value_to_metric`: statistics names show the value matched here.
    value_to_metric: bool,
    children: Level,
}

/// How an entry matched its descriptor, for statistics names.
#[derive(Clone, Copy)]
enum How<'a> {
    /// The configured value itself.
    Exact,
    /// A wildcard (its pattern).
    Wildcard(&'a str),
    /// The key with no value.
    Any,
}

impl KeyEntry {
    /// The node `value` matches, how its bucket key names the value, and how it matched.
    fn find<'s: 'c, 'v: 'c, 'c>(
        &'s self,
        value: &'v str,
    ) -> Option<(&'s Node, Counted<'c>, How<'s>)> {
        if let Some(node) = self.values.get(value) {
            return Some((node, Counted::Value { value, prefix: "" }, How::Exact));
        }
        for (pattern, node) in &self.wildcards {
            if pattern.matches(value) {
                let counted = match node.share {
                    true => Counted::Shared(&pattern.text),
                    false => Counted::Value {
                        value,
                        prefix: pattern.key_name(),
                    },
                };
                return Some((node, counted, How::Wildcard(&pattern.text)));
            }
        }
        self.any
            .as_ref()
            .map(|node| (node, Counted::Value { value, prefix: "" }, How::Any))
    }

    /// The node a digested value matched: the wildcard `name` names (see
    /// [`Pattern::key_name`]), or (no name) the key alone — what
    /// [`KeyEntry::find`] picks for a long value.
    fn find_digested(&self, name: &str) -> Option<&Node> {
        let wildcard = self
            .wildcards
            .iter()
            .find(|(pattern, node)| !node.share && pattern.key_name() == name);
        match wildcard {
            Some((_, node)) => Some(node),
            None if name.is_empty() => self.any.as_ref(),
            None => None,
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
            let (node, counted, _) = level.keys.get(*name)?.find(value)?;
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
    /// it still has one, with its statistics name. A key that does not come
    /// back the same is refused: keys from the wire are never trusted.
    pub fn limit_of_key(&self, key: &str) -> Option<(Arc<str>, Limit)> {
        let mut parts = key.strip_prefix(KEY_PREFIX)?.split(' ').peekable();
        let domain = unescape(parts.next()?)?;
        let mut level = self.domains.get(domain.as_str())?;
        let mut again = String::with_capacity(key.len());
        again.push_str(KEY_PREFIX);
        push_escaped(&mut again, &domain);
        if parts.peek().is_some_and(|p| overrides::is_spec(p)) {
            return overrides::limit_of_key(&domain, parts, again, key, &self.defaults);
        }
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
                    let (next, counted, _) = entry.find(&value)?;
                    counted.push(&mut again);
                    next
                }
            };
            level = &next.children;
            node = Some(next);
        }
        let limit = node?.limit.as_ref()?;
        match limit.kind {
            LimitKind::Bucket(bucket) if again == key => Some((Arc::clone(&limit.path), bucket)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;

//! envoyproxy/ratelimit's YAML files, read into a [`DescriptorSet`] with
//! errors that name the file, the domain and the descriptor.
//!
//! ```yaml
//! domain: edge
//! descriptors:
//!   - key: remote_address
//!     rate_limit: { unit: minute, requests_per_unit: 60 }
//!   - key: path
//!     value: "/api/*"
//!     descriptors:
//!       - key: plan
//!         value: free
//!         rate_limit: { name: free, unit: second, requests_per_unit: 5 }
//! ```

use std::num::NonZeroU32;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value as JsonValue;
use serde_norway::Value;

use crate::policy::algorithm::{parse_zone, window_limit, AlgorithmDefaults, AlgorithmKind};

pub use super::options::{Domains, LoadOptions};
use super::{
    escaped_len, DescriptorLimit, DescriptorSet, KeyEntry, Level, LimitKind, Node, Pattern, Unit,
    KEY_PREFIX, MAX_KEY, MAX_VALUE_IN_KEY,
};

/// Deepest nesting of descriptors accepted.
const MAX_DEPTH: usize = 16;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoot {
    domain: Option<Value>,
    descriptors: Option<Vec<RawDescriptor>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDescriptor {
    key: Option<Value>,
    value: Option<Value>,
    rate_limit: Option<RawRateLimit>,
    descriptors: Option<Vec<RawDescriptor>>,
    #[serde(default)]
    shadow_mode: bool,
    #[serde(default)]
    detailed_metric: bool,
    #[serde(default)]
    value_to_metric: bool,
    #[serde(default)]
    share_threshold: bool,
    #[serde(default)]
    quota_mode: bool,
    /// Any YAML map: returned as the response's dynamic metadata.
    metadata: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    requests_per_unit: Option<u32>,
    unit: Option<String>,
    #[serde(default)]
    unlimited: bool,
    name: Option<String>,
    replaces: Option<Vec<RawReplaces>>,
    /// Our extension: token_bucket, fixed_window, sliding_window or calendar
    /// (else the node's `--rls-algorithm`).
    algorithm: Option<String>,
    /// Our extension: the IANA zone of a calendar window (else the node's `--time-zone`).
    time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplaces {
    name: Option<String>,
}

/// A descriptor file that is refused: the file, the descriptor, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DescriptorError(pub String);

/// Reads `files` (each a name for errors, and its text): one domain per
/// file, a domain in several files as `domains` says.
pub fn parse<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    domains: Domains,
) -> Result<DescriptorSet, DescriptorError> {
    parse_with(files, domains.into(), AlgorithmDefaults::default())
}

/// [`parse`] as `options` say, limits that name no algorithm or zone taking `defaults`.
pub fn parse_with<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    options: LoadOptions,
    defaults: AlgorithmDefaults,
) -> Result<DescriptorSet, DescriptorError> {
    parse_files(files, options, defaults).map_err(DescriptorError)
}

fn parse_files<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
    options: LoadOptions,
    defaults: AlgorithmDefaults,
) -> Result<DescriptorSet, String> {
    let domains = options.domains;
    let mut set = DescriptorSet {
        quota_mode: options.quota_mode,
        defaults,
        ..DescriptorSet::default()
    };
    for (name, text) in files {
        let root: RawRoot = serde_norway::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        let domain = scalar(root.domain.as_ref()).unwrap_or_default();
        if domain.is_empty() {
            return Err(format!("{name}: domain: required, and not empty"));
        }
        if domains == Domains::Unique && set.domains.contains_key(domain.as_str()) {
            return Err(format!(
                "{name}: domain: \"{domain}\" is configured in another file too \
                 (merging them needs --rls-merge-domains)"
            ));
        }
        let place = Place {
            file: name,
            path: domain.clone(),
            depth: 0,
            key_len: KEY_PREFIX.len() + escaped_len(&domain),
            value_to_metric: false,
            defaults,
            quota_mode: options.quota_mode,
        };
        let level = set.domains.entry(domain.into()).or_default();
        load_level(&place, level, root.descriptors.unwrap_or_default())?;
    }
    Ok(set)
}

/// Where in the files a descriptor is, for errors and statistics names.
struct Place<'a> {
    file: &'a str,
    /// `domain.key_value.key`, as envoyproxy/ratelimit names statistics.
    path: String,
    depth: usize,
    /// The longest bucket key a request can make down to here.
    key_len: usize,
    /// The node's algorithm and zone for limits that name none.
    defaults: AlgorithmDefaults,
    /// `value_to_metric` on a descriptor down to here.
    value_to_metric: bool,
    /// Every limit in quota mode (`--rls-quota-mode`).
    quota_mode: bool,
}

impl Place<'_> {
    fn error(&self, reason: impl std::fmt::Display) -> String {
        format!("{}: descriptor {}: {reason}", self.file, self.path)
    }
}

fn load_level(
    parent: &Place<'_>,
    level: &mut Level,
    raw: Vec<RawDescriptor>,
) -> Result<(), String> {
    if parent.depth >= MAX_DEPTH && !raw.is_empty() {
        return Err(parent.error(format!("descriptors nest deeper than {MAX_DEPTH} levels")));
    }
    for descriptor in raw {
        let (place, key, value) = place_of(parent, &descriptor)?;
        let node = load_node(&place, descriptor, &value)?;
        let entry: &mut KeyEntry = level.keys.entry(key.into()).or_default();
        let taken = if value.is_empty() {
            entry.any.replace(node).is_some()
        } else if value.contains('*') {
            let twice = entry.wildcards.iter().any(|(w, _)| *w.text == *value);
            entry.wildcards.push((Pattern::new(&value), node));
            twice
        } else {
            entry.values.insert(value.into(), node).is_some()
        };
        if taken {
            return Err(place.error("configured twice at this level"));
        }
    }
    Ok(())
}

/// A descriptor's place under `parent`, and its key and value (empty: any).
fn place_of<'a>(
    parent: &Place<'a>,
    raw: &RawDescriptor,
) -> Result<(Place<'a>, String, String), String> {
    let text = |field: &str, value: Option<&Value>| match value {
        None => Ok(String::new()),
        Some(v) => scalar(Some(v))
            .ok_or_else(|| parent.error(format!("{field}: text or a number, not a list or a map"))),
    };
    let (key, value) = (
        text("key", raw.key.as_ref())?,
        text("value", raw.value.as_ref())?,
    );
    let mut path = format!("{}.{key}", parent.path);
    if !value.is_empty() {
        path = format!("{path}_{value}");
    }
    // What a request's value can take in a key: see `Counted::push`.
    let digest = |prefix: &str| MAX_VALUE_IN_KEY.max(escaped_len(prefix) + 33);
    let value_len = match value.contains('*') {
        _ if value.is_empty() => digest(""),
        true if raw.share_threshold => escaped_len(&value),
        true => digest(Pattern::new(&value).key_name()),
        false => escaped_len(&value),
    };
    let place = Place {
        file: parent.file,
        path,
        depth: parent.depth + 1,
        key_len: parent.key_len + 2 + escaped_len(&key) + value_len,
        value_to_metric: parent.value_to_metric || raw.value_to_metric,
        defaults: parent.defaults,
        quota_mode: parent.quota_mode,
    };
    if key.is_empty() {
        return Err(place.error("key: required, and not empty"));
    }
    if !value.contains('*') && escaped_len(&value) > MAX_VALUE_IN_KEY {
        return Err(place.error(format!(
            "value: at most {MAX_VALUE_IN_KEY} bytes (each byte outside visible ASCII counts 3)"
        )));
    }
    Ok((place, key, value))
}

fn load_node(place: &Place<'_>, mut raw: RawDescriptor, value: &str) -> Result<Node, String> {
    if raw.share_threshold && !value.contains('*') {
        return Err(place.error("share_threshold: only for a wildcard value (holding a '*')"));
    }
    let limit = match raw.rate_limit.take() {
        Some(_) if place.key_len > MAX_KEY => {
            return Err(place.error(format!(
                "nested too deep, or names too long, for a bucket key of at most {MAX_KEY} bytes"
            )))
        }
        Some(rate) => Some(Arc::new(load_limit(place, &raw, rate)?)),
        None => None,
    };
    let mut node = Node {
        limit,
        share: raw.share_threshold,
        value_to_metric: raw.value_to_metric,
        children: Level::default(),
    };
    load_level(
        place,
        &mut node.children,
        raw.descriptors.unwrap_or_default(),
    )?;
    Ok(node)
}

fn load_limit(
    place: &Place<'_>,
    raw: &RawDescriptor,
    rate: RawRateLimit,
) -> Result<DescriptorLimit, String> {
    let unit = rate.unit.as_deref().map(|u| {
        Unit::parse(u).ok_or_else(|| {
            place.error(format!(
                "rate_limit.unit: \"{u}\" is not one of {}",
                Unit::NAMES
            ))
        })
    });
    let requests_per_unit = rate.requests_per_unit.unwrap_or(0);
    let (unit, kind) = match (rate.unlimited, unit) {
        (true, Some(_)) => {
            return Err(place.error("rate_limit.unit: not with unlimited: true"));
        }
        (true, None) => (Unit::Second, LimitKind::Unlimited),
        (false, None) => {
            return Err(place.error(format!("rate_limit.unit: required ({})", Unit::NAMES)));
        }
        (false, Some(unit)) => {
            let unit = unit?;
            (unit, bucket(place, &rate, unit, requests_per_unit)?)
        }
    };
    let name = rate.name.filter(|n| !n.is_empty());
    let mut replaces = Vec::new();
    for replaced in rate.replaces.unwrap_or_default() {
        match replaced.name.filter(|n| !n.is_empty()) {
            None => return Err(place.error("rate_limit.replaces: each entry needs a name")),
            Some(r) if Some(&r) == name.as_ref() => {
                return Err(place.error("rate_limit.replaces: a limit cannot replace itself"))
            }
            Some(r) => replaces.push(Arc::from(r)),
        }
    }
    Ok(DescriptorLimit {
        path: place.path.as_str().into(),
        name: name.map(Arc::from),
        requests_per_unit,
        unit,
        kind,
        shadow: raw.shadow_mode,
        replaces,
        detailed_metric: raw.detailed_metric,
        value_to_metric: place.value_to_metric,
        quota_mode: raw.quota_mode || place.quota_mode,
        metadata: metadata(place, raw.metadata.as_ref())?,
        overridden: false,
    })
}

/// `metadata`: a map of anything YAML holds, as JSON (map keys as text, as
/// envoyproxy/ratelimit writes them); `None` when absent or empty.
fn metadata(place: &Place<'_>, raw: Option<&Value>) -> Result<Option<Arc<JsonValue>>, String> {
    let Some(raw) = raw.filter(|m| !m.is_null()) else {
        return Ok(None);
    };
    if !raw.is_mapping() {
        return Err(place.error("metadata: a map"));
    }
    let json = serde_json::to_value(raw).map_err(|e| place.error(format!("metadata: {e}")))?;
    Ok(Some(Arc::new(json)).filter(|m| m.as_object().is_some_and(|o| !o.is_empty())))
}

/// `requests_per_unit` tokens, refilled evenly over the unit; or as many
/// requests per window of the unit, under the algorithm the limit (or the node) names.
fn bucket(
    place: &Place<'_>,
    rate: &RawRateLimit,
    unit: Unit,
    requests: u32,
) -> Result<LimitKind, String> {
    let kind = match rate.algorithm.as_deref() {
        None => place.defaults.rls,
        Some(text) => AlgorithmKind::parse(text).ok_or_else(|| {
            place.error(format!(
                "rate_limit.algorithm: \"{text}\" is not one of {}",
                AlgorithmKind::NAMES
            ))
        })?,
    };
    let zone = match rate.time_zone.as_deref() {
        None => place.defaults.time_zone,
        Some(_) if kind != AlgorithmKind::Calendar => {
            return Err(place.error("rate_limit.time_zone: only with algorithm: calendar"))
        }
        Some(name) => parse_zone(name).ok_or_else(|| {
            place.error(format!(
                "rate_limit.time_zone: \"{name}\" is not an IANA time zone such as America/New_York"
            ))
        })?,
    };
    if let (Some(capacity), true) = (
        NonZeroU32::new(requests),
        kind != AlgorithmKind::TokenBucket,
    ) {
        return window_limit(kind, capacity, unit, zone)
            .map(LimitKind::Bucket)
            .map_err(|e| place.error(format!("rate_limit.unit: {e}")));
    }
    LimitKind::of(requests, unit)
        .map_err(|e| place.error(format!("rate_limit.requests_per_unit: {e}")))
}

/// A key or value as text: YAML may write `value: 42` or `value: true`.
fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
#[path = "yaml_tests.rs"]
mod tests;

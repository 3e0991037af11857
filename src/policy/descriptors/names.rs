//! Statistics names with the request's values, as envoyproxy/ratelimit names
//! them: `detailed_metric` names every entry by its value
//! (`edge.user_alice.path_/x`), a wildcard with `share_threshold` by its
//! pattern; `value_to_metric` puts the value in where an entry matched a
//! wildcard or a key with no value of a descriptor that has it; an override
//! is named by the request's entries. Each value is cut to
//! [`MAX_NAME_VALUE`] bytes so a name stays small.

use super::{DescriptorLimit, DescriptorSet, How, Node};

/// Longest value written into a name, in bytes.
pub const MAX_NAME_VALUE: usize = 64;

impl DescriptorSet {
    /// The statistics name of `limit` (what [`DescriptorSet::resolve`] found
    /// for `entries` of `domain`) with the request's values in it, written
    /// into `name` (cleared first); `false` (and `name` empty) when the
    /// configured name is the name.
    pub fn metric_name(
        &self,
        domain: &str,
        entries: &[(&str, &str)],
        limit: &DescriptorLimit,
        name: &mut String,
    ) -> bool {
        name.clear();
        if !(limit.detailed_metric || limit.value_to_metric) {
            return false;
        }
        name.push_str(domain);
        if limit.overridden {
            for (key, value) in entries {
                push(name, key, Some(*value).filter(|v| !v.is_empty()));
            }
            return true;
        }
        let mut shared = false;
        self.each_match(domain, entries, |_, _, how, node| {
            shared |= node.share && matches!(how, How::Wildcard(_));
        });
        self.each_match(domain, entries, |key, value, how, node| {
            let shown = match how {
                How::Wildcard(pattern) if node.share => Some(pattern),
                _ if limit.detailed_metric => Some(value).filter(|v| !shared || !v.is_empty()),
                How::Exact => Some(value),
                How::Wildcard(_) if node.value_to_metric => Some(value),
                How::Wildcard(pattern) => Some(pattern),
                How::Any => Some(value).filter(|v| node.value_to_metric && !v.is_empty()),
            };
            push(name, key, shown);
        });
        true
    }

    /// Tells `each` how every entry matched, down the descriptors.
    fn each_match<'s>(
        &'s self,
        domain: &str,
        entries: &[(&str, &str)],
        mut each: impl FnMut(&str, &str, How<'s>, &'s Node),
    ) {
        let Some(mut level) = self.domains.get(domain) else {
            return;
        };
        for (key, value) in entries {
            let Some((node, _, how)) = level.keys.get(*key).and_then(|e| e.find(value)) else {
                return;
            };
            each(key, value, how, node);
            level = &node.children;
        }
    }
}

/// Writes `.key`, and `_value` (cut to [`MAX_NAME_VALUE`] bytes, at a
/// character's start) if there is one.
fn push(name: &mut String, key: &str, value: Option<&str>) {
    name.push('.');
    name.push_str(key);
    if let Some(value) = value {
        let mut end = value.len().min(MAX_NAME_VALUE);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        name.push('_');
        name.push_str(&value[..end]);
    }
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;

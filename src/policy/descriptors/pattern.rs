//! Wildcard values: each `*` in a configured value matches any run of bytes,
//! none included (`bar*b`, `foo*bar*baz`), as envoyproxy/ratelimit matches
//! them. Split once when the file is read, so matching allocates nothing.

/// A configured value holding at least one `*`.
#[derive(Debug)]
pub(super) struct Pattern {
    /// As written: the bucket key of a shared wildcard, and the statistics name.
    pub(super) text: Box<str>,
    /// `text` split on `*`: the first must start a value, the last end it,
    /// the others appear in between, in order.
    parts: Vec<Box<str>>,
}

impl Pattern {
    pub(super) fn new(text: &str) -> Self {
        Self {
            text: text.into(),
            parts: text.split('*').map(Box::from).collect(),
        }
    }

    /// Whether `value` matches: it starts with the first part, ends with the
    /// last, holds the others in order between them, and is at least as
    /// long as all parts together (so the first and last never overlap).
    pub(super) fn matches(&self, value: &str) -> bool {
        let [first, middle @ .., last] = &self.parts[..] else {
            return *self.text == *value;
        };
        let fixed: usize = self.parts.iter().map(|p| p.len()).sum();
        if value.len() < fixed || !value.starts_with(&**first) || !value.ends_with(&**last) {
            return false;
        }
        // Both ends are char boundaries: the value starts and ends with them.
        let mut rest = &value[first.len()..value.len() - last.len()];
        for part in middle {
            match rest.find(&**part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        true
    }

    /// How a digested value's bucket key names this pattern: a trailing
    /// wildcard by its prefix (as keys always have), any other whole, `*`s
    /// included, so the two forms never meet.
    pub(super) fn key_name(&self) -> &str {
        match self.text.strip_suffix('*') {
            Some(prefix) if !prefix.contains('*') => prefix,
            _ => &self.text,
        }
    }
}

#[cfg(test)]
#[path = "pattern_tests.rs"]
mod tests;

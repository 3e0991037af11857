//! How descriptor bucket keys write names and values: escaped so a key
//! splits back into its parts, and a value too long to write as it is
//! written as the wildcard that matched it and a digest.

use std::fmt::Write as _;

use sha1::{Digest, Sha1};

use super::MAX_VALUE_IN_KEY;

/// What an entry's part of a bucket key holds.
pub(super) enum Counted<'a> {
    /// The value, matched by the wildcard `prefix` names (`Pattern::key_name`), or by no wildcard.
    Value { value: &'a str, prefix: &'a str },
    /// The wildcard every value under it shares (`share_threshold`).
    Shared(&'a str),
}

impl Counted<'_> {
    /// Writes the value escaped, or, when that is longer than
    /// [`MAX_VALUE_IN_KEY`], the matching wildcard's name, `#` and a digest of the
    /// value: the same value always makes the same key, and the key still
    /// matches the same descriptor when read back.
    pub(super) fn push(&self, key: &mut String) {
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

/// Writes `text` with every byte outside visible ASCII, and `%`, `=`, `#`
/// and space, as `%XX`: values from requests can hold anything, a key must
/// split back into its parts, and `#` starts a digest only.
pub(super) fn push_escaped(key: &mut String, text: &str) {
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
pub(super) fn escaped_len(text: &str) -> usize {
    text.bytes()
        .map(
            |byte| match byte.is_ascii_graphic() && !matches!(byte, b'%' | b'=' | b'#') {
                true => 1,
                false => 3,
            },
        )
        .sum()
}

pub(super) fn unescape(text: &str) -> Option<String> {
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

//! The one form of a request path the gateway matches routes and rules on,
//! and forwards: percent-encoded unreserved characters decoded (so `%65` is
//! `e` for routes, rules and upstream alike), and anything an upstream could
//! resolve to another path refused — dot segments, literal or encoded, also
//! with a path parameter (`..;x`, which Tomcat and Jetty resolve), empty
//! segments, encoded `/`, `\` or NUL, a double-encoded character (`%252e`,
//! which an upstream that decodes twice reads as `.`), and encoded bytes
//! that are not UTF-8 (`%c0%ae`, an overlong `.`). Otherwise
//! `/public/../admin` would match the `/public` route and reach `/admin`
//! upstream.

/// Why a path is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PathError(&'static str);

/// The canonical form of `path` (the raw request path, without the query).
pub fn canonical(path: &str) -> Result<String, PathError> {
    if !path.starts_with('/') {
        return Err(PathError("must start with `/`"));
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = path
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(PathError("a `%` not followed by two hex digits"))?;
            match hex {
                b'/' | b'\\' | 0 => return Err(PathError("an encoded `/`, `\\` or NUL")),
                b'%' if hex_pair(path.get(i + 3..i + 5)) => {
                    return Err(PathError(
                        "a double-encoded character (`%25` and hex digits)",
                    ))
                }
                c if c.is_ascii_alphanumeric() || b"-._~".contains(&c) => out.push(c as char),
                _ => out.push_str(&path[i..i + 3]),
            }
            i += 3;
            continue;
        }
        if b == b'\\' || b == 0 {
            return Err(PathError("a `\\` or NUL"));
        }
        out.push(b as char);
        i += 1;
    }
    // Every segment but a last empty one (a trailing `/`) must be a name.
    let segments: Vec<&str> = out[1..].split('/').collect();
    for (n, segment) in segments.iter().enumerate() {
        match without_parameters(segment) {
            "." | ".." => return Err(PathError("a `.` or `..` segment (a `;` parameter aside)")),
            "" if n + 1 < segments.len() => return Err(PathError("an empty segment (`//`)")),
            _ => {}
        }
    }
    if !encoded_bytes_are_utf8(&out) {
        return Err(PathError(
            "encoded bytes that are not UTF-8 (an overlong or broken sequence)",
        ));
    }
    Ok(out)
}

/// Whether `text` is two hex digits: after `%25`, a `%XX` once decoded.
fn hex_pair(text: Option<&str>) -> bool {
    text.is_some_and(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A segment before its path parameters (`;`, literal or encoded), as
/// Tomcat and Jetty read it: `..;x` is `..` to them.
fn without_parameters(segment: &str) -> &str {
    let bytes = segment.as_bytes();
    let parameter = |i: usize| {
        bytes[i] == b';'
            || (bytes[i] == b'%'
                && bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.eq_ignore_ascii_case(b"3b")))
    };
    match (0..bytes.len()).find(|&i| parameter(i)) {
        Some(end) => &segment[..end],
        None => segment,
    }
}

/// Whether the percent-encoded bytes of `path` (already canonical: every
/// `%` starts an escape) decode to UTF-8. Checked only when one of them is
/// not ASCII, so plain paths cost a scan.
fn encoded_bytes_are_utf8(path: &str) -> bool {
    let high = |b: &[u8]| b.len() >= 3 && b[0] == b'%' && b[1] >= b'8';
    let bytes = path.as_bytes();
    if !(0..bytes.len()).any(|i| high(&bytes[i..])) {
        return true;
    }
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;

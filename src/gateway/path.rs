//! The one form of a request path the gateway matches routes and rules on,
//! and forwards: percent-encoded unreserved characters decoded (so `%65` is
//! `e` for routes, rules and upstream alike), and anything an upstream could
//! resolve to another path refused — dot segments, literal or encoded,
//! empty segments, encoded `/`, `\` or NUL. Otherwise `/public/../admin`
//! would match the `/public` route and reach `/admin` upstream.

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
        match *segment {
            "." | ".." => return Err(PathError("a `.` or `..` segment")),
            "" if n + 1 < segments.len() => return Err(PathError("an empty segment (`//`)")),
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_pass_unchanged_and_unreserved_escapes_are_decoded() {
        for (raw, canon) in [
            ("/", "/"),
            ("/api/orders/7", "/api/orders/7"),
            ("/api/orders/", "/api/orders/"),
            ("/api/%65xpensive", "/api/expensive"),
            ("/a%7Eb", "/a~b"),
            ("/q%20space", "/q%20space"),
            ("/file.v2..txt", "/file.v2..txt"),
        ] {
            assert_eq!(canonical(raw).as_deref(), Ok(canon), "{raw}");
        }
    }

    #[test]
    fn paths_an_upstream_would_resolve_elsewhere_are_refused() {
        for raw in [
            "/public/../admin",
            "/public/%2e%2e/admin",
            "/public/%2E./admin",
            "/api/./expensive",
            "/api/..",
            "/api//expensive",
            "//api",
            "/a%2fb",
            "/a%5Cb",
            "/a\\b",
            "/a%00",
            "/a%zz",
            "/a%2",
            "api",
        ] {
            assert!(canonical(raw).is_err(), "{raw}");
        }
    }
}

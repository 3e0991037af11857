//! The refusals actix-http's parser answers by itself, before any route
//! runs: a head it cannot parse (400), one too large (431), one not sent in
//! time (408), each with an empty body. [`canned`] finds such an answer in
//! the bytes about to be written, and [`explain`] says from the start of
//! the request as it was read what the client got wrong, as the JSON error
//! every other refusal is — `X-User-ID` with a control character is
//! `user_id_control_character` as on `/protected`, another header's bad
//! byte names that header, and on `/v1/forward-auth` a bad user header is
//! its 401. Pure: bytes in, an [`ApiError`] out.

use std::time::Duration;

use actix_web::http::header::HeaderName;
use actix_web::ResponseError;

use crate::http_api::decide::forward_auth;
use crate::http_api::wire::error::{validate_user_id, ApiError};

/// Longest request head actix-http reads (its `MAX_BUFFER_SIZE`).
pub const MAX_HEAD_BYTES: usize = 131_072;
/// Most header lines actix-http takes (its `MAX_HEADERS`).
pub const MAX_HEADERS: usize = 96;

/// Which answer of the parser's own it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Canned {
    /// 400: a head it could not parse.
    Malformed,
    /// 431: a head past its bounds.
    TooLarge,
    /// 408: a head not sent in time.
    Timeout,
}

const STATUS_LINES: [(&[u8], Canned); 3] = [
    (b"HTTP/1.1 400 Bad Request\r\n", Canned::Malformed),
    (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        Canned::TooLarge,
    ),
    (b"HTTP/1.1 408 Request Timeout\r\n", Canned::Timeout),
];
const EMPTY: &[u8] = b"content-length: 0\r\n";
const CLOSE: &[u8] = b"connection: close\r\n";
/// `date: ` + an IMF-fixdate (always 29 bytes) + the end of the head.
const DATE_LINE: usize = 6 + 29 + 4;

/// Where a canned answer starts in `out`, the bytes about to be written,
/// and which it is: only when `out` ends with one, exactly as actix-http
/// writes it (status line, `content-length: 0`, maybe `connection: close`,
/// `date`, and nothing else — any answer of ours has a `content-type`).
pub fn canned(out: &[u8]) -> Option<(usize, Canned)> {
    let date_at = out.len().checked_sub(DATE_LINE)?;
    let date = &out[date_at..];
    if !date.starts_with(b"date: ") || !date.ends_with(b" GMT\r\n\r\n") {
        return None;
    }
    for close in [CLOSE, b""] {
        let Some(empty_at) = date_at.checked_sub(close.len() + EMPTY.len()) else {
            continue;
        };
        let (empty, rest) = out[empty_at..date_at].split_at(EMPTY.len());
        if empty != EMPTY || rest != close {
            continue;
        }
        for (line, kind) in STATUS_LINES {
            let start = empty_at.checked_sub(line.len());
            if let Some(start) = start.filter(|s| &out[*s..empty_at] == line) {
                return Some((start, kind));
            }
        }
    }
    None
}

/// The date of a canned answer at the end of `out` (found by [`canned`]).
pub fn date_of(out: &[u8]) -> &[u8] {
    let at = out.len() - DATE_LINE + 6;
    &out[at..at + 29]
}

/// What the node knows when it explains a refusal.
pub struct Explain<'a> {
    /// The header naming the user on `/v1/forward-auth`.
    pub forward_auth_user: &'a HeaderName,
    /// `--head-timeout-ms`.
    pub head_timeout: Duration,
}

/// What the client got wrong, from `window` (the first bytes of the
/// request as read). `None` when the window holds a whole, well-formed
/// head: then the answer was not the parser's (an upstream's bare answer,
/// relayed) and goes out as it is.
pub fn explain(canned: Canned, window: &[u8], ctx: &Explain) -> Option<ApiError> {
    let end = head_end(window);
    match canned {
        Canned::Timeout => end.is_none().then(|| ApiError::HeadTimeout {
            timeout_ms: u64::try_from(ctx.head_timeout.as_millis()).unwrap_or(u64::MAX),
        }),
        Canned::TooLarge => {
            // A head that did not end within the window, or one of more
            // header lines (the request line aside) than the parser takes.
            let headers = end.map_or(usize::MAX, |end| {
                let lines = window[..end].split(|b| *b == b'\n');
                let lines = lines.filter(|l| !l.is_empty() && *l != b"\r");
                lines.count().saturating_sub(1)
            });
            (headers > MAX_HEADERS).then_some(ApiError::HeadTooLarge {
                max_bytes: MAX_HEAD_BYTES,
                max_headers: MAX_HEADERS,
            })
        }
        Canned::Malformed => malformed(&window[..end.unwrap_or(window.len())], end.is_some(), ctx),
    }
}

/// Where the head ends in `bytes` (after its blank line), if it does.
fn head_end(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len()).find_map(|i| match &bytes[i..] {
        [b'\n', b'\n', ..] => Some(i + 2),
        [b'\n', b'\r', b'\n', ..] => Some(i + 3),
        _ => None,
    })
}

/// A head the parser refused: the first thing wrong in it.
fn malformed(head: &[u8], complete: bool, ctx: &Explain) -> Option<ApiError> {
    // Lines end in CRLF (or a bare LF, which the parser takes); an empty
    // line before the request line is allowed (RFC 9112 §2.2).
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .skip_while(|l| l.is_empty());
    let request_line = lines.next().unwrap_or_default();
    let (path, http_11) = match request_line_parts(request_line) {
        Ok(parts) => parts,
        Err(reason) => return Some(ApiError::field("request-line", reason)),
    };
    let forward_auth = path
        .strip_prefix(forward_auth::PATH.as_bytes())
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"/"));
    let mut headers = Vec::new();
    for (n, line) in lines.take_while(|l| !l.is_empty()).enumerate() {
        let (name, value) = match header_parts(line, n + 1) {
            Ok(parts) => parts,
            Err(error) => return Some(error),
        };
        if let Some(error) = bad_value(name, value, forward_auth, ctx) {
            return Some(error);
        }
        headers.push((name, value));
    }
    if !complete {
        return Some(ApiError::field(
            "headers",
            "the request head is not HTTP/1.1 (cut short, or a line the parser refuses)",
        ));
    }
    framing(&headers, http_11)
}

/// The path and whether the version is 1.1, of `METHOD SP TARGET SP HTTP/1.x`.
fn request_line_parts(line: &[u8]) -> Result<(&[u8], bool), String> {
    let mut parts = line.split(|b| *b == b' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    match (method, target, version, parts.next()) {
        (Some(m), Some(t), Some(v), None)
            if !m.is_empty()
                && m.iter().all(is_token)
                && !t.is_empty()
                && t.iter().all(u8::is_ascii_graphic)
                && (v == b"HTTP/1.1" || v == b"HTTP/1.0") =>
        {
            let path = t.split(|b| *b == b'?').next().unwrap_or_default();
            Ok((path, v == b"HTTP/1.1"))
        }
        _ => Err(
            "not `METHOD /path HTTP/1.1` in visible ASCII (a control character, or a missing part)"
                .into(),
        ),
    }
}

/// A header line's name and value (spaces and tabs around it trimmed), or
/// why line `n` of the headers is none.
fn header_parts(line: &[u8], n: usize) -> Result<(&[u8], &[u8]), ApiError> {
    let colon = line.iter().position(|b| *b == b':');
    let name = colon
        .map(|c| &line[..c])
        .filter(|name| !name.is_empty() && name.iter().all(is_token));
    match (name, colon) {
        (Some(name), Some(colon)) => Ok((name, line[colon + 1..].trim_ascii())),
        _ => Err(ApiError::field(
            "headers",
            format!("header line {n} is not `Name: value` with a name of letters, digits and !#$%&'*+-.^_`|~"),
        )),
    }
}

/// A byte of a method or a header name (RFC 9110 `tchar`).
fn is_token(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b)
}

/// The error of a header value the parser refuses, if `value` is one.
fn bad_value(name: &[u8], value: &[u8], forward_auth: bool, ctx: &Explain) -> Option<ApiError> {
    let allowed = |b: &u8| *b == b'\t' || *b >= b' ' && *b != 0x7f;
    let at = value.iter().position(|b| !allowed(b))?;
    let shown = String::from_utf8_lossy(name).into_owned();
    let user_header = if forward_auth {
        ctx.forward_auth_user.as_str()
    } else {
        "x-user-id"
    };
    if !name.eq_ignore_ascii_case(user_header.as_bytes()) {
        return Some(ApiError::field(
            shown,
            format!(
                "byte {at} is the control character 0x{:02x}; a header value is visible ASCII, spaces and tabs",
                value[at]
            ),
        ));
    }
    let error = validate_user_id(value).err()?;
    Some(match forward_auth {
        // nginx passes a 401 on, but turns a 400 into a 500.
        true => forward_auth::unidentified(error, ctx.forward_auth_user),
        false => error,
    })
}

/// The framing the parser checks once a head parses: `Host` in HTTP/1.1, a
/// `Content-Length` that is one number, `Transfer-Encoding` only in 1.1 and
/// ending in `chunked`. `None`: nothing wrong with the head.
fn framing(headers: &[(&[u8], &[u8])], http_11: bool) -> Option<ApiError> {
    let named = |name: &'static str| {
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    };
    if http_11 && named("host").next().is_none() {
        return Some(ApiError::field("Host", "required in an HTTP/1.1 request"));
    }
    let lengths: Vec<&[u8]> = named("content-length").collect();
    let number = |v: &&[u8]| !v.is_empty() && v.iter().all(u8::is_ascii_digit);
    if !lengths.iter().all(number) || lengths.windows(2).any(|w| w[0] != w[1]) {
        return Some(ApiError::field(
            "Content-Length",
            "a whole number of bytes, and the same if sent twice",
        ));
    }
    if let Some(coding) = named("transfer-encoding").next_back() {
        let chunked = coding
            .rsplit(|b| *b == b',')
            .next()
            .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        if !http_11 || !chunked {
            return Some(ApiError::field(
                "Transfer-Encoding",
                "HTTP/1.1 only, its last coding `chunked`",
            ));
        }
    }
    None
}

/// The bytes of `error` as a whole answer (dated `date`, if given),
/// closing the connection.
pub fn answer(error: &ApiError, date: Option<&[u8]>) -> Vec<u8> {
    let status = error.status_code();
    let mut body = actix_web::web::BytesMut::new();
    error.write_json(&mut body);
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        body.len()
    );
    let mut out = Vec::with_capacity(head.len() + 40 + body.len());
    out.extend_from_slice(head.as_bytes());
    if let Some(date) = date {
        out.extend_from_slice(b"date: ");
        out.extend_from_slice(date);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
#[path = "head_refusal_tests.rs"]
mod tests;

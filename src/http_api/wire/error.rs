//! API errors and their JSON form: `{"error": code, "detail": text}` with the right status.

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::web::BytesMut;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::response::write_json;

use crate::policy::rules::{valid_id, MAX_ID};

/// Longest accepted `X-User-ID`, in bytes.
pub const MAX_USER_ID_LEN: usize = MAX_ID;

/// A request the API refuses. Nothing was decided or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No `X-User-ID` header.
    #[error("the X-User-ID header is required")]
    MissingUserId,
    /// More than one `X-User-ID` header: which one to count is ambiguous.
    #[error("send exactly one X-User-ID header")]
    MultipleUserIds,
    /// `X-User-ID` present but empty.
    #[error("X-User-ID must not be empty")]
    EmptyUserId,
    /// `X-User-ID` longer than [`MAX_USER_ID_LEN`].
    #[error("X-User-ID is {0} bytes; at most 256 are allowed")]
    UserIdTooLong(usize),
    /// A byte outside ASCII.
    #[error("X-User-ID byte {position} is 0x{byte:02x}, not ASCII; only visible ASCII (0x21-0x7e) is allowed")]
    UserIdNotAscii { position: usize, byte: u8 },
    /// A control character (including tab and DEL).
    #[error("X-User-ID byte {position} is the control character 0x{byte:02x}; only visible ASCII (0x21-0x7e) is allowed")]
    UserIdControlCharacter { position: usize, byte: u8 },
    /// A space inside the value.
    #[error("X-User-ID byte {position} is a space; only visible ASCII (0x21-0x7e) is allowed")]
    UserIdContainsSpace { position: usize },
    /// A method the route does not serve.
    #[error("{route} accepts {allow} only")]
    MethodNotAllowed {
        route: &'static str,
        allow: &'static str,
    },
    /// Gateway: the caller could not be identified for the route; `code`
    /// says why (`missing_credential`, `expired`, `bad_signature`…).
    #[error("route {route}: {detail}")]
    Unauthenticated {
        route: String,
        code: &'static str,
        detail: String,
    },
    /// Gateway: a request body beyond the route's limit.
    #[error("route {route}: the request body is larger than {limit} bytes")]
    TooLarge { route: String, limit: u64 },
    /// Gateway: no upstream of the route could be reached, or one broke off.
    #[error("route {route}: no upstream answered: {detail}")]
    BadGateway { route: String, detail: String },
    /// Gateway: the upstream did not answer in the route's time.
    #[error("route {route}: the upstream did not answer in time")]
    UpstreamTimeout { route: String },
    /// No such route.
    #[error("no such route; the API is POST /protected, POST /v1/check, POST /v1/checks, /v1/forward-auth, /v1/admin/…, GET /metrics, /healthz, /readyz, /v1/cluster, and the status page at GET / or /status")]
    NotFound,
    /// A field of a JSON body (or a header or path part) that is missing or wrong.
    #[error("`{field}`: {reason}")]
    InvalidField { field: String, reason: String },
    /// The body is not a JSON object.
    #[error("the body must be a JSON object: {0}")]
    InvalidJson(String),
    /// `/v1/forward-auth`: the header naming the user (or the tenant) is
    /// missing or wrong. A 401, because nginx's `auth_request` passes only
    /// 2xx, 401 and 403 through and turns anything else into a 500.
    #[error("`{header}`: {detail}")]
    Unidentified {
        header: String,
        code: &'static str,
        detail: String,
    },
    /// An admin call without the right bearer token.
    #[error("send `Authorization: Bearer <admin token>`")]
    Unauthorized,
    /// `/status?keys=1` without the admin token: the browser is asked for it
    /// (HTTP Basic, the token as the password).
    #[error("the most-limited keys need the admin token: send it as the password of HTTP Basic (any user name) or as `Authorization: Bearer <admin token>`")]
    KeysUnauthorized,
    /// The admin API is off.
    #[error("the admin API is off; start the node with --admin-token (LIMITER_ADMIN_TOKEN) to turn it on")]
    AdminDisabled,
    /// An admin route that does not exist (said only to an authorized caller).
    #[error("no such admin route; see docs/api.md for the admin API")]
    NoSuchAdminRoute,
    /// This node holds no state for the bucket.
    #[error("this node holds no state for `{0}`: the bucket is full, or the key names no rule")]
    UnknownBucket(String),
    /// A bucket key that no rule or descriptor makes, so nothing to reset.
    #[error("no rule or descriptor makes the key `{0}`; keys are listed by GET /v1/admin/limited")]
    NoSuchBucket(String),
    /// An API key that the admin API does not know.
    #[error("the admin API knows no API key with the hash `{0}`; keys are listed by GET /v1/admin/api-keys")]
    UnknownApiKey(String),
    /// A change that would contradict what is already there.
    #[error("{0}")]
    Conflict(String),
    /// A decision API asked without the decision token. `header_only`: on
    /// forward-auth, where `Authorization` is the client's, not the proxy's.
    #[error("{}", if *header_only {
        "send the decision token as X-Limiter-Token (the proxy sets it; Authorization is the client's)"
    } else {
        "send the decision token as X-Limiter-Token or Authorization: Bearer"
    })]
    MissingDecisionToken { header_only: bool },
    /// A decision API asked with a token that is not the decision token.
    #[error("the decision token sent is not this node's")]
    BadDecisionToken,
    /// A gateway without a decision token: its clients must not spend other users' tokens.
    #[error("the decision APIs are closed on a gateway: start the node with --decision-token (LIMITER_DECISION_TOKEN) and send it from the services that ask")]
    DecisionApisClosed,
    /// A JSON API body not sent within the body timeout.
    #[error("the request body did not arrive within {timeout_ms} ms")]
    BodyTimeout { timeout_ms: u64 },
    /// Gateway: the client paused its upload longer than the route allows.
    #[error("route {route}: the request body paused for more than {idle_ms} ms")]
    UploadStalled { route: String, idle_ms: u64 },
    /// A JSON API body beyond its bound.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge { limit: u64 },
    /// A request head beyond what the parser takes.
    #[error("the request head is larger than {max_bytes} bytes or has more than {max_headers} header lines")]
    HeadTooLarge {
        max_bytes: usize,
        max_headers: usize,
    },
    /// A request head not sent within the head timeout.
    #[error("the request head did not arrive within {timeout_ms} ms")]
    HeadTimeout { timeout_ms: u64 },
    /// A connection past `--max-connections`.
    #[error("this node serves {max} connections at most; try again, or another node")]
    TooManyConnections { max: usize },
    /// Refused by the HTTP layer before any route ran (an error of actix's
    /// own, such as an extractor's): the status it chose and its words.
    #[error("{detail}")]
    Http { status: StatusCode, detail: String },
    /// A change that was not confirmed durable. It may still arrive (a
    /// broker that was slow, not gone, may take it late), so the caller repeats it.
    #[error("the change was not confirmed stored; repeat it (setting the same value again is harmless): {0}")]
    NotCommitted(String),
}

impl ApiError {
    /// A wrong field, named as the caller wrote it.
    pub fn field(field: impl Into<String>, reason: impl ToString) -> Self {
        Self::InvalidField {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// Everything an error's answer is made of, chosen in one place
/// ([`ApiError::parts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable, machine-readable code in the `error` field.
    pub code: &'static str,
    /// The header, field or path part the error names (`field`).
    pub field: Option<&'a str>,
    /// The gateway route the error is about (`route`).
    pub route: Option<&'a str>,
    /// `WWW-Authenticate`, on a 401 that asks for credentials.
    pub challenge: Option<&'static str>,
    /// `Allow`, on a 405.
    pub allow: Option<&'static str>,
    /// Whether the connection is closed after the answer: the client was
    /// still sending (or owes) bytes nobody will read.
    pub closes: bool,
}

impl<'a> Parts<'a> {
    fn new(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            code,
            field: None,
            route: None,
            challenge: None,
            allow: None,
            closes: false,
        }
    }

    /// A 400 about the `X-User-ID` header.
    fn user_id(code: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code).field(USER_ID_HEADER)
    }

    fn field(self, field: &'a str) -> Self {
        let field = Some(field);
        Self { field, ..self }
    }

    fn route(self, route: &'a str) -> Self {
        let route = Some(route);
        Self { route, ..self }
    }

    fn challenge(self, challenge: &'static str) -> Self {
        let challenge = Some(challenge);
        Self { challenge, ..self }
    }

    fn closes(self) -> Self {
        Self {
            closes: true,
            ..self
        }
    }
}

/// The challenge of a 401 that wants a bearer token.
const BEARER: &str = "Bearer";
/// The challenge of the status page's keys: the browser asks for the token.
const BASIC: &str = r#"Basic realm="crdt-limiter""#;

impl ApiError {
    /// Status, code, fields and headers of this error, from one match with
    /// an arm per variant (no catch-all: a new variant must say all of them).
    pub fn parts(&self) -> Parts<'_> {
        use ApiError as E;
        use StatusCode as S;
        let p = Parts::new;
        match self {
            E::MissingUserId => Parts::user_id("missing_user_id"),
            E::MultipleUserIds => Parts::user_id("multiple_user_ids"),
            E::EmptyUserId => Parts::user_id("empty_user_id"),
            E::UserIdTooLong(_) => Parts::user_id("user_id_too_long"),
            E::UserIdNotAscii { .. } => Parts::user_id("user_id_not_ascii"),
            E::UserIdControlCharacter { .. } => Parts::user_id("user_id_control_character"),
            E::UserIdContainsSpace { .. } => Parts::user_id("user_id_contains_space"),
            E::MethodNotAllowed { allow, .. } => Parts {
                allow: Some(allow),
                ..p(S::METHOD_NOT_ALLOWED, "method_not_allowed")
            },
            E::Unauthenticated { route, code, .. } => {
                p(S::UNAUTHORIZED, code).route(route).challenge(BEARER)
            }
            E::TooLarge { route, .. } => p(S::PAYLOAD_TOO_LARGE, "payload_too_large").route(route),
            E::BadGateway { route, .. } => p(S::BAD_GATEWAY, "bad_gateway").route(route),
            E::UpstreamTimeout { route } => p(S::GATEWAY_TIMEOUT, "upstream_timeout").route(route),
            E::NotFound | E::NoSuchAdminRoute => p(S::NOT_FOUND, "not_found"),
            E::InvalidField { field, .. } => p(S::BAD_REQUEST, "invalid_field").field(field),
            E::InvalidJson(_) => p(S::BAD_REQUEST, "invalid_json"),
            E::Unidentified { header, code, .. } => p(S::UNAUTHORIZED, code).field(header),
            E::Unauthorized => p(S::UNAUTHORIZED, "unauthorized").challenge(BEARER),
            E::KeysUnauthorized => p(S::UNAUTHORIZED, "unauthorized").challenge(BASIC),
            E::AdminDisabled => p(S::NOT_FOUND, "admin_disabled"),
            E::UnknownBucket(_) | E::NoSuchBucket(_) => p(S::NOT_FOUND, "unknown_bucket"),
            E::UnknownApiKey(_) => p(S::NOT_FOUND, "unknown_api_key"),
            E::Conflict(_) => p(S::CONFLICT, "conflict"),
            E::MissingDecisionToken { .. } => {
                p(S::UNAUTHORIZED, "missing_decision_token").field(DECISION_TOKEN_HEADER)
            }
            E::BadDecisionToken => {
                p(S::UNAUTHORIZED, "bad_decision_token").field(DECISION_TOKEN_HEADER)
            }
            E::DecisionApisClosed => p(S::FORBIDDEN, "decision_api_closed"),
            E::BodyTimeout { .. } => p(S::REQUEST_TIMEOUT, "body_timeout").closes(),
            E::UploadStalled { route, .. } => {
                p(S::REQUEST_TIMEOUT, "body_timeout").route(route).closes()
            }
            E::BodyTooLarge { .. } => p(S::PAYLOAD_TOO_LARGE, "payload_too_large").closes(),
            E::HeadTooLarge { .. } => {
                p(S::REQUEST_HEADER_FIELDS_TOO_LARGE, "request_head_too_large").closes()
            }
            E::HeadTimeout { .. } => p(S::REQUEST_TIMEOUT, "head_timeout").closes(),
            E::TooManyConnections { .. } => p(S::SERVICE_UNAVAILABLE, "too_many_connections"),
            E::NotCommitted(_) => p(S::SERVICE_UNAVAILABLE, "not_committed"),
            E::Http { status, .. } => p(*status, http_code(*status)),
        }
    }

    /// The stable, machine-readable code in the `error` field.
    pub fn code(&self) -> &'static str {
        self.parts().code
    }

    /// Appends the JSON body of this error (`/v1/checks` answers it in place
    /// of the result of an item that `/v1/check` would refuse).
    pub fn write_json(&self, buf: &mut BytesMut) {
        let parts = self.parts();
        let body = ErrorBody {
            error: parts.code,
            field: parts.field,
            route: parts.route,
            detail: self.to_string(),
        };
        write_json(buf, &body);
    }
}

/// The JSON body of every error.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// The gateway route the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'a str>,
    detail: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().status
    }

    fn error_response(&self) -> HttpResponse {
        let parts = self.parts();
        let mut response = HttpResponse::build(parts.status);
        response.insert_header(ContentType::json());
        if let Some(allow) = parts.allow {
            response.insert_header((header::ALLOW, allow));
        }
        if let Some(challenge) = parts.challenge {
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if parts.closes {
            response.force_close();
        }
        let mut body = BytesMut::new();
        self.write_json(&mut body);
        response.body(body.freeze())
    }
}

/// The header naming the user on `/protected`, as errors name it.
const USER_ID_HEADER: &str = "X-User-ID";

/// The header a decision token comes in (beside `Authorization: Bearer`).
pub const DECISION_TOKEN_HEADER: &str = "X-Limiter-Token";

/// The `error` code of a refusal actix made itself, by its status.
fn http_code(status: StatusCode) -> &'static str {
    const CODES: [(u16, &str); 7] = [
        (400, "bad_request"),
        (404, "not_found"),
        (408, "request_timeout"),
        (413, "payload_too_large"),
        (414, "uri_too_long"),
        (415, "unsupported_media_type"),
        (431, "request_head_too_large"),
    ];
    match CODES.iter().find(|(known, _)| *known == status.as_u16()) {
        Some((_, code)) => code,
        None if status.is_server_error() => "internal_error",
        None => "http_error",
    }
}

/// Checks an identifier given in field `field` (user, tenant): 1–256 bytes of visible ASCII.
pub fn validate_id<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    valid_id(value)
        .map(|()| value)
        .map_err(|reason| ApiError::field(field, reason))
}

/// Checks an `X-User-ID` value: 1–256 bytes of visible ASCII.
pub fn validate_user_id(value: &[u8]) -> Result<&str, ApiError> {
    if value.is_empty() {
        return Err(ApiError::EmptyUserId);
    }
    if value.len() > MAX_USER_ID_LEN {
        return Err(ApiError::UserIdTooLong(value.len()));
    }
    if let Some(position) = value.iter().position(|b| !b.is_ascii_graphic()) {
        let byte = value[position];
        return Err(if byte == b' ' {
            ApiError::UserIdContainsSpace { position }
        } else if byte >= 0x80 {
            ApiError::UserIdNotAscii { position, byte }
        } else {
            ApiError::UserIdControlCharacter { position, byte }
        });
    }
    // Visible ASCII is valid UTF-8.
    std::str::from_utf8(value).map_err(|_| ApiError::UserIdNotAscii {
        position: 0,
        byte: value[0],
    })
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;

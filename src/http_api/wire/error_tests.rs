//! Unit tests of `error`.

use super::*;

#[test]
fn each_error_has_its_status_code_and_fields() {
    let route = || "orders".to_string();
    for (error, status, code) in [
        (ApiError::EmptyUserId, 400, "empty_user_id"),
        (ApiError::field("plan", "unknown"), 400, "invalid_field"),
        (ApiError::InvalidJson("eof".into()), 400, "invalid_json"),
        (ApiError::Conflict("taken".into()), 409, "conflict"),
        (
            ApiError::NotCommitted("timeout".into()),
            503,
            "not_committed",
        ),
        (ApiError::KeysUnauthorized, 401, "unauthorized"),
        (
            ApiError::UpstreamTimeout { route: route() },
            504,
            "upstream_timeout",
        ),
        (ApiError::HeadTimeout { timeout_ms: 5 }, 408, "head_timeout"),
    ] {
        let parts = error.parts();
        assert_eq!(
            (parts.status.as_u16(), parts.code),
            (status, code),
            "{error:?}"
        );
    }
    let parts = ApiError::EmptyUserId.parts();
    assert_eq!((parts.field, parts.closes), (Some("X-User-ID"), false));
    let stalled = ApiError::UploadStalled {
        route: route(),
        idle_ms: 1,
    };
    let parts = stalled.parts();
    assert_eq!((parts.route, parts.closes), (Some("orders"), true));
    let teapot = ApiError::Http {
        status: StatusCode::IM_A_TEAPOT,
        detail: String::new(),
    };
    assert_eq!(teapot.code(), "http_error");
    let broken = ApiError::Http {
        status: StatusCode::BAD_GATEWAY,
        detail: String::new(),
    };
    assert_eq!(broken.code(), "internal_error");
}

#[test]
fn user_ids_are_visible_ascii_of_bounded_length() {
    assert_eq!(validate_user_id(b"alice"), Ok("alice"));
    assert_eq!(validate_user_id(&[b'x'; 256]).map(str::len), Ok(256));
    assert_eq!(validate_user_id(b"!~"), Ok("!~"));
    assert_eq!(validate_user_id(b""), Err(ApiError::EmptyUserId));
    assert_eq!(
        validate_user_id(&[b'x'; 257]),
        Err(ApiError::UserIdTooLong(257))
    );
    assert_eq!(
        validate_user_id("al\u{e9}".as_bytes()),
        Err(ApiError::UserIdNotAscii {
            position: 2,
            byte: 0xc3
        })
    );
    assert_eq!(
        validate_user_id(b"a\tb"),
        Err(ApiError::UserIdControlCharacter {
            position: 1,
            byte: 9
        })
    );
    assert_eq!(
        validate_user_id(b"a\x7f"),
        Err(ApiError::UserIdControlCharacter {
            position: 1,
            byte: 0x7f
        })
    );
    assert_eq!(
        validate_user_id(b"a b"),
        Err(ApiError::UserIdContainsSpace { position: 1 })
    );
}

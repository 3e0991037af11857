//! Unit tests of `path`.

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
        ("/caf%C3%A9/%E2%82%AC", "/caf%C3%A9/%E2%82%AC"),
        ("/a;b/..x;y", "/a;b/..x;y"),
        ("/100%25", "/100%25"),
        ("/100%25x", "/100%25x"),
        ("/100%25%20", "/100%25%20"),
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
        // Tomcat and Jetty resolve a dot segment with a path parameter.
        "/public/..;/api/x",
        "/public/..;jsessionid=1/api",
        "/public/.;x/api",
        "/public/..%3B/api",
        // Decoded twice, these are `..` and `/`.
        "/public/%252e%252e/api/x",
        "/public/%252f",
        // Overlong `.` and `/`, a lone continuation byte, a cut sequence.
        "/public/%c0%ae%c0%ae/api",
        "/a%C0%AF",
        "/a%80",
        "/a%E2%82",
    ] {
        assert!(canonical(raw).is_err(), "{raw}");
    }
}

//! Unit tests of `forward_auth`.

use actix_web::test::TestRequest;

use super::*;

fn described(req: TestRequest) -> Result<(String, String, Option<IpAddr>), ApiError> {
    let req = req
        .insert_header(("X-User-ID", "alice"))
        .peer_addr("192.0.2.1:5000".parse().unwrap())
        .to_http_request();
    describe(&req, &USER_ID).map(|r| (r.method.to_string(), r.route.to_string(), r.ip))
}

fn ip(text: &str) -> Option<IpAddr> {
    text.parse().ok()
}

#[test]
fn forwarded_headers_describe_the_original_request() {
    let req = TestRequest::get()
        .uri(PATH)
        .insert_header(("X-Forwarded-Method", "DELETE"))
        .insert_header(("X-Forwarded-Uri", "/api/orders/7?expand=1"))
        .insert_header(("X-Forwarded-Host", "shop.example:8443"))
        .insert_header(("X-Forwarded-For", "203.0.113.9, 10.0.0.1, 2001:db8::1"));
    let described = described(req).unwrap();
    assert_eq!(
        described,
        ("DELETE".into(), "/api/orders/7".into(), ip("2001:db8::1"))
    );
}

#[test]
fn without_forwarded_headers_the_request_describes_itself() {
    let envoy = TestRequest::post().uri("/v1/forward-auth/api/orders?x=1");
    assert_eq!(
        described(envoy).unwrap(),
        ("POST".into(), "/api/orders".into(), ip("192.0.2.1"))
    );
    let bare = TestRequest::get().uri(PATH);
    assert_eq!(described(bare).unwrap().1, "/");
    let nginx = TestRequest::get()
        .uri(PATH)
        .insert_header(("X-Original-URI", "/static/a.css"))
        .insert_header(("X-Real-IP", "198.51.100.4"));
    assert_eq!(
        described(nginx).unwrap(),
        ("GET".into(), "/static/a.css".into(), ip("198.51.100.4"))
    );
}

#[test]
fn the_rightmost_of_several_forwarded_for_headers_counts() {
    let req = TestRequest::get()
        .uri(PATH)
        .append_header(("X-Forwarded-For", "203.0.113.9"))
        .append_header(("X-Forwarded-For", "10.0.0.1, 10.0.0.2"))
        .insert_header(("X-Real-IP", "198.51.100.4"));
    assert_eq!(described(req).unwrap().2, ip("10.0.0.2"));
}

#[test]
fn malformed_forwarded_headers_are_named() {
    for (header, value) in [
        ("X-Forwarded-Method", "GET /"),
        ("X-Forwarded-Method", ""),
        ("X-Forwarded-Uri", "http://example.com/"),
        ("X-Original-URI", "orders"),
        ("X-Forwarded-Host", "a/b"),
        ("X-Forwarded-For", "10.0.0.1, nobody"),
        ("X-Real-IP", "localhost"),
    ] {
        let req = TestRequest::get().uri(PATH).insert_header((header, value));
        match described(req) {
            Err(ApiError::InvalidField { field, .. }) => assert_eq!(field, header),
            other => panic!("{header}: {value}: {other:?}"),
        }
    }
}

#[test]
fn identity_errors_name_the_configured_header() {
    let header = HeaderName::from_static("remote-user");
    let req = TestRequest::get()
        .uri(PATH)
        .insert_header(("X-User-ID", "alice"))
        .to_http_request();
    let error = describe(&req, &header).unwrap_err();
    assert_eq!(
        error.to_string(),
        "`remote-user`: the remote-user header is required"
    );
    assert_eq!(error.code(), "missing_user_id");
    let req = TestRequest::get()
        .uri(PATH)
        .insert_header(("Remote-User", "a b"))
        .to_http_request();
    assert_eq!(
        describe(&req, &header).unwrap_err().code(),
        "user_id_contains_space"
    );
}

//! The first-match walk: every method with good and bad credentials, the
//! order, and that a present but invalid credential never falls through.

use std::net::IpAddr;

use jsonwebtoken::Algorithm;
use serde_json::json;

use super::testkit::*;
use super::*;

/// A trusted proxy's address: the trusted header is believed from it.
const PEER: &str = "203.0.113.9";
/// A client's own address.
const CLIENT: &str = "192.0.2.1";

fn identifier() -> Identifier {
    let text = format!(
        r#"
        [api_key]
        bearer = true
        keys = [ {{ hash = "{}", user = "alice", plan = "pro" }} ]
        [jwt]
        secret = "{SECRET}"
        tenant_claim = "org"
        "#,
        hash_key("key-alice")
    );
    let proxies = TrustedProxies::parse(&["10.0.0.0/8", "203.0.113.9/32"]).unwrap();
    IdentityConfig::from_toml(&text)
        .unwrap()
        .validate(proxies, |_| None)
        .unwrap()
}

fn run(methods: &[&str], headers: &[(&str, &str)]) -> Result<Identity, IdentityError> {
    let identifier = identifier();
    let methods = identifier.methods("m", methods).unwrap();
    identifier.identify(&methods, headers, PEER.parse().unwrap(), now())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn good_jwt() -> String {
    let mut c = claims("jwt-user");
    c["org"] = json!("acme");
    token(Algorithm::HS256, None, &c, &hs_key())
}

fn expired_jwt() -> String {
    token(
        Algorithm::HS256,
        None,
        &json!({ "sub": "x", "exp": NOW_SECS - 100 }),
        &hs_key(),
    )
}

#[test]
fn the_trusted_header_identifies() {
    let id = run(&["header"], &[("X-User-ID", "bob")]).unwrap();
    assert_eq!((id.user.as_str(), id.method), ("bob", Method::Header));
    assert_eq!(id.ip, PEER.parse::<IpAddr>().unwrap());
    assert_eq!(
        run(&["header"], &[("X-User-ID", "b o b")])
            .unwrap_err()
            .code(),
        "bad_claim"
    );
    assert_eq!(
        run(&["header"], &[("X-User-ID", "")]).unwrap_err().code(),
        "bad_claim"
    );
    let twice = [("X-User-ID", "a"), ("x-user-id", "b")];
    assert_eq!(
        run(&["header"], &twice).unwrap_err().code(),
        "malformed_token"
    );
}

#[test]
fn an_api_key_identifies_with_its_plan() {
    let id = run(&["api_key"], &[("X-API-Key", "key-alice")]).unwrap();
    assert_eq!(
        (id.user.as_str(), id.plan.as_deref()),
        ("alice", Some("pro"))
    );
    assert_eq!(id.method, Method::ApiKey);
    let by_bearer = run(&["api_key"], &[("Authorization", &bearer("key-alice"))]).unwrap();
    assert_eq!(by_bearer.user, "alice");
    let e = run(&["api_key"], &[("X-API-Key", "key-mallory")]).unwrap_err();
    assert_eq!(e.code(), "unknown_key");
    assert!(!e.to_string().contains("key-mallory"), "{e}");
}

#[test]
fn a_jwt_identifies_with_its_tenant() {
    let id = run(&["jwt"], &[("Authorization", &bearer(&good_jwt()))]).unwrap();
    assert_eq!(
        (id.user.as_str(), id.tenant.as_deref()),
        ("jwt-user", Some("acme"))
    );
    assert_eq!(id.method, Method::Jwt);
    let e = run(&["jwt"], &[("Authorization", &bearer(&expired_jwt()))]).unwrap_err();
    assert_eq!(e.code(), "expired");
    let e = run(&["jwt"], &[("Authorization", "Bearer ")]).unwrap_err();
    assert_eq!(e.code(), "malformed_token");
}

#[test]
fn the_ip_method_uses_the_client_ip_behind_trusted_proxies() {
    let identifier = identifier();
    let methods = identifier.methods("m", &["ip"]).unwrap();
    let headers = [("X-Forwarded-For", "198.51.100.7")];
    let behind = identifier.identify(&methods, &headers[..], "10.0.0.1".parse().unwrap(), now());
    assert_eq!(behind.unwrap().user, "198.51.100.7");
    let spoofed = identifier.identify(&methods, &headers[..], CLIENT.parse().unwrap(), now());
    assert_eq!(spoofed.unwrap().user, CLIENT);
}

#[test]
fn the_trusted_header_from_a_client_itself_is_no_credential() {
    let identifier = identifier();
    let methods = identifier.methods("m", &["header", "ip"]).unwrap();
    let headers = [("X-User-ID", "alice")];
    let id = identifier.identify(&methods, &headers[..], CLIENT.parse().unwrap(), now());
    assert_eq!(id.unwrap().method, Method::Ip);
    let methods = identifier.methods("m", &["header"]).unwrap();
    let id = identifier.identify(&methods, &headers[..], CLIENT.parse().unwrap(), now());
    assert_eq!(id.unwrap_err().code(), "missing_credential");
}

#[test]
fn the_first_present_credential_wins_in_route_order() {
    let both = [("X-User-ID", "bob"), ("X-API-Key", "key-alice")];
    assert_eq!(run(&["header", "api_key"], &both).unwrap().user, "bob");
    assert_eq!(run(&["api_key", "header"], &both).unwrap().user, "alice");
    assert_eq!(run(&["jwt", "header"], &both).unwrap().user, "bob");
    assert_eq!(
        run(&["jwt", "api_key", "ip"], &[]).unwrap().method,
        Method::Ip
    );
}

#[test]
fn a_present_but_invalid_credential_does_not_fall_through() {
    let expired = bearer(&expired_jwt());
    type Case<'a> = (&'a [&'a str], Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 4] = [
        (&["jwt", "ip"], vec![("Authorization", &expired)], "expired"),
        (
            &["api_key", "ip"],
            vec![("X-API-Key", "key-mallory")],
            "unknown_key",
        ),
        (
            &["header", "api_key"],
            vec![("X-User-ID", "a b"), ("X-API-Key", "key-alice")],
            "bad_claim",
        ),
        (
            &["jwt", "header"],
            vec![("Authorization", &expired), ("X-User-ID", "bob")],
            "expired",
        ),
    ];
    for (methods, headers, code) in cases {
        assert_eq!(
            run(methods, &headers).unwrap_err().code(),
            code,
            "{methods:?}"
        );
    }
}

#[test]
fn an_absent_credential_everywhere_is_missing() {
    let e = run(
        &["header", "api_key", "jwt"],
        &[("Authorization", "Basic YTpi")],
    )
    .unwrap_err();
    assert_eq!(e.code(), "missing_credential");
    assert!(e.to_string().contains("x-user-id"), "{e}");
}

#[test]
fn bearer_values_go_to_the_method_they_look_like() {
    let jwt = bearer(&good_jwt());
    let key = bearer("key-alice");
    for methods in [&["api_key", "jwt"][..], &["jwt", "api_key"][..]] {
        assert_eq!(
            run(methods, &[("Authorization", &jwt)]).unwrap().method,
            Method::Jwt
        );
        assert_eq!(
            run(methods, &[("Authorization", &key)]).unwrap().method,
            Method::ApiKey
        );
    }
    // Alone, a method takes every bearer value.
    assert_eq!(
        run(&["jwt"], &[("Authorization", &key)])
            .unwrap_err()
            .code(),
        "malformed_token"
    );
    assert_eq!(
        run(&["api_key"], &[("Authorization", &jwt)])
            .unwrap_err()
            .code(),
        "unknown_key"
    );
}

#[test]
fn api_keys_beyond_the_file_are_found_by_the_live_lookup_and_the_file_wins() {
    let identifier = identifier();
    let methods = identifier.methods("m", &["api_key"]).unwrap();
    let peer: IpAddr = PEER.parse().unwrap();
    let live = |hash: &KeyHash| {
        let owner = |user: &str| KeyOwner {
            user: user.into(),
            plan: None,
        };
        match *hash {
            h if h == KeyHash::of("key-live") => Some(owner("live-user")),
            // Also listed in the file: the file's owner must win.
            h if h == KeyHash::of("key-alice") => Some(owner("mallory")),
            _ => None,
        }
    };
    let who = |key: &str| {
        identifier
            .identify_with(&methods, &[("x-api-key", key)][..], peer, now(), &live)
            .map(|id| id.user.to_string())
    };
    assert_eq!(who("key-live").unwrap(), "live-user");
    assert_eq!(who("key-alice").unwrap(), "alice");
    assert_eq!(who("key-nobody").unwrap_err().code(), "unknown_key");
}

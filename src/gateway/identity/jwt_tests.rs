//! JWT verification: HS256, RS256 and ES256 with the fixture keys; expiry,
//! not-before, issuer, audience, algorithms, claims and malformed tokens.

use std::time::Duration;

use jsonwebtoken::EncodingKey;
use serde_json::json;

use super::*;
use crate::gateway::identity::jwks::{Jwks, JwksSource, KeySet};
use crate::gateway::identity::testkit::*;

fn hs256() -> JwtVerifier {
    JwtVerifier {
        algorithms: vec![Algorithm::HS256],
        secret: Some(Secret::new(SECRET.as_bytes())),
        jwks: None,
        max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        claims: ClaimRules::default(),
    }
}

fn with_jwks(algorithms: Vec<Algorithm>, doc: &str) -> JwtVerifier {
    let jwks = Jwks::new(
        JwksSource::Url("http://127.0.0.1:9/".into()),
        Duration::from_secs(300),
    );
    jwks.replace(KeySet::parse(doc.as_bytes()).unwrap());
    JwtVerifier {
        algorithms,
        secret: None,
        jwks: Some(Arc::new(jwks)),
        ..hs256()
    }
}

fn hs(claims: &serde_json::Value) -> String {
    token(Algorithm::HS256, None, claims, &hs_key())
}

fn code(result: Result<Found, IdentityError>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn hs256_good_token_names_the_user() {
    let found = hs256().verify(&hs(&claims("alice")), now()).unwrap();
    assert_eq!(
        (found.user.as_str(), found.plan, found.tenant),
        ("alice", None, None)
    );
}

#[test]
fn hs256_expired_and_not_yet_valid_beyond_the_leeway() {
    let v = hs256();
    let old = json!({ "sub": "a", "exp": NOW_SECS - 31 });
    assert_eq!(
        v.verify(&hs(&old), now()),
        Err(IdentityError::Expired { ago_secs: 31 })
    );
    let within = json!({ "sub": "a", "exp": NOW_SECS - 29 });
    assert!(v.verify(&hs(&within), now()).is_ok());
    let future = json!({ "sub": "a", "exp": NOW_SECS + 600, "nbf": NOW_SECS + 31 });
    assert_eq!(
        v.verify(&hs(&future), now()),
        Err(IdentityError::NotYetValid { in_secs: 31 })
    );
    let soon = json!({ "sub": "a", "exp": NOW_SECS + 600, "nbf": NOW_SECS + 29 });
    assert!(v.verify(&hs(&soon), now()).is_ok());
    let no_exp = json!({ "sub": "a" });
    assert_eq!(code(v.verify(&hs(&no_exp), now())), "bad_claim");
}

#[test]
fn hs256_bad_signature_and_wrong_secret() {
    let good = hs(&claims("alice"));
    let (message, _) = good.rsplit_once('.').unwrap();
    let forged = token(
        Algorithm::HS256,
        None,
        &claims("alice"),
        &EncodingKey::from_secret(&[7; 32]),
    );
    let (_, signature) = forged.rsplit_once('.').unwrap();
    assert_eq!(
        hs256().verify(&forged, now()),
        Err(IdentityError::BadSignature)
    );
    let swapped = format!("{message}.{signature}");
    assert_eq!(
        hs256().verify(&swapped, now()),
        Err(IdentityError::BadSignature)
    );
    // Claims changed under a valid signature.
    let other = hs(&claims("mallory"));
    let (other_message, _) = other.rsplit_once('.').unwrap();
    let (_, good_sig) = good.rsplit_once('.').unwrap();
    let tampered = format!("{other_message}.{good_sig}");
    assert_eq!(
        hs256().verify(&tampered, now()),
        Err(IdentityError::BadSignature)
    );
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let mut v = hs256();
    v.claims.issuers = vec!["https://id.example".into()];
    v.claims.audiences = vec!["api".into(), "web".into()];
    let mut c = claims("alice");
    assert_eq!(v.verify(&hs(&c), now()), Err(IdentityError::BadIssuer));
    c["iss"] = json!("https://evil.example");
    assert_eq!(v.verify(&hs(&c), now()), Err(IdentityError::BadIssuer));
    c["iss"] = json!("https://id.example");
    assert_eq!(v.verify(&hs(&c), now()), Err(IdentityError::BadAudience));
    c["aud"] = json!("other");
    assert_eq!(v.verify(&hs(&c), now()), Err(IdentityError::BadAudience));
    c["aud"] = json!(["other", "web"]);
    assert!(v.verify(&hs(&c), now()).is_ok());
    c["aud"] = json!("api");
    assert!(v.verify(&hs(&c), now()).is_ok());
}

#[test]
fn alg_none_and_unconfigured_algorithms_are_refused() {
    let v = hs256();
    for alg in ["none", "None", "NONE", "HS384", "RS256", "ES256", "EdDSA"] {
        assert_eq!(
            code(v.verify(&unsigned(alg, &claims("a")), now())),
            "algorithm_not_allowed",
            "{alg}"
        );
    }
    let hs384 = token(Algorithm::HS384, None, &claims("a"), &hs_key());
    assert_eq!(code(v.verify(&hs384, now())), "algorithm_not_allowed");
    // An RS256-only verifier refuses HS256 (no key confusion with the public key).
    let rs = with_jwks(vec![Algorithm::RS256], &jwks(&[("a", "rsa")]));
    assert_eq!(
        code(rs.verify(&hs(&claims("a")), now())),
        "algorithm_not_allowed"
    );
}

#[test]
fn malformed_tokens_are_named() {
    let v = hs256();
    let big = format!("{}.{}.{}", "a".repeat(5000), "b".repeat(5000), "c");
    for bad in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.x", "e30.e30.x", &big] {
        assert_eq!(code(v.verify(bad, now())), "malformed_token", "{bad:.20}");
    }
    let crit = {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","crit":["exp"]}"#);
        format!("{h}.e30.sig")
    };
    assert_eq!(code(v.verify(&crit, now())), "malformed_token");
}

#[test]
fn user_plan_and_tenant_claims_must_be_ids() {
    let mut v = hs256();
    v.claims.user_claim = "uid".into();
    v.claims.plan_claim = Some("plan".into());
    v.claims.tenant_claim = Some("org".into());
    let c = json!({ "uid": "u1", "plan": "pro", "org": "acme", "exp": NOW_SECS + 60 });
    let found = v.verify(&hs(&c), now()).unwrap();
    assert_eq!(found.user, "u1");
    assert_eq!(found.plan.as_deref(), Some("pro"));
    assert_eq!(found.tenant.as_deref(), Some("acme"));
    let no_plan = json!({ "uid": "u1", "exp": NOW_SECS + 60 });
    assert_eq!(v.verify(&hs(&no_plan), now()).unwrap().plan, None);
    for bad in [
        json!({ "sub": "u1", "exp": NOW_SECS + 60 }),
        json!({ "uid": "has space", "exp": NOW_SECS + 60 }),
        json!({ "uid": "", "exp": NOW_SECS + 60 }),
        json!({ "uid": "x".repeat(257), "exp": NOW_SECS + 60 }),
        json!({ "uid": 42, "exp": NOW_SECS + 60 }),
        json!({ "uid": "u1", "plan": ["pro"], "exp": NOW_SECS + 60 }),
        json!({ "uid": "u1", "org": "caf\u{e9}", "exp": NOW_SECS + 60 }),
    ] {
        assert_eq!(code(v.verify(&hs(&bad), now())), "bad_claim", "{bad}");
    }
}

#[test]
fn rs256_and_es256_verify_with_jwks_keys_chosen_by_kid() {
    let v = with_jwks(
        vec![Algorithm::RS256, Algorithm::ES256],
        &jwks(&[("r", "rsa"), ("e", "ec")]),
    );
    let rs = token(Algorithm::RS256, Some("r"), &claims("alice"), &rsa_key());
    assert_eq!(v.verify(&rs, now()).unwrap().user, "alice");
    let es = token(Algorithm::ES256, Some("e"), &claims("bob"), &ec_key());
    assert_eq!(v.verify(&es, now()).unwrap().user, "bob");
    // A kid naming the other kind of key, an unknown kid, a forged signature.
    let wrong = token(Algorithm::ES256, Some("r"), &claims("bob"), &ec_key());
    assert_eq!(code(v.verify(&wrong, now())), "algorithm_not_allowed");
    let unknown = token(Algorithm::RS256, Some("zz"), &claims("alice"), &rsa_key());
    assert_eq!(code(v.verify(&unknown, now())), "unknown_key");
    let (message, _) = rs.rsplit_once('.').unwrap();
    let (_, es_sig) = es.rsplit_once('.').unwrap();
    let forged = format!("{message}.{es_sig}");
    assert_eq!(v.verify(&forged, now()), Err(IdentityError::BadSignature));
    let expired = json!({ "sub": "a", "exp": NOW_SECS - 100 });
    let old = token(Algorithm::ES256, Some("e"), &expired, &ec_key());
    assert_eq!(code(v.verify(&old, now())), "expired");
}

#[test]
fn without_kid_the_single_key_of_the_algorithm_verifies() {
    let v = with_jwks(
        vec![Algorithm::RS256, Algorithm::ES256],
        &jwks(&[("r", "rsa"), ("e", "ec")]),
    );
    let es = token(Algorithm::ES256, None, &claims("bob"), &ec_key());
    assert_eq!(v.verify(&es, now()).unwrap().user, "bob");
    let two = with_jwks(
        vec![Algorithm::RS256],
        &jwks(&[("r", "rsa"), ("r2", "rsa")]),
    );
    let rs = token(Algorithm::RS256, None, &claims("alice"), &rsa_key());
    assert_eq!(code(two.verify(&rs, now())), "unknown_key");
}

#[test]
fn bearer_values_shaped_like_jwts() {
    assert!(looks_like_jwt(&hs(&claims("a"))));
    assert!(!looks_like_jwt("sk_live_abcdef"));
    assert!(!looks_like_jwt("a.b"));
    assert!(!looks_like_jwt("a b.c.d"));
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_once_then_verifies() {
    let server = JwksServer::start(jwks(&[("old", "rsa")]));
    let cache = Arc::new(Jwks::new(
        JwksSource::Url(server.url.clone()),
        Duration::from_secs(300),
    ));
    let task = tokio::spawn(Arc::clone(&cache).run());
    let v = JwtVerifier {
        jwks: Some(Arc::clone(&cache)),
        ..with_jwks(vec![Algorithm::RS256, Algorithm::ES256], "{\"keys\":[]}")
    };
    let old = token(Algorithm::RS256, Some("old"), &claims("alice"), &rsa_key());
    assert!(eventually(Duration::from_secs(5), || v.verify(&old, now()).is_ok()).await);
    // The issuer rotates to a new key: the first token naming it is refused
    // (verifying never waits on the network) and asks for a refetch.
    server.set(200, jwks(&[("old", "rsa"), ("new", "ec")]));
    let new = token(Algorithm::ES256, Some("new"), &claims("bob"), &ec_key());
    assert_eq!(code(v.verify(&new, now())), "unknown_key");
    assert!(eventually(Duration::from_secs(5), || v.verify(&new, now()).is_ok()).await);
    // More unknown kids within 30 s fetch nothing more.
    let stray = token(Algorithm::RS256, Some("stray"), &claims("eve"), &rsa_key());
    for _ in 0..5 {
        assert_eq!(code(v.verify(&stray, now())), "unknown_key");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.hits(), 2, "the start-up fetch and one early refetch");
    task.abort();
}

#[test]
fn a_token_that_names_a_claim_twice_is_refused() {
    let exp = NOW_SECS + 600;
    let header = r#"{"alg":"HS256","typ":"JWT"}"#;
    let twice = format!(r#"{{"sub":"mallory","exp":{exp},"sub":"admin"}}"#);
    match hs256().verify(&hs_signed_text(header, &twice), now()) {
        Err(IdentityError::Malformed { reason, .. }) => {
            assert_eq!(reason, r#"the payload repeats the claim "sub""#)
        }
        other => panic!("{other:?}"),
    }
    // Once each, the same text passes; a repeated header field is refused too.
    let once = format!(r#"{{"sub":"mallory","exp":{exp}}}"#);
    assert!(hs256()
        .verify(&hs_signed_text(header, &once), now())
        .is_ok());
    let header_twice = r#"{"alg":"HS256","alg":"HS256"}"#;
    let refused = hs256().verify(&hs_signed_text(header_twice, &once), now());
    assert_eq!(code(refused), "malformed_token");
}

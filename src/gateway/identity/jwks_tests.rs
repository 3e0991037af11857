//! The JWKS cache: parsing, lookup, the file and loopback URL sources,
//! refresh, the early-refetch bound and keeping keys when a fetch fails.

use super::*;
use crate::gateway::identity::testkit::{eventually, jwks, JwksServer};

fn url_jwks(server: &JwksServer, every: Duration) -> Arc<Jwks> {
    Arc::new(Jwks::new(JwksSource::Url(server.url.clone()), every))
}

fn has(jwks: &Jwks, kid: &str) -> bool {
    matches!(
        jwks.keys().lookup(Some(kid), Algorithm::RS256),
        Lookup::Found(_)
    )
}

#[test]
fn rsa_and_p256_keys_are_kept_by_kid_with_their_algorithm() {
    let set = KeySet::parse(jwks(&[("a", "rsa"), ("b", "ec")]).as_bytes()).unwrap();
    assert_eq!(set.len(), 2);
    let Lookup::Found(a) = set.lookup(Some("a"), Algorithm::RS256) else {
        panic!("a")
    };
    assert_eq!(a.alg, Algorithm::RS256);
    let Lookup::Found(b) = set.lookup(Some("b"), Algorithm::ES256) else {
        panic!("b")
    };
    assert_eq!(b.alg, Algorithm::ES256);
    assert!(matches!(
        set.lookup(Some("c"), Algorithm::RS256),
        Lookup::Unknown
    ));
}

#[test]
fn unusable_keys_are_skipped_and_non_jwks_refused() {
    let text = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},
        {"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"},
        {"kty":"EC","kid":"p384","crv":"P-384","x":"AA","y":"AA"},
        {"kty":"RSA","kid":"odd","alg":"ES256","n":"AQAB","e":"AQAB"},
        {"what":"ever"}]}"#;
    assert!(KeySet::parse(text.as_bytes()).unwrap().is_empty());
    assert!(KeySet::parse(b"[]")
        .unwrap_err()
        .to_string()
        .contains("not a JWKS"));
    assert!(KeySet::parse(b"<html>").is_err());
}

#[test]
fn without_kid_the_only_key_of_the_algorithm_is_used() {
    let text = jwks(&[("a", "rsa"), ("b", "ec")]);
    let set = KeySet::parse(text.as_bytes()).unwrap();
    assert!(
        matches!(set.lookup(None, Algorithm::ES256), Lookup::Found(k) if k.alg == Algorithm::ES256)
    );
    let two = KeySet::parse(jwks(&[("a", "rsa"), ("a2", "rsa")]).as_bytes()).unwrap();
    assert!(matches!(
        two.lookup(None, Algorithm::RS256),
        Lookup::Unknown
    ));
}

#[test]
fn early_refetches_are_granted_at_most_once_per_30_s() {
    let jwks = Jwks::new(
        JwksSource::Url("http://127.0.0.1:9/".into()),
        Duration::from_secs(300),
    );
    let t0 = Instant::now();
    assert!(
        !jwks.request_refetch(t0),
        "the first fetch is still to come"
    );
    jwks.replace(KeySet::default());
    assert!(jwks.request_refetch(t0));
    assert!(!jwks.request_refetch(t0 + Duration::from_secs(1)));
    assert!(!jwks.request_refetch(t0 + Duration::from_secs(29)));
    assert!(jwks.request_refetch(t0 + Duration::from_secs(30)));
    assert!(!jwks.request_refetch(t0 + Duration::from_secs(31)));
}

#[test]
fn a_file_is_read_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[("a", "rsa")])).unwrap();
    let source = Jwks::new(JwksSource::File(path.clone()), Duration::from_secs(300));
    assert_eq!(source.fetch_blocking().unwrap().len(), 1);
    std::fs::write(&path, vec![b' '; MAX_JWKS_BYTES as usize + 1]).unwrap();
    assert!(source
        .fetch_blocking()
        .unwrap_err()
        .to_string()
        .contains("larger than"));
    let missing = Jwks::new(
        JwksSource::File(dir.path().join("no")),
        Duration::from_secs(1),
    );
    assert!(missing
        .fetch_blocking()
        .unwrap_err()
        .to_string()
        .contains("cannot read"));
}

#[tokio::test]
async fn a_url_is_fetched_and_refreshed_on_schedule() {
    let server = JwksServer::start(jwks(&[("a", "rsa")]));
    let jwks_cache = url_jwks(&server, Duration::from_millis(100));
    let task = tokio::spawn(Arc::clone(&jwks_cache).run());
    assert!(eventually(Duration::from_secs(5), || has(&jwks_cache, "a")).await);
    server.set(200, jwks(&[("b", "rsa")]));
    assert!(eventually(Duration::from_secs(5), || has(&jwks_cache, "b")).await);
    assert!(!has(&jwks_cache, "a"), "the new document replaces the old");
    task.abort();
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_last_good_keys() {
    let server = JwksServer::start(jwks(&[("a", "rsa")]));
    let jwks_cache = url_jwks(&server, Duration::from_secs(300));
    assert_eq!(jwks_cache.refresh().await.ok(), Some(1));
    server.set(500, "oops".into());
    assert!(jwks_cache
        .refresh()
        .await
        .unwrap_err()
        .to_string()
        .contains("500"));
    server.set(200, "not json".into());
    assert!(jwks_cache.refresh().await.is_err());
    server.set(
        200,
        format!("{{\"keys\":[], \"pad\":\"{}\"}}", "x".repeat(1 << 20)),
    );
    assert!(jwks_cache
        .refresh()
        .await
        .unwrap_err()
        .to_string()
        .contains("larger than"));
    assert!(has(&jwks_cache, "a"));
    let gone = Jwks::new(
        JwksSource::Url("http://127.0.0.1:1/jwks".into()),
        Duration::from_secs(1),
    );
    let gone = Arc::new(gone);
    assert!(gone.refresh().await.is_err());
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_early_refetch_per_30_s() {
    let server = JwksServer::start(jwks(&[("a", "rsa")]));
    let jwks_cache = url_jwks(&server, Duration::from_secs(300));
    let task = tokio::spawn(Arc::clone(&jwks_cache).run());
    assert!(eventually(Duration::from_secs(5), || has(&jwks_cache, "a")).await);
    assert_eq!(server.hits(), 1);
    server.set(200, jwks(&[("a", "rsa"), ("new", "rsa")]));
    let now = Instant::now();
    assert!(jwks_cache.request_refetch(now));
    assert!(eventually(Duration::from_secs(5), || has(&jwks_cache, "new")).await);
    for i in 1..10 {
        assert!(!jwks_cache.request_refetch(now + Duration::from_secs(i)));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.hits(), 2, "one scheduled fetch and one early");
    task.abort();
}

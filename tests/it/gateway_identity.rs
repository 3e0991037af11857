//! Who the gateway lets through, on a real node in front of a real upstream:
//! API keys (stored as hashes) and HS256 JWTs, each with good and bad
//! credentials; the plan a credential names sets the limit; a bad credential
//! is a 401 saying why, reaches no upstream and consumes nothing; a present
//! but invalid token never falls through to the client IP.

use std::time::{SystemTime, UNIX_EPOCH};

use crdt_limiter::gateway::identity::hash_key;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::echo::{get, Echo};
use crate::helpers::{self, temp_dir, TestNode};

const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";

fn node(echo: &Echo) -> TestNode {
    let dir = temp_dir("gateway-identity");
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, helpers::echo::PLAN_RULES).unwrap();
    let gateway = dir.join("gateway.toml");
    let text = format!(
        r#"
[identity.api_key]
keys = [
  {{ hash = "{alice}", user = "alice", plan = "pro" }},
  {{ hash = "{bob}", user = "bob" }},
]
[identity.jwt]
algorithms = ["HS256"]
secret = "{SECRET}"
issuer = "https://issuer.test"
audience = "api"
plan_claim = "plan"

[[routes]]
name = "keys"
prefix = "/k"
upstreams = ["http://{echo}"]
identity = ["api_key"]

[[routes]]
name = "tokens"
prefix = "/t"
upstreams = ["http://{echo}"]
identity = ["jwt", "ip"]
"#,
        alice = hash_key("key-of-alice"),
        bob = hash_key("key-of-bob"),
        echo = echo.addr
    );
    std::fs::write(&gateway, text).unwrap();
    TestNode::start(&[
        "--rules",
        rules.to_str().unwrap(),
        "--gateway",
        gateway.to_str().unwrap(),
    ])
}

fn token(claims: Value, secret: &str) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// An HS256 token of `payload` as written (a JSON text may repeat a name;
/// a JSON value cannot).
fn token_of_text(payload: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let message = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
            .unwrap();
    format!("{message}.{signature}")
}

fn claims(sub: &str, plan: Option<&str>, exp_in: i64, aud: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut c = json!({"sub": sub, "iss": "https://issuer.test", "aud": aud, "exp": now + exp_in});
    if let Some(plan) = plan {
        c["plan"] = json!(plan);
    }
    c
}

#[test]
fn api_keys_identify_the_user_and_their_plan() {
    let echo = Echo::start();
    let n = node(&echo);
    let url = n.url("/k/orders");
    let (status, limit, seen) = get(&url, &[("X-API-Key", "key-of-alice"), ("X-User-ID", "bob")]);
    assert_eq!(
        (status, limit.as_deref()),
        (200, Some("5")),
        "alice's key names pro"
    );
    assert_eq!(seen["path"], "/k/orders");
    // The upstream learns who was verified, never the key itself.
    assert_eq!(seen["headers"]["x-user-id"], "alice");
    assert_eq!(seen["headers"]["x-api-key"], Value::Null);
    let (status, limit, _) = get(&url, &[("X-API-Key", "key-of-bob")]);
    assert_eq!(
        (status, limit.as_deref()),
        (200, Some("2")),
        "bob has the default plan"
    );
    let hits = echo.hits();
    for (headers, code) in [
        (vec![("X-API-Key", "key-of-mallory")], "unknown_key"),
        (vec![], "missing_credential"),
        (vec![("X-User-ID", "alice")], "missing_credential"),
    ] {
        let (status, _, body) = get(&url, &headers);
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some(code)),
            "{headers:?}"
        );
        assert_eq!(body["route"], "keys");
    }
    assert_eq!(echo.hits(), hits, "a refused caller reaches no upstream");
    // Nothing was consumed by them: bob still has his second token.
    assert_eq!(get(&url, &[("X-API-Key", "key-of-bob")]).0, 200);
    assert_eq!(get(&url, &[("X-API-Key", "key-of-bob")]).0, 429);
}

#[test]
fn jwts_are_checked_and_say_why_they_are_refused() {
    let echo = Echo::start();
    let n = node(&echo);
    let url = n.url("/t/x");
    let bearer = |t: &str| format!("Bearer {t}");
    let good = token(claims("carol", Some("pro"), 600, "api"), SECRET);
    let (status, limit, _) = get(&url, &[("Authorization", &bearer(&good))]);
    assert_eq!(
        (status, limit.as_deref()),
        (200, Some("5")),
        "the plan claim names pro"
    );
    let hits = echo.hits();
    for (t, code) in [
        (
            token(claims("carol", None, -3600, "api"), SECRET),
            "expired",
        ),
        (
            token(
                claims("carol", None, 600, "api"),
                "another-secret-of-at-least-32-bytes!",
            ),
            "bad_signature",
        ),
        (
            token(claims("carol", None, 600, "not-us"), SECRET),
            "bad_audience",
        ),
        ("not.a.jwt".to_string(), "malformed_token"),
        // Signed, but which `plan` counts depends on who reads it.
        (
            token_of_text(&repeated_plan(&claims("dave", Some("free"), 600, "api"))),
            "malformed_token",
        ),
    ] {
        let (status, _, body) = get(&url, &[("Authorization", &bearer(&t))]);
        assert_eq!((status, body["error"].as_str()), (401, Some(code)), "{t}");
        assert_eq!(body["route"], "tokens");
    }
    assert_eq!(echo.hits(), hits, "no refused token reaches the upstream");
    // No token at all: the route's next method, the client IP, identifies.
    let (status, limit, seen) = get(&url, &[]);
    assert_eq!((status, limit.as_deref()), (200, Some("2")));
    assert_eq!(seen["path"], "/t/x");
}

/// `claims` as JSON text with `"plan":"pro"` added after the plan it has.
fn repeated_plan(claims: &Value) -> String {
    let text = claims.to_string();
    format!(r#"{},"plan":"pro"}}"#, &text[..text.len() - 1])
}

/// docs/gateway.md's walkthrough on the real binary with the
/// files it shows (its upstream's port replaced by a test upstream's): a
/// free caller's 4th call is a 429, a pro token gets pro's limit on the
/// other route, and bad, expired and missing tokens are 401s saying why.
#[test]
fn the_readme_gateway_walkthrough_runs_as_shown() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/gateway.md")).unwrap();
    let example = |name: &str| {
        let path = format!("{}/examples/gateway/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).unwrap();
        assert!(
            readme.contains(&text),
            "docs/gateway.md shows examples/gateway/{name} as it is"
        );
        text
    };
    let echo = Echo::start();
    let dir = temp_dir("gateway-readme");
    let (rules, gateway) = (dir.join("rules.toml"), dir.join("gateway.toml"));
    std::fs::write(&rules, example("rules.toml")).unwrap();
    let port = echo.addr.port().to_string();
    std::fs::write(&gateway, example("gateway.toml").replace("9001", &port)).unwrap();
    let secret = "change-me-a-secret-of-32-bytes-or-more";
    let n = helpers::NodeProcess::start_with_env(
        &[
            "--rules",
            rules.to_str().unwrap(),
            "--gateway",
            gateway.to_str().unwrap(),
        ],
        &[("JWT_SECRET", secret)],
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mint = |user: &str, plan: Option<&str>, ttl: i64, key: &str| {
        let mut c = json!({"sub": user, "iss": "https://auth.example", "aud": "shop-api", "exp": now + ttl});
        if let Some(plan) = plan {
            c["plan"] = json!(plan);
        }
        format!("Bearer {}", token(c, key))
    };
    let url = |path: &str| format!("http://{}{path}", n.addr);
    let free = mint("alice", None, 3600, secret);
    let statuses: Vec<u16> = (0..4)
        .map(|_| get(&url("/api/orders"), &[("Authorization", &free)]).0)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    let (status, limit, seen) = get(
        &url("/docs/guide.txt"),
        &[("Authorization", &mint("bob", Some("pro"), 3600, secret))],
    );
    assert_eq!(
        (status, limit.as_deref(), seen["path"].as_str()),
        (200, Some("20"), Some("/guide.txt"))
    );
    for (auth, code) in [
        (
            mint("alice", None, 3600, "not-the-secret-but-as-long-as-one"),
            "bad_signature",
        ),
        (mint("alice", Some("free"), -3600, secret), "expired"),
        (String::new(), "missing_credential"),
    ] {
        let headers: Vec<(&str, &str)> = if auth.is_empty() {
            vec![]
        } else {
            vec![("Authorization", &auth)]
        };
        let (status, _, body) = get(&url("/api/orders"), &headers);
        assert_eq!((status, body["error"].as_str()), (401, Some(code)));
    }
}

/// A node whose JWKS comes from a URL is not ready before the first fetch
/// has been tried, so a load balancer sends it no token it would refuse as
/// signed by an unknown key; once ready, the first RS256 token is accepted.
#[test]
fn a_node_is_not_ready_before_its_first_jwks_fetch() {
    let echo = Echo::start();
    let dir = temp_dir("gateway-jwks-ready");
    let mut jwks = helpers::jwks::JwksServer::start(true);
    let gateway = dir.join("gateway.toml");
    let text = format!(
        "[identity]\nmethods = [\"jwt\"]\n[identity.jwt]\nalgorithms = [\"RS256\"]\n\
         jwks_url = \"{}\"\n\
         [[routes]]\nname = \"api\"\nprefix = \"/api\"\nupstreams = [\"http://{}\"]\n",
        jwks.url, echo.addr
    );
    std::fs::write(&gateway, text).unwrap();
    let node = helpers::NodeProcess::start(&["--gateway", gateway.to_str().unwrap()]);
    // Not ready, and staying so while the JWKS answer is held.
    for _ in 0..5 {
        assert_eq!(node.get("/readyz").status, 503);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    jwks.release();
    node.wait_ready(std::time::Duration::from_secs(10));
    let url = format!("http://{}/api/x", node.addr);
    let bearer = format!("Bearer {}", helpers::jwks::token("ivy"));
    let (status, _, seen) = get(&url, &[("Authorization", &bearer)]);
    assert_eq!(
        (status, &seen["headers"]["x-user-id"]),
        (200, &json!("ivy")),
        "{seen}"
    );
}

#[test]
fn a_jwt_secret_from_a_file_is_read_again_on_sighup_and_never_logged() {
    let echo = Echo::start();
    let dir = temp_dir("gateway-secret-file");
    let (secret_file, gateway) = (dir.join("jwt-secret"), dir.join("gateway.toml"));
    let (old, new) = (SECRET, "the-rotated-secret-of-at-least-32-bytes");
    std::fs::write(&secret_file, format!("{old}\n")).unwrap();
    let text = format!(
        "[identity.jwt]\nalgorithms = [\"HS256\"]\nsecret_file = {:?}\n\
         issuer = \"https://issuer.test\"\naudience = \"api\"\n\
         [[routes]]\nname = \"tokens\"\nprefix = \"/t\"\nupstreams = [\"http://{}\"]\nidentity = [\"jwt\"]\n",
        secret_file.display(),
        echo.addr
    );
    std::fs::write(&gateway, text).unwrap();
    let n = helpers::tls::LoggedNode::start(&dir, &["--gateway", gateway.to_str().unwrap()]);
    let url = format!("http://{}/t/x", n.addr);
    let bearer =
        |secret: &str| format!("Bearer {}", token(claims("ann", None, 3600, "api"), secret));
    assert_eq!(
        get(&url, &[("Authorization", &bearer(old))]).0,
        200,
        "{}",
        n.log()
    );
    assert_eq!(get(&url, &[("Authorization", &bearer(new))]).0, 401);

    std::fs::write(&secret_file, format!("{new}\n")).unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &n.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    helpers::eventually(std::time::Duration::from_secs(10), "the new secret", || {
        get(&url, &[("Authorization", &bearer(new))]).0 == 200
    });
    assert_eq!(get(&url, &[("Authorization", &bearer(old))]).0, 401);
    let log = n.log();
    assert!(
        !log.contains(old) && !log.contains(new),
        "a secret in the log:\n{log}"
    );
}

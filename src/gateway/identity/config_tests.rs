//! Validation of the `[identity]` table: defaults, and errors that name the field.

use super::*;
use crate::gateway::identity::api_keys::{hash_key, KeyHash};
use crate::gateway::identity::testkit::{jwks, SECRET};

fn no_env(_: &str) -> Option<String> {
    None
}

fn validate(text: &str) -> Result<Identifier, IdentityConfigError> {
    IdentityConfig::from_toml(text)?.validate(TrustedProxies::default(), |name| {
        (name == "JWT_SECRET").then(|| SECRET.to_string())
    })
}

fn field_of(text: &str) -> String {
    match validate(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => {
            assert!(e.to_string().starts_with(&e.field), "{e}");
            e.field
        }
    }
}

#[test]
fn an_empty_table_means_the_trusted_header() {
    let identifier = validate("").unwrap();
    assert_eq!(identifier.header.name, "x-user-id");
    assert_eq!(identifier.api_key.header, "x-api-key");
    assert!(!identifier.api_key.bearer);
    assert!(identifier.jwt.is_none());
    assert_eq!(identifier.default_methods.as_slice(), &[Method::Header]);
}

#[test]
fn a_full_table_is_read() {
    let text = format!(
        r#"
        methods = ["jwt", "api_key", "header", "ip"]
        header = {{ name = "X-Remote-User" }}
        [api_key]
        header = "X-Key"
        bearer = true
        keys = [ {{ hash = "{}", user = "alice", plan = "pro" }} ]
        [jwt]
        secret_env = "JWT_SECRET"
        issuer = "https://id.example"
        audience = ["api"]
        plan_claim = "plan"
        "#,
        hash_key("k1")
    );
    let identifier = validate(&text).unwrap();
    assert_eq!(identifier.header.name, "x-remote-user");
    assert_eq!(
        identifier
            .api_key
            .keys
            .lookup(&KeyHash::of("k1"))
            .unwrap()
            .user,
        "alice"
    );
    let jwt = identifier.jwt.as_ref().unwrap();
    assert_eq!(jwt.algorithms, vec![jsonwebtoken::Algorithm::HS256]);
    assert_eq!(jwt.claims.issuers, vec!["https://id.example".to_string()]);
    assert_eq!(jwt.claims.leeway_secs, 30);
    assert_eq!(identifier.default_methods.as_slice().len(), 4);
}

#[test]
fn unknown_fields_are_refused_by_name() {
    let e = validate("[jwt]\nsecret_env = \"JWT_SECRET\"\nleway_secs = 3").unwrap_err();
    assert!(e.reason.contains("leway_secs"), "{e}");
    let e = validate("[api_key]\nkeys = [{ hash = \"x\", user = \"a\", key = \"plain\" }]")
        .unwrap_err();
    assert!(e.reason.contains("key"), "{e}");
}

#[test]
fn api_key_errors_name_the_key_and_field() {
    let good = hash_key("k1");
    let at = |entry: &str| {
        field_of(&format!(
            "[api_key]\nkeys = [{{ hash = \"{good}\", user = \"a\" }}, {entry}]"
        ))
    };
    assert_eq!(
        at(r#"{ hash = "sha256:abc", user = "b" }"#),
        "identity.api_key.keys[1].hash"
    );
    assert_eq!(
        at(r#"{ hash = "plain-key", user = "b" }"#),
        "identity.api_key.keys[1].hash"
    );
    assert_eq!(
        at(&format!(r#"{{ hash = "{good}", user = "b" }}"#)),
        "identity.api_key.keys[1].hash"
    );
    let other = hash_key("k2");
    assert_eq!(
        at(&format!(r#"{{ hash = "{other}", user = "b c" }}"#)),
        "identity.api_key.keys[1].user"
    );
    assert_eq!(
        at(&format!(
            r#"{{ hash = "{other}", user = "b", plan = "p!" }}"#
        )),
        "identity.api_key.keys[1].plan"
    );
    assert_eq!(
        field_of("[api_key]\nheader = \"Authorization\""),
        "identity.api_key.header"
    );
    assert_eq!(
        field_of("[api_key]\nheader = \"X Key\""),
        "identity.api_key.header"
    );
    assert_eq!(field_of("[header]\nname = \"\""), "identity.header.name");
}

#[test]
fn jwt_errors_name_the_field() {
    let s = format!("secret = \"{SECRET}\"");
    let cases = [
        ("secret_env = \"NOPE\"", "identity.jwt.secret_env"),
        ("secret = \"short\"", "identity.jwt.secret"),
        (
            &format!("{s}\nsecret_env = \"JWT_SECRET\"") as &str,
            "identity.jwt.secret",
        ),
        ("leeway_secs = 3", "identity.jwt.secret_env"),
        (
            &format!("{s}\nalgorithms = [\"none\"]"),
            "identity.jwt.algorithms",
        ),
        (
            &format!("{s}\nalgorithms = [\"HS512\"]"),
            "identity.jwt.algorithms",
        ),
        (&format!("{s}\nalgorithms = []"), "identity.jwt.algorithms"),
        (
            &format!("{s}\nalgorithms = [\"RS256\"]"),
            "identity.jwt.algorithms",
        ),
        ("jwks_url = \"ftp://x/jwks\"", "identity.jwt.jwks_url"),
        (
            "jwks_url = \"https://x\"\njwks_file = \"/x\"",
            "identity.jwt.jwks_url",
        ),
        (
            "jwks_url = \"https://x\"\njwks_refresh_secs = 0",
            "identity.jwt.jwks_refresh_secs",
        ),
        (
            "jwks_file = \"/does/not/exist.json\"",
            "identity.jwt.jwks_file",
        ),
        (
            &format!("{s}\nuser_claim = \"\""),
            "identity.jwt.user_claim",
        ),
        (&format!("{s}\nissuer = []"), "identity.jwt.issuer"),
        (&format!("{s}\naudience = \"\""), "identity.jwt.audience"),
        (
            &format!("{s}\nmax_token_bytes = 10"),
            "identity.jwt.max_token_bytes",
        ),
        (
            &format!("{s}\njwks_url = \"https://x\"\nalgorithms = [\"HS256\"]"),
            "identity.jwt.jwks_url",
        ),
    ];
    for (body, field) in cases {
        assert_eq!(field_of(&format!("[jwt]\n{body}")), field, "{body}");
    }
}

#[test]
fn a_jwks_file_is_read_at_validation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(&[("a", "rsa"), ("b", "ec")])).unwrap();
    let text = format!("[jwt]\njwks_file = {:?}", path.display().to_string());
    let jwt = validate(&text).unwrap().jwt.unwrap();
    assert_eq!(jwt.jwks.unwrap().keys().len(), 2);
    assert!(jwt.secret.is_none());
    std::fs::write(&path, r#"{"keys":[]}"#).unwrap();
    assert_eq!(field_of(&text), "identity.jwt.jwks_file");
}

#[test]
fn route_methods_are_checked() {
    let identifier = validate("").unwrap();
    let err = |names: &[&str]| identifier.methods("routes[0].identity", names).unwrap_err();
    assert_eq!(err(&[]).field, "routes[0].identity");
    assert!(err(&["cookie"]).reason.contains("cookie"));
    assert!(err(&["header", "header"]).reason.contains("twice"));
    assert!(err(&["jwt"]).reason.contains("[identity.jwt]"));
    assert!(err(&["ip", "header"]).reason.contains("last"));
    assert_eq!(field_of("methods = [\"jwt\"]"), "identity.methods");
    let ok = identifier
        .methods("m", &["api_key", "header", "ip"])
        .unwrap();
    assert_eq!(ok.as_slice(), &[Method::ApiKey, Method::Header, Method::Ip]);
}

#[test]
fn debug_never_shows_the_secret() {
    let config = IdentityConfig::from_toml(&format!("[jwt]\nsecret = \"{SECRET}\"")).unwrap();
    assert!(!format!("{config:?}").contains(SECRET));
    let identifier = config.validate(TrustedProxies::default(), no_env).unwrap();
    assert!(!format!("{identifier:?}").contains(SECRET));
}

#[test]
fn a_secret_file_gives_its_first_line_and_is_one_of_three() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    let file = format!("[jwt]\nsecret_file = {:?}", path.display().to_string());
    assert!(validate(&file).is_ok());
    std::fs::write(&path, "short\n").unwrap();
    assert_eq!(field_of(&file), "identity.jwt.secret_file");
    let both = format!("{file}\nsecret = \"{SECRET}\"");
    assert_eq!(field_of(&both), "identity.jwt.secret");
    let missing = "[jwt]\nsecret_file = \"/nonexistent/secret\"";
    assert_eq!(field_of(missing), "identity.jwt.secret_file");
    let config = IdentityConfig::from_toml(&file).unwrap();
    assert!(!format!("{config:?}").contains("short"));
}

//! Unit tests of the Kafka security settings: what is taken, and refusals
//! that name the setting to change.

use crate::replication::security::{Hidden, Mechanism, Protocol};
use crate::settings::{Config, LoadError};

const BROKERS: &[&str] = &["--kafka-brokers", "127.0.0.1:9092"];

fn load(args: &[&str]) -> Result<Config, LoadError> {
    let all = ["crdt-limiter"].iter().chain(BROKERS).chain(args);
    Config::load_from(all.copied())
}

/// The setting a refusal names.
fn refused(args: &[&str]) -> &'static str {
    match load(args) {
        Err(LoadError::Invalid(e)) => e.setting,
        other => panic!("expected a refused setting, got {other:?}"),
    }
}

/// A file that exists, under a directory removed when the test ends.
fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn plaintext_by_default() {
    let security = load(&[]).unwrap().replication.unwrap().security;
    assert_eq!(security.protocol, Protocol::Plaintext);
    assert!(security.sasl.is_none() && security.ca_file.is_none());
}

#[test]
fn mutual_tls_takes_a_ca_a_certificate_and_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = (
        file(&dir, "ca", "x"),
        file(&dir, "c", "x"),
        file(&dir, "k", "x"),
    );
    let args = ["--kafka-security-protocol", "ssl", "--kafka-ca-file", &ca];
    let c = load(
        &[
            &args[..],
            &["--kafka-cert-file", &cert, "--kafka-key-file", &key],
        ]
        .concat(),
    );
    let security = c.unwrap().replication.unwrap().security;
    assert_eq!(security.protocol, Protocol::Ssl);
    assert_eq!(security.client_cert.unwrap().1.to_str(), Some(key.as_str()));
    assert_eq!(
        refused(&[&args[..], &["--kafka-cert-file", &cert]].concat()),
        "kafka-key-file"
    );
    assert_eq!(
        refused(&[&args[..], &["--kafka-key-file", &key]].concat()),
        "kafka-cert-file"
    );
}

#[test]
fn tls_files_must_be_readable_and_need_a_tls_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let ca = file(&dir, "ca", "x");
    let missing = dir.path().join("nope").to_str().unwrap().to_string();
    assert_eq!(
        refused(&[
            "--kafka-security-protocol",
            "ssl",
            "--kafka-ca-file",
            &missing
        ]),
        "kafka-ca-file"
    );
    assert_eq!(refused(&["--kafka-ca-file", &ca]), "kafka-ca-file");
    assert_eq!(
        refused(&[
            "--kafka-security-protocol",
            "sasl_plaintext",
            "--kafka-ca-file",
            &ca
        ]),
        "kafka-ca-file"
    );
    assert_eq!(
        refused(&["--kafka-security-protocol", "tls"]),
        "kafka-security-protocol"
    );
}

#[test]
fn sasl_needs_a_mechanism_a_user_and_a_password() {
    let sasl = ["--kafka-security-protocol", "sasl_ssl"];
    let mech = ["--kafka-sasl-mechanism", "SCRAM-SHA-512"];
    let user = ["--kafka-sasl-username", "limiter"];
    let pass = ["--kafka-sasl-password", "s3cret"];
    assert_eq!(refused(&sasl), "kafka-sasl-mechanism");
    assert_eq!(refused(&[&sasl[..], &mech].concat()), "kafka-sasl-username");
    assert_eq!(
        refused(&[&sasl[..], &mech, &user].concat()),
        "kafka-sasl-password"
    );
    let bad = ["--kafka-sasl-mechanism", "GSSAPI"];
    assert_eq!(
        refused(&[&sasl[..], &bad, &user, &pass].concat()),
        "kafka-sasl-mechanism"
    );
    let c = load(&[&sasl[..], &mech, &user, &pass].concat()).unwrap();
    let login = c.replication.unwrap().security.sasl.unwrap();
    assert_eq!(login.mechanism, Mechanism::ScramSha512);
    assert_eq!(login.username, "limiter");
}

#[test]
fn a_sasl_setting_without_a_sasl_protocol_is_refused() {
    assert_eq!(
        refused(&["--kafka-sasl-mechanism", "PLAIN"]),
        "kafka-sasl-mechanism"
    );
    assert_eq!(
        refused(&["--kafka-sasl-username", "u"]),
        "kafka-sasl-username"
    );
    let ssl = [
        "--kafka-security-protocol",
        "ssl",
        "--kafka-sasl-password",
        "p",
    ];
    assert_eq!(refused(&ssl), "kafka-sasl-password");
}

#[test]
fn the_password_comes_from_its_file_and_never_shows() {
    let dir = tempfile::tempdir().unwrap();
    let pw = file(&dir, "pw", "from-the-file\nignored\n");
    let args = [
        "--kafka-security-protocol",
        "sasl_plaintext",
        "--kafka-sasl-mechanism",
        "PLAIN",
        "--kafka-sasl-username",
        "u",
    ];
    let c = load(&[&args[..], &["--kafka-sasl-password-file", &pw]].concat()).unwrap();
    let shown = format!("{c:?}");
    assert!(!shown.contains("from-the-file"), "{shown}");
    let both = [
        "--kafka-sasl-password-file",
        &pw,
        "--kafka-sasl-password",
        "p",
    ];
    assert_eq!(
        refused(&[&args[..], &both].concat()),
        "kafka-sasl-password-file"
    );
    let empty = file(&dir, "empty", "\n");
    let none = ["--kafka-sasl-password-file", &empty];
    assert_eq!(
        refused(&[&args[..], &none].concat()),
        "kafka-sasl-password-file"
    );
}

#[test]
fn options_pass_through_except_those_the_node_owns() {
    let c = load(&["--kafka-option", "socket.timeout.ms=30000"]).unwrap();
    let options = c.replication.unwrap().security.options;
    assert_eq!(
        options,
        [("socket.timeout.ms".into(), Hidden::new("30000".into()))]
    );
    let secret = load(&["--kafka-option", "ssl.key.password=key-secret"]).unwrap();
    assert!(!format!("{secret:?}").contains("key-secret"));
    for owned in [
        "group.id=x",
        "enable.auto.commit=true",
        "bootstrap.servers=h:1",
    ] {
        let e = match load(&["--kafka-option", owned]) {
            Err(LoadError::Invalid(e)) => e,
            other => panic!("{owned}: {other:?}"),
        };
        assert_eq!(e.setting, "kafka-option");
        let key = owned.split('=').next().unwrap();
        assert!(e.to_string().contains(key), "{e}");
    }
    assert_eq!(
        refused(&["--kafka-option", "no.such.key=1"]),
        "kafka-option"
    );
    assert_eq!(
        refused(&["--kafka-option", "socket.timeout.ms"]),
        "kafka-option"
    );
}

#[test]
fn min_insync_replicas_is_at_most_the_replication_factor() {
    let c = load(&[
        "--topic-replication",
        "3",
        "--kafka-min-insync-replicas",
        "2",
    ])
    .unwrap();
    assert_eq!(c.replication.unwrap().min_insync_replicas, Some(2));
    assert_eq!(
        load(&[]).unwrap().replication.unwrap().min_insync_replicas,
        None
    );
    let over = [
        "--topic-replication",
        "1",
        "--kafka-min-insync-replicas",
        "2",
    ];
    assert_eq!(refused(&over), "kafka-min-insync-replicas");
}

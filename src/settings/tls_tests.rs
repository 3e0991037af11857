//! Unit tests of the listeners' TLS settings: each half of a pair needs
//! the other, and a bad file is refused by its setting.

use crate::settings::{Config, LoadError};

fn refused(args: &[&str]) -> String {
    let args = ["crdt-limiter", "--listen", "127.0.0.1:0"]
        .iter()
        .chain(args);
    match Config::load_from(args) {
        Err(LoadError::Invalid(e)) => e.to_string(),
        other => panic!("expected a refused setting, got {other:?}"),
    }
}

fn pair(dir: &std::path::Path) -> [String; 2] {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (c, k) = (dir.join("c.pem"), dir.join("k.pem"));
    std::fs::write(&c, cert.cert.pem()).unwrap();
    std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
    [c.display().to_string(), k.display().to_string()]
}

#[test]
fn plaintext_is_the_default() {
    let c = Config::load_from(["crdt-limiter"]).unwrap();
    assert_eq!(c.tls, Default::default());
}

#[test]
fn a_valid_pair_turns_https_on() {
    let dir = tempfile::tempdir().unwrap();
    let [cert, key] = pair(dir.path());
    let args = [
        "crdt-limiter",
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
    ];
    let c = Config::load_from(args).unwrap();
    assert!(c.tls.http.is_some() && c.tls.grpc.is_none());
}

#[test]
fn each_half_of_a_pair_needs_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let [cert, key] = pair(dir.path());
    assert!(refused(&["--tls-cert-file", &cert]).contains("`tls-key-file`"));
    assert!(refused(&["--tls-key-file", &key]).contains("`tls-cert-file`"));
    assert!(refused(&["--tls-client-ca-file", &cert]).contains("`tls-client-ca-file`"));
    let grpc = ["--grpc-tls-cert-file", &cert, "--grpc-tls-key-file", &key];
    assert!(refused(&grpc).contains("needs --grpc-listen"));
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let [cert, _] = pair(dir.path());
    let other = tempfile::tempdir().unwrap();
    let [_, key] = pair(other.path());
    let said = refused(&["--tls-cert-file", &cert, "--tls-key-file", &key]);
    assert!(said.contains("`tls-key-file`"), "{said}");
}

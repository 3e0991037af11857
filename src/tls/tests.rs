//! Listener TLS files: refusals name the setting; a reload keeps the old
//! certificate when the new files are bad.

use std::time::Duration;

use super::{Alpn, ListenerTls, TlsFiles};

const SETTINGS: [&str; 3] = ["tls-cert-file", "tls-key-file", "tls-client-ca-file"];

fn write_pair(dir: &std::path::Path) -> TlsFiles {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        client_ca: None,
        settings: SETTINGS,
    }
}

fn load(files: TlsFiles) -> Result<std::sync::Arc<ListenerTls>, super::TlsError> {
    ListenerTls::load("http", files, Alpn::Http1, Duration::from_secs(1))
}

#[test]
fn a_valid_pair_loads() {
    let dir = tempfile::tempdir().unwrap();
    assert!(load(write_pair(dir.path())).is_ok());
}

#[test]
fn a_missing_certificate_names_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = write_pair(dir.path());
    files.cert = dir.path().join("absent.pem");
    let error = load(files).err().unwrap();
    assert_eq!(error.setting, "tls-cert-file");
}

#[test]
fn a_key_file_without_a_key_names_its_setting_not_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_pair(dir.path());
    std::fs::write(&files.key, "not-a-key-but-a-secret").unwrap();
    let error = load(files).err().unwrap();
    assert_eq!(error.setting, "tls-key-file");
    assert!(!error.to_string().contains("secret"), "{error}");
}

#[test]
fn a_client_ca_without_certificates_names_its_setting() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = write_pair(dir.path());
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "").unwrap();
    files.client_ca = Some(ca);
    let error = load(files).err().unwrap();
    assert_eq!(error.setting, "tls-client-ca-file");
}

#[test]
fn a_bad_reload_is_refused_and_a_good_one_applied() {
    let dir = tempfile::tempdir().unwrap();
    let tls = load(write_pair(dir.path())).unwrap();
    let before = tls.config.load_full();
    std::fs::write(&tls.files().cert, "garbage").unwrap();
    assert_eq!(tls.reload().unwrap_err().setting, "tls-cert-file");
    assert!(std::sync::Arc::ptr_eq(&before, &tls.config.load_full()));
    write_pair(dir.path());
    tls.reload().unwrap();
    assert!(!std::sync::Arc::ptr_eq(&before, &tls.config.load_full()));
}

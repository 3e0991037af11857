//! Unit tests of the upstream TLS settings: a CA file is taken only if it
//! holds PEM certificates, and a bad one refuses the gateway file naming
//! `upstream_ca_file`.

use super::*;
use crate::gateway::identity::TrustedProxies;
use crate::gateway::Gateway;

/// A self-signed CA certificate, PEM.
fn ca_pem() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

fn file_with(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn gateway_with_ca(ca: &Path, upstream: &str) -> Result<Gateway, String> {
    let text = format!(
        "upstream_ca_file = {:?}\n[[routes]]\nname = \"api\"\nprefix = \"/api\"\nupstreams = [\"{upstream}\"]\n",
        ca.display().to_string()
    );
    Gateway::parse(&text, TrustedProxies::parse::<&str>(&[]).unwrap()).map_err(|e| e.to_string())
}

#[test]
fn a_ca_file_of_pem_certificates_is_taken_all() {
    let dir = tempfile::tempdir().unwrap();
    let two = format!("# two CAs\n{}{}", ca_pem(), ca_pem());
    let path = file_with(&dir, "cas.pem", &two);
    assert_eq!(read_ca_file(&path).unwrap().len(), 2);
    let gateway = gateway_with_ca(&path, "https://localhost:8443").unwrap();
    let config = gateway
        .upstream_tls()
        .expect("an https upstream: TLS settings");
    assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
}

#[test]
fn a_missing_empty_or_non_pem_ca_file_refuses_the_gateway_file() {
    let dir = tempfile::tempdir().unwrap();
    let key_only = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let broken = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
    let not_der = "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
    let cases = [
        (dir.path().join("missing.pem"), "No such file"),
        (file_with(&dir, "empty.pem", ""), "holds no PEM certificate"),
        (
            file_with(&dir, "text.pem", "hello\n"),
            "holds no PEM certificate",
        ),
        (
            file_with(&dir, "key.pem", &key_only),
            "holds no PEM certificate",
        ),
        (file_with(&dir, "broken.pem", broken), "not PEM"),
        (file_with(&dir, "der.pem", not_der), "certificate 1"),
    ];
    for (path, why) in cases {
        let error = gateway_with_ca(&path, "https://localhost").unwrap_err();
        let setting = format!("`upstream_ca_file`: {}: ", path.display());
        assert!(error.starts_with(&setting), "{error}");
        assert!(error.contains(why), "{path:?}: {error}");
        // Checked even when no upstream needs it yet.
        assert!(gateway_with_ca(&path, "http://localhost").is_err());
    }
}

#[test]
fn tls_settings_exist_only_when_an_upstream_is_https() {
    let parse = |upstreams: &str| {
        let text = format!("[[routes]]\nname = \"a\"\nprefix = \"/\"\nupstreams = [{upstreams}]\n");
        Gateway::parse(&text, TrustedProxies::parse::<&str>(&[]).unwrap()).unwrap()
    };
    assert!(parse("\"http://127.0.0.1:1\"").upstream_tls().is_none());
    let mixed = parse("\"http://127.0.0.1:1\", \"https://example.com\"");
    assert!(mixed.upstream_tls().is_some());
}

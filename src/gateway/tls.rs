//! Trust for `https://` upstreams: the public web roots (Mozilla's, compiled
//! in) plus the CA certificates of the gateway file's `upstream_ca_file`.
//! Certificates are always verified; there is no switch to turn that off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The gateway file's key naming the extra CA certificates, for errors.
const SETTING: &str = "upstream_ca_file";

/// Why TLS to upstreams cannot be set up; each names the setting.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The CA file is unreadable, not PEM, holds no certificate, or holds one
    /// a root store refuses.
    #[error("`{SETTING}`: {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    /// A certificate the root store refuses.
    #[error("`{SETTING}`: {0}")]
    Certificate(String),
    /// rustls offers none of the protocol versions asked for.
    #[error("TLS to upstreams: {0}")]
    Protocols(String),
}

/// The CA certificates in the PEM file at `path`: refused (naming the
/// setting and the file) when it cannot be read, holds no certificate, or
/// one of them is not a certificate a root store accepts.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let refuse = |reason: String| TlsError::CaFile {
        path: path.to_path_buf(),
        reason,
    };
    let certs = crate::tls::pem_certificates(path).map_err(|e| refuse(e.to_string()))?;
    // Checked now, so a file the root store would refuse stops the start.
    let mut store = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store
            .add(cert.clone())
            .map_err(|e| refuse(format!("certificate {}: {e}", i + 1)))?;
    }
    Ok(certs)
}

/// The TLS settings every worker's client shares: the public roots and
/// `extra`, TLS 1.2 and 1.3, and HTTP/1.1 only (ALPN), so a TLS upstream is
/// spoken to like a plain one: one request per pooled keep-alive connection.
pub fn client_config(extra: Vec<CertificateDer<'static>>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra {
        roots
            .add(cert)
            .map_err(|e| TlsError::Certificate(e.to_string()))?;
    }
    // The provider named, not the process default: two providers in the
    // build would leave the default undecided (and `builder()` panicking).
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Protocols(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;

//! TLS on the node's own listeners (HTTP and the gRPC rate-limit service):
//! a certificate and key from PEM files, optionally client certificates
//! verified against a CA (mTLS), and the files read again when they change
//! ([`watch`]) so a rotated certificate is served without a restart.
//!
//! Each listener holds its rustls `ServerConfig` in an `ArcSwap`: a
//! handshake takes the config current when it starts, so a reload changes
//! new connections only and drops none in flight.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

pub mod watch;

/// The files of one listener's TLS, with the settings that named them (for errors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) client certificates must chain to; `None`: no client certificate asked.
    pub client_ca: Option<PathBuf>,
    /// The settings' flag names: cert, key, client CA.
    pub settings: [&'static str; 3],
}

/// Why a listener's TLS files were refused; names the setting and the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct TlsError {
    /// The setting naming the file.
    pub setting: &'static str,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// Which protocol a listener speaks, offered by ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alpn {
    /// The HTTP server: HTTP/1.1 only.
    Http1,
    /// gRPC: HTTP/2.
    H2,
}

/// The TLS of one listener (see the module).
pub struct ListenerTls {
    /// `http` or `grpc`, for logs and metrics.
    pub listener: &'static str,
    files: TlsFiles,
    alpn: Alpn,
    config: ArcSwap<ServerConfig>,
    handshake_timeout: Duration,
}

impl ListenerTls {
    /// Reads `files`; refused (naming the setting) if any is unreadable or wrong.
    pub fn load(
        listener: &'static str,
        files: TlsFiles,
        alpn: Alpn,
        handshake_timeout: Duration,
    ) -> Result<Arc<Self>, TlsError> {
        let config = server_config(&files, alpn)?;
        Ok(Arc::new(Self {
            listener,
            files,
            alpn,
            config: ArcSwap::from(config),
            handshake_timeout,
        }))
    }

    /// Reads the files again: valid, new handshakes use them; invalid, the
    /// certificate in use stays and the error is returned.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.config.store(server_config(&self.files, self.alpn)?);
        Ok(())
    }

    /// The files this listener's TLS is read from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The TLS handshake on `io`, within the handshake timeout: a client
    /// that connects and never completes one is closed in bounded time.
    pub async fn accept<IO>(&self, io: IO) -> std::io::Result<TlsStream<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = TlsAcceptor::from(self.config.load_full());
        match tokio::time::timeout(self.handshake_timeout, acceptor.accept(io)).await {
            Ok(done) => done,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the TLS handshake was not done in time",
            )),
        }
    }
}

/// The rustls config `files` make: TLS 1.2 and 1.3 with ring, client
/// certificates required when a client CA is given.
fn server_config(files: &TlsFiles, alpn: Alpn) -> Result<Arc<ServerConfig>, TlsError> {
    let [cert_setting, key_setting, ca_setting] = files.settings;
    let certs = read_certs(cert_setting, &files.cert)?;
    let key = read_key(key_setting, &files.key)?;
    // The provider named, not the process default: two in the build would
    // leave the default undecided.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let refuse = |setting, path: &Path| {
        let path = path.to_path_buf();
        move |e: rustls::Error| TlsError {
            setting,
            path,
            reason: e.to_string(),
        }
    };
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(refuse(cert_setting, &files.cert))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(ca_setting, path)? {
                roots.add(cert).map_err(refuse(ca_setting, path))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError {
                    setting: ca_setting,
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(refuse(key_setting, &files.key))?;
    config.alpn_protocols = match alpn {
        Alpn::Http1 => vec![b"http/1.1".to_vec()],
        Alpn::H2 => vec![b"h2".to_vec()],
    };
    Ok(Arc::new(config))
}

/// The PEM certificates in the file at `path`, at least one.
fn read_certs(
    setting: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    pem_certificates(path).map_err(|e| TlsError {
        setting,
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Why a file of PEM certificates was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PemError {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Unreadable(std::io::Error),
    /// Something in it is not PEM.
    #[error("not PEM: {0}")]
    NotPem(rustls::pki_types::pem::Error),
    /// It holds no certificate.
    #[error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    Empty,
}

/// The PEM certificates in the file at `path`, at least one: a listener's
/// chain, a client CA, or the gateway's upstream CAs.
pub fn pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let text = std::fs::read(path).map_err(PemError::Unreadable)?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(PemError::NotPem)?;
    if certs.is_empty() {
        return Err(PemError::Empty);
    }
    Ok(certs)
}

/// The PEM private key in the file at `path`. The error never shows the
/// file's content: it is a secret.
fn read_key(setting: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let refuse = |reason: String| TlsError {
        setting,
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| refuse(format!("cannot read: {e}")))?;
    PrivateKeyDer::from_pem_slice(&text)
        .map_err(|_| refuse("holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".into()))
}

#[cfg(test)]
mod tests;

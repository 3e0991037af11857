//! Settings of TLS on the node's listeners: which files, checked at start
//! (a file that cannot serve refuses the start, naming its setting).

use std::path::PathBuf;
use std::time::Duration;

use super::{Cli, ConfigError};
use crate::tls::{Alpn, ListenerTls, TlsFiles};

/// The validated TLS settings: `None` for a plaintext listener.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// HTTPS on `--listen`.
    pub http: Option<TlsFiles>,
    /// TLS on `--grpc-listen`.
    pub grpc: Option<TlsFiles>,
}

/// Both listeners' TLS, each file read once to check it.
pub(super) fn tls(cli: &Cli) -> Result<TlsSettings, ConfigError> {
    let http = files(
        ["tls-cert-file", "tls-key-file", "tls-client-ca-file"],
        [
            cli.tls.tls_cert_file.clone(),
            cli.tls.tls_key_file.clone(),
            cli.tls.tls_client_ca_file.clone(),
        ],
        Alpn::Http1,
    )?;
    let grpc = files(
        [
            "grpc-tls-cert-file",
            "grpc-tls-key-file",
            "grpc-tls-client-ca-file",
        ],
        [
            cli.tls.grpc_tls_cert_file.clone(),
            cli.tls.grpc_tls_key_file.clone(),
            cli.tls.grpc_tls_client_ca_file.clone(),
        ],
        Alpn::H2,
    )?;
    if grpc.is_some() && cli.grpc_listen.is_none() {
        return Err(ConfigError::new(
            "grpc-tls-cert-file",
            "needs --grpc-listen: there is no gRPC listener to serve TLS on",
        ));
    }
    Ok(TlsSettings { http, grpc })
}

/// One listener's files: a certificate and its key, or neither (then no
/// client CA either).
fn files(
    settings: [&'static str; 3],
    [cert, key, client_ca]: [Option<PathBuf>; 3],
    alpn: Alpn,
) -> Result<Option<TlsFiles>, ConfigError> {
    let [cert_setting, key_setting, ca_setting] = settings;
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) if client_ca.is_none() => return Ok(None),
        (None, None) => {
            return Err(ConfigError::new(
                ca_setting,
                format!("needs --{cert_setting}"),
            ))
        }
        (Some(_), None) => {
            return Err(ConfigError::new(
                key_setting,
                format!("needs setting with --{cert_setting}"),
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                cert_setting,
                format!("needs setting with --{key_setting}"),
            ))
        }
    };
    let files = TlsFiles {
        cert,
        key,
        client_ca,
        settings,
    };
    // Read now so a bad file stops the start; the listener reads them again.
    ListenerTls::load("check", files.clone(), alpn, Duration::from_secs(1))
        .map_err(|e| ConfigError::new(e.setting, e.to_string()))?;
    Ok(Some(files))
}

#[cfg(test)]
#[path = "tls_tests.rs"]
mod tests;

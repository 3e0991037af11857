//! The flags of TLS on the node's own listeners (HTTP and gRPC); unset:
//! plaintext. The files are read again when they change and on SIGHUP.

use std::path::PathBuf;

use clap::Args;

/// Certificates and keys of the listeners, flattened into the command line.
#[derive(Debug, Args)]
pub(in crate::settings) struct TlsFlags {
    /// Certificate chain (PEM) to serve HTTPS with on --listen; needs --tls-key-file.
    #[arg(long, env = "LIMITER_TLS_CERT_FILE", value_name = "FILE")]
    pub(in crate::settings) tls_cert_file: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert-file.
    #[arg(long, env = "LIMITER_TLS_KEY_FILE", value_name = "FILE")]
    pub(in crate::settings) tls_key_file: Option<PathBuf>,

    /// CA certificates (PEM) HTTPS clients must present a certificate from (mTLS).
    /// Unset: no client certificate asked.
    #[arg(long, env = "LIMITER_TLS_CLIENT_CA_FILE", value_name = "FILE")]
    pub(in crate::settings) tls_client_ca_file: Option<PathBuf>,

    /// Certificate chain (PEM) to serve the rate-limit service (gRPC) over TLS with;
    /// needs --grpc-tls-key-file. Unset: plaintext gRPC (the HTTP TLS files do not apply).
    #[arg(long, env = "LIMITER_GRPC_TLS_CERT_FILE", value_name = "FILE")]
    pub(in crate::settings) grpc_tls_cert_file: Option<PathBuf>,

    /// Private key (PEM) of --grpc-tls-cert-file.
    #[arg(long, env = "LIMITER_GRPC_TLS_KEY_FILE", value_name = "FILE")]
    pub(in crate::settings) grpc_tls_key_file: Option<PathBuf>,

    /// CA certificates (PEM) gRPC clients must present a certificate from (mTLS).
    /// Unset: no client certificate asked.
    #[arg(long, env = "LIMITER_GRPC_TLS_CLIENT_CA_FILE", value_name = "FILE")]
    pub(in crate::settings) grpc_tls_client_ca_file: Option<PathBuf>,
}

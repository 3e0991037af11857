//! The flags of Kafka security: how the node's Kafka clients connect
//! (TLS, client certificates, SASL) and librdkafka properties passed through.

use std::path::PathBuf;

use clap::Args;

/// How the node's Kafka clients connect, flattened into the command line.
#[derive(Debug, Args)]
pub(in crate::settings) struct KafkaFlags {
    /// How the node connects to Kafka: plaintext, ssl, sasl_plaintext or sasl_ssl.
    #[arg(
        long,
        env = "LIMITER_KAFKA_SECURITY_PROTOCOL",
        value_name = "PROTOCOL",
        default_value = "plaintext"
    )]
    pub(in crate::settings) kafka_security_protocol: String,

    /// CA certificates (PEM) the brokers' certificates are checked against (ssl, sasl_ssl).
    /// Unset: the system's CAs.
    #[arg(long, env = "LIMITER_KAFKA_CA_FILE", value_name = "FILE")]
    pub(in crate::settings) kafka_ca_file: Option<PathBuf>,

    /// Client certificate (PEM) for mutual TLS, with --kafka-key-file.
    #[arg(long, env = "LIMITER_KAFKA_CERT_FILE", value_name = "FILE")]
    pub(in crate::settings) kafka_cert_file: Option<PathBuf>,

    /// The client certificate's private key (PEM), with --kafka-cert-file.
    #[arg(long, env = "LIMITER_KAFKA_KEY_FILE", value_name = "FILE")]
    pub(in crate::settings) kafka_key_file: Option<PathBuf>,

    /// SASL mechanism (sasl_plaintext, sasl_ssl): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    #[arg(long, env = "LIMITER_KAFKA_SASL_MECHANISM", value_name = "MECHANISM")]
    pub(in crate::settings) kafka_sasl_mechanism: Option<String>,

    /// SASL user name.
    #[arg(long, env = "LIMITER_KAFKA_SASL_USERNAME", value_name = "USER")]
    pub(in crate::settings) kafka_sasl_username: Option<String>,

    /// SASL password (prefer --kafka-sasl-password-file: a flag shows in the process list).
    #[arg(
        long,
        env = "LIMITER_KAFKA_SASL_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub(in crate::settings) kafka_sasl_password: Option<String>,

    /// File whose first line is the SASL password (instead of --kafka-sasl-password).
    #[arg(long, env = "LIMITER_KAFKA_SASL_PASSWORD_FILE", value_name = "FILE")]
    pub(in crate::settings) kafka_sasl_password_file: Option<PathBuf>,

    /// A librdkafka property for every Kafka client, KEY=VALUE; repeatable. Keys the node
    /// sets itself (group.id, bootstrap.servers, the security keys above…) are refused.
    #[arg(long, env = "LIMITER_KAFKA_OPTION", value_name = "KEY=VALUE")]
    pub(in crate::settings) kafka_option: Vec<String>,

    /// min.insync.replicas of the topics this node creates. Unset: the broker's default.
    #[arg(long, env = "LIMITER_KAFKA_MIN_INSYNC_REPLICAS", value_name = "N")]
    pub(in crate::settings) kafka_min_insync_replicas: Option<i32>,
}

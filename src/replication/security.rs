//! How the node reaches a secured Kafka: TLS (with an optional client
//! certificate), SASL PLAIN or SCRAM, and librdkafka options passed through;
//! applied alike to every client the node makes.

use std::fmt;
use std::path::PathBuf;

use rdkafka::config::ClientConfig;

/// `security.protocol`: how the connection to a broker is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Neither TLS nor SASL.
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over a plain connection.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl Protocol {
    /// The protocol named as librdkafka (and `--kafka-security-protocol`) names it.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "plaintext" => Some(Self::Plaintext),
            "ssl" => Some(Self::Ssl),
            "sasl_plaintext" => Some(Self::SaslPlaintext),
            "sasl_ssl" => Some(Self::SaslSsl),
            _ => None,
        }
    }

    /// librdkafka's name of it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "plaintext",
            Self::Ssl => "ssl",
            Self::SaslPlaintext => "sasl_plaintext",
            Self::SaslSsl => "sasl_ssl",
        }
    }

    /// Whether connections are TLS.
    pub fn tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }

    /// Whether the node authenticates with SASL.
    pub fn sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }
}

/// `sasl.mechanism`: PLAIN or SCRAM (GSSAPI and OAUTHBEARER are not built in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// The password itself, sent over the connection (use it over TLS only).
    Plain,
    /// SCRAM with SHA-256: the password never crosses the wire.
    ScramSha256,
    /// SCRAM with SHA-512.
    ScramSha512,
}

impl Mechanism {
    /// The mechanism named as Kafka names it (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Some(Self::Plain),
            "SCRAM-SHA-256" => Some(Self::ScramSha256),
            "SCRAM-SHA-512" => Some(Self::ScramSha512),
            _ => None,
        }
    }

    /// Kafka's name of it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// A setting's value that may be a secret (a password, an option such as
/// `ssl.key.password`); `Debug` never shows it, so neither do logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Hidden(String);

impl Hidden {
    /// A hidden value of this text.
    pub fn new(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hidden(..)")
    }
}

/// The SASL identity the node logs in with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sasl {
    /// How it proves who it is.
    pub mechanism: Mechanism,
    /// The user.
    pub username: String,
    /// The user's password.
    pub password: Hidden,
}

/// Everything about how the node's Kafka clients connect, beyond the brokers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSecurity {
    /// How connections are made.
    pub protocol: Protocol,
    /// CA certificates (PEM) brokers are verified against; `None`: the system's.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS; `None`: no certificate.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The SASL login; set exactly when the protocol is a SASL one.
    pub sasl: Option<Sasl>,
    /// Further librdkafka properties, none of them one the node owns; their
    /// values hidden, as some are secrets.
    pub options: Vec<(String, Hidden)>,
}

impl Default for KafkaSecurity {
    fn default() -> Self {
        Self {
            protocol: Protocol::Plaintext,
            ca_file: None,
            client_cert: None,
            sasl: None,
            options: Vec::new(),
        }
    }
}

/// librdkafka properties the node sets itself, so `--kafka-option` may not:
/// what replication's correctness rests on (every node reads every partition
/// from the start, no group commits, murmur2 partitioning, idempotent policy
/// writes), the timings each client is tuned with, and what typed settings
/// already say.
pub const OWNED_OPTIONS: &[&str] = &[
    "bootstrap.servers",
    "metadata.broker.list",
    "client.id",
    "group.id",
    "group.instance.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "auto.offset.reset",
    "partitioner",
    "enable.idempotence",
    "transactional.id",
    "acks",
    "request.required.acks",
    "linger.ms",
    "queue.buffering.max.ms",
    "message.timeout.ms",
    "request.timeout.ms",
    "queue.buffering.max.messages",
    "fetch.wait.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.keepalive.enable",
    "security.protocol",
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
];

/// Why a `--kafka-option` is refused.
#[derive(Debug, thiserror::Error)]
pub enum OptionError {
    /// The node sets this key itself.
    #[error("`{0}` is set by the node itself (or by a typed --kafka-… setting)")]
    Owned(String),
    /// librdkafka does not know the key or refuses the value.
    #[error("librdkafka refuses `{key}`: {reason}")]
    Refused {
        /// The key.
        key: String,
        /// What librdkafka said.
        reason: String,
    },
}

/// Checks one passthrough option: not a key the node owns, and one
/// librdkafka takes (an unknown key or a bad value is refused now, not when
/// the first client is made).
pub fn check_option(key: &str, value: &str) -> Result<(), OptionError> {
    if OWNED_OPTIONS.contains(&key) {
        return Err(OptionError::Owned(key.to_string()));
    }
    ClientConfig::new()
        .set(key, value)
        .create_native_config()
        .map(drop)
        .map_err(|e| OptionError::Refused {
            key: key.to_string(),
            reason: e.to_string(),
        })
}

/// Sets the security properties and passthrough options on `config`.
pub(super) fn apply(security: &KafkaSecurity, config: &mut ClientConfig) {
    config.set("security.protocol", security.protocol.name());
    let path = |p: &PathBuf| p.to_string_lossy().into_owned();
    match &security.ca_file {
        Some(ca) => {
            config.set("ssl.ca.location", path(ca));
        }
        // OpenSSL is linked statically, its own default CA directory is
        // not the system's: librdkafka's probe finds the system's bundle.
        None if security.protocol.tls() => {
            config.set("ssl.ca.location", "probe");
        }
        None => {}
    }
    if let Some((cert, key)) = &security.client_cert {
        config
            .set("ssl.certificate.location", path(cert))
            .set("ssl.key.location", path(key));
    }
    if let Some(sasl) = &security.sasl {
        config
            .set("sasl.mechanism", sasl.mechanism.name())
            .set("sasl.username", &sasl.username)
            .set("sasl.password", &sasl.password.0);
    }
    for (key, value) in &security.options {
        config.set(key, &value.0);
    }
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;

//! The Kafka security settings, validated: protocol, TLS files, SASL login,
//! passthrough librdkafka options and `min.insync.replicas`. Each refusal
//! names the setting to change.

use std::path::{Path, PathBuf};

use super::{Cli, ConfigError};
use crate::replication::security::{
    check_option, Hidden, KafkaSecurity, Mechanism, Protocol, Sasl,
};

/// How the node's Kafka clients connect. Checked even without brokers, so a
/// bad value never waits for the day they are set.
pub(super) fn security(cli: &Cli) -> Result<KafkaSecurity, ConfigError> {
    let protocol = Protocol::parse(&cli.kafka.kafka_security_protocol).ok_or_else(|| {
        ConfigError::new(
            "kafka-security-protocol",
            format!(
                "`{}` is not plaintext, ssl, sasl_plaintext or sasl_ssl",
                cli.kafka.kafka_security_protocol
            ),
        )
    })?;
    Ok(KafkaSecurity {
        protocol,
        ca_file: tls_file("kafka-ca-file", cli.kafka.kafka_ca_file.as_ref(), protocol)?,
        client_cert: client_cert(cli, protocol)?,
        sasl: sasl(cli, protocol)?,
        options: options(&cli.kafka.kafka_option)?,
    })
}

/// `min.insync.replicas` for new topics: at least 1, at most the replication factor.
pub(super) fn min_insync_replicas(cli: &Cli) -> Result<Option<i32>, ConfigError> {
    match cli.kafka.kafka_min_insync_replicas {
        Some(n) if n < 1 || n > cli.topic_replication => Err(ConfigError::new(
            "kafka-min-insync-replicas",
            format!(
                "must be from 1 to --topic-replication ({}): a write needs that many replicas",
                cli.topic_replication
            ),
        )),
        n => Ok(n),
    }
}

/// A certificate file: only over TLS, and readable now rather than at the
/// first connection.
fn tls_file(
    setting: &'static str,
    path: Option<&PathBuf>,
    protocol: Protocol,
) -> Result<Option<PathBuf>, ConfigError> {
    let Some(path) = path else { return Ok(None) };
    if !protocol.tls() {
        return Err(ConfigError::new(
            setting,
            format!(
                "only with --kafka-security-protocol ssl or sasl_ssl (it is {})",
                protocol.name()
            ),
        ));
    }
    readable(setting, path)?;
    Ok(Some(path.clone()))
}

fn readable(setting: &'static str, path: &Path) -> Result<(), ConfigError> {
    std::fs::File::open(path)
        .map(drop)
        .map_err(|e| ConfigError::new(setting, format!("cannot read {}: {e}", path.display())))
}

/// The client certificate and its key: both or neither.
fn client_cert(cli: &Cli, protocol: Protocol) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
    let cert = tls_file(
        "kafka-cert-file",
        cli.kafka.kafka_cert_file.as_ref(),
        protocol,
    )?;
    let key = tls_file(
        "kafka-key-file",
        cli.kafka.kafka_key_file.as_ref(),
        protocol,
    )?;
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some((cert, key))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::new(
            "kafka-key-file",
            "required with --kafka-cert-file: a certificate is used with its key",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "kafka-cert-file",
            "required with --kafka-key-file: a key is used with its certificate",
        )),
    }
}

/// The SASL login: exactly with a SASL protocol, and then complete.
fn sasl(cli: &Cli, protocol: Protocol) -> Result<Option<Sasl>, ConfigError> {
    let (flags, password) = (&cli.kafka, password(cli)?);
    if !protocol.sasl() {
        let given = [
            ("kafka-sasl-mechanism", flags.kafka_sasl_mechanism.is_some()),
            ("kafka-sasl-username", flags.kafka_sasl_username.is_some()),
            ("kafka-sasl-password", password.is_some()),
        ];
        if let Some((setting, _)) = given.into_iter().find(|(_, set)| *set) {
            return Err(ConfigError::new(
                setting,
                "only with --kafka-security-protocol sasl_plaintext or sasl_ssl",
            ));
        }
        return Ok(None);
    }
    let name = flags.kafka_sasl_mechanism.as_deref().ok_or_else(|| {
        ConfigError::new(
            "kafka-sasl-mechanism",
            format!(
                "required with --kafka-security-protocol {}",
                protocol.name()
            ),
        )
    })?;
    let mechanism = Mechanism::parse(name).ok_or_else(|| {
        ConfigError::new(
            "kafka-sasl-mechanism",
            format!("`{name}` is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
        )
    })?;
    let username = match flags.kafka_sasl_username.clone() {
        Some(user) if !user.is_empty() => user,
        _ => {
            return Err(ConfigError::new(
                "kafka-sasl-username",
                format!("required with --kafka-sasl-mechanism {}", mechanism.name()),
            ))
        }
    };
    let password = password.ok_or_else(|| {
        ConfigError::new(
            "kafka-sasl-password",
            format!(
                "required with --kafka-sasl-mechanism {} (or --kafka-sasl-password-file)",
                mechanism.name()
            ),
        )
    })?;
    Ok(Some(Sasl {
        mechanism,
        username,
        password: Hidden::new(password),
    }))
}

/// The password given, or the first line of its file; not both, not empty.
fn password(cli: &Cli) -> Result<Option<String>, ConfigError> {
    let (setting, password) = match (
        &cli.kafka.kafka_sasl_password,
        &cli.kafka.kafka_sasl_password_file,
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "kafka-sasl-password-file",
                "set the SASL password or its file, not both",
            ))
        }
        (Some(given), None) => ("kafka-sasl-password", given.clone()),
        (None, Some(path)) => {
            let setting = "kafka-sasl-password-file";
            (setting, super::http::first_line_of(setting, path)?)
        }
        (None, None) => return Ok(None),
    };
    if password.is_empty() {
        return Err(ConfigError::new(setting, "the password is empty"));
    }
    Ok(Some(password))
}

/// `KEY=VALUE` options, each one librdkafka takes and the node does not own.
fn options(given: &[String]) -> Result<Vec<(String, Hidden)>, ConfigError> {
    given
        .iter()
        .map(|option| {
            let (key, value) = option.split_once('=').ok_or_else(|| {
                ConfigError::new(
                    "kafka-option",
                    format!("`{option}` is not KEY=VALUE, e.g. socket.timeout.ms=30000"),
                )
            })?;
            let key = key.trim();
            check_option(key, value)
                .map_err(|e| ConfigError::new("kafka-option", e.to_string()))?;
            Ok((key.to_string(), Hidden::new(value.to_string())))
        })
        .collect()
}

#[cfg(test)]
#[path = "kafka_tests.rs"]
mod tests;

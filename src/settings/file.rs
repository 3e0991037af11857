//! The settings file (`--config FILE`): the same settings as the flags, in
//! TOML, keys spelled as the flag names.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
use crate::limiter::rate::RateText;

/// The same settings as read from a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct FileSettings {
    pub(super) listen: Option<String>,
    pub(super) capacity: Option<u32>,
    pub(super) refill_per_sec: Option<RateText>,
    pub(super) max_keys: Option<usize>,
    pub(super) workers: Option<usize>,
    pub(super) log: Option<String>,
    pub(super) kafka_brokers: Option<String>,
    pub(super) topic: Option<String>,
    pub(super) topic_partitions: Option<i32>,
    pub(super) topic_replication: Option<i32>,
    pub(super) node_id: Option<String>,
    pub(super) sync_interval_ms: Option<u64>,
    pub(super) bootstrap_timeout_ms: Option<u64>,
    pub(super) max_clock_skew_ms: Option<u64>,
    pub(super) partition_after_ms: Option<u64>,
    pub(super) peer_gone_after_ms: Option<u64>,
    pub(super) quiet_watermark: Option<f64>,
    pub(super) reader_threads: Option<usize>,
    pub(super) merge: Option<String>,
    pub(super) rules: Option<PathBuf>,
    pub(super) admin_token: Option<String>,
    pub(super) data_dir: Option<PathBuf>,
    pub(super) config_topic: Option<String>,
    pub(super) grpc_listen: Option<String>,
    pub(super) rls_config: Option<PathBuf>,
    pub(super) forward_auth_user_header: Option<String>,
    pub(super) gateway: Option<PathBuf>,
    pub(super) trusted_proxies: Option<Vec<String>>,
    pub(super) shadow: Option<bool>,
    pub(super) decision_token: Option<String>,
    pub(super) decision_token_file: Option<PathBuf>,
    pub(super) head_timeout_ms: Option<u64>,
    pub(super) body_timeout_ms: Option<u64>,
    pub(super) max_connections: Option<usize>,
}

/// Reads and parses the settings file at `path`.
pub(super) fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| ConfigError::new("config", format!("{}: {}", path.display(), e.message())))
}

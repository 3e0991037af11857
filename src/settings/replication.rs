//! The Kafka replication settings, validated.

use std::time::Duration;

use super::{kafka, Cli, ConfigError};
use crate::limiter::{MergeMode, Quiet};
use crate::replication::ReplicationSettings;

pub(super) fn replication(cli: &Cli) -> Result<Option<ReplicationSettings>, ConfigError> {
    // Checked even without Kafka, so a bad value never waits for the day brokers are set.
    let peer_gone_after = millis("peer-gone-after-ms", cli.peer_gone_after_ms, 1)?;
    let merge = merge_mode(&cli.merge)?;
    let quiet = Quiet::new(cli.quiet_watermark)
        .map_err(|e| ConfigError::new("quiet-watermark", e.to_string()))?;
    let security = kafka::security(cli)?;
    let min_insync_replicas = kafka::min_insync_replicas(cli)?;
    let Some(brokers) = cli.kafka_brokers.clone() else {
        return Ok(None);
    };
    check_brokers(&brokers)?;
    let (topic, config_topic) = topics(cli)?;
    let partitions = cli.topic_partitions;
    if partitions < 1 {
        return Err(ConfigError::new("topic-partitions", "must be at least 1"));
    }
    if cli.topic_replication < 1 {
        return Err(ConfigError::new("topic-replication", "must be at least 1"));
    }
    Ok(Some(ReplicationSettings {
        brokers,
        topic,
        partitions,
        replication_factor: cli.topic_replication,
        node_id: given_node_id(cli)?.unwrap_or_else(default_node_id),
        sync_interval: millis("sync-interval-ms", cli.sync_interval_ms, 1)?,
        bootstrap_timeout: millis("bootstrap-timeout-ms", cli.bootstrap_timeout_ms, 0)?,
        max_clock_skew: millis("max-clock-skew-ms", cli.max_clock_skew_ms, 0)?,
        partition_after: partition_after(cli)?,
        peer_gone_after,
        merge,
        config_topic,
        quiet,
        readers: readers(cli.reader_threads, partitions)?,
        security,
        min_insync_replicas,
    }))
}

/// Threads reading the state topic: one per core unless set, at most one
/// per partition (a reader without a partition would only wait).
fn readers(threads: usize, partitions: i32) -> Result<usize, ConfigError> {
    let n = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n if n > 256 => return Err(ConfigError::new("reader-threads", "at most 256")),
        n => n,
    };
    Ok(n.min(partitions.max(1) as usize))
}

fn check_brokers(brokers: &str) -> Result<(), ConfigError> {
    if brokers.split(',').any(|b| {
        b.trim()
            .rsplit_once(':')
            .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
    }) {
        return Err(ConfigError::new(
            "kafka-brokers",
            format!("`{brokers}` is not a list like host1:9092,host2:9092"),
        ));
    }
    Ok(())
}

/// The state topic and the policy (config) topic: valid names, not the same.
fn topics(cli: &Cli) -> Result<(String, String), ConfigError> {
    let topic = topic_name("topic", cli.topic.clone())?;
    let config_topic = topic_name("config-topic", cli.config_topic.clone())?;
    if config_topic == topic {
        return Err(ConfigError::new(
            "config-topic",
            "must differ from --topic: bucket states and rule changes are separate logs",
        ));
    }
    Ok((topic, config_topic))
}

/// `ms` milliseconds, at least `min`.
fn millis(setting: &'static str, ms: u64, min: u64) -> Result<Duration, ConfigError> {
    if ms < min {
        return Err(ConfigError::new(setting, format!("must be at least {min}")));
    }
    Ok(Duration::from_millis(ms))
}

fn partition_after(cli: &Cli) -> Result<Duration, ConfigError> {
    let partition_after = millis("partition-after-ms", cli.partition_after_ms, 0)?;
    if !partition_after.is_zero() && partition_after < Duration::from_millis(100) {
        // Heartbeats go out four times per period: faster would flood the topic.
        return Err(ConfigError::new(
            "partition-after-ms",
            "must be 0 (off) or at least 100",
        ));
    }
    Ok(partition_after)
}

/// The node ID given, checked whether or not the node replicates: a
/// standalone node shows it too.
pub(super) fn given_node_id(cli: &Cli) -> Result<Option<String>, ConfigError> {
    match cli.node_id.clone() {
        Some(id)
            if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Err(ConfigError::new("node-id", "1-128 bytes of visible ASCII"))
        }
        given => Ok(given),
    }
}

fn merge_mode(setting: &str) -> Result<MergeMode, ConfigError> {
    match setting {
        "min-max" => Ok(MergeMode::MinMax),
        "counted" => Ok(MergeMode::Counted),
        other => Err(ConfigError::new(
            "merge",
            format!("`{other}` is not `min-max` or `counted`"),
        )),
    }
}

fn topic_name(setting: &'static str, topic: String) -> Result<String, ConfigError> {
    if topic.is_empty()
        || topic.len() > 249
        || !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(ConfigError::new(
            setting,
            "1-249 characters of a-z, A-Z, 0-9, '.', '_' and '-'",
        ));
    }
    Ok(topic)
}

/// `<host name>-<random suffix>`: readable in logs, unique across restarts.
fn default_node_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| {
            h.trim()
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    let suffix = ahash::RandomState::new().hash_one(std::process::id()) & 0xff_ffff;
    format!("{host}-{suffix:06x}")
}

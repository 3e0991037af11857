//! What replication needs to know, as the settings module validated it.

use std::time::Duration;

use super::security::KafkaSecurity;
use crate::limiter::{MergeMode, Quiet};

/// Validated replication settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// The compacted state topic.
    pub topic: String,
    /// Partitions when creating the topic.
    pub partitions: i32,
    /// Replication factor when creating the topic.
    pub replication_factor: i32,
    /// This node's ID.
    pub node_id: String,
    /// How often changed buckets are published.
    pub sync_interval: Duration,
    /// Longest bootstrap wait before serving as ready.
    pub bootstrap_timeout: Duration,
    /// Tolerated clock lead of a peer.
    pub max_clock_skew: Duration,
    /// Silence after which the node counts itself cut off; zero: never.
    pub partition_after: Duration,
    /// Silence after which `GET /v1/cluster` shows a peer `gone`.
    pub peer_gone_after: Duration,
    /// How peers' states merge.
    pub merge: MergeMode,
    /// The compacted topic of rule and plan changes.
    pub config_topic: String,
    /// When this node's spending on a key may stay unpublished.
    pub quiet: Quiet,
    /// Threads reading the state topic, each a share of its partitions.
    pub readers: usize,
    /// How the clients connect: TLS, SASL, passthrough options.
    pub security: KafkaSecurity,
    /// `min.insync.replicas` of the topics this node creates; `None`: the broker's default.
    pub min_insync_replicas: Option<i32>,
}

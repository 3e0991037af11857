//! The Kafka clients replication uses, configured once: the state producer,
//! the policy topic's producer, self-assigning readers, and a quiet log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::producer::ThreadedProducer;
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use super::publisher::Delivery;
use super::{ReplicationSettings, Shared};

/// librdkafka reports every refused connection and every end of partition
/// (how bootstrap knows it is done) as an error; the connected gauge and one
/// warning per change of state say the same more usefully, so its own lines go
/// to debug, except the severe ones.
pub(super) struct Quiet;

impl ClientContext for Quiet {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        quiet_log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(error, KafkaError::PartitionEOF(_)) {
            tracing::debug!(%error, reason, "kafka client error; librdkafka retries");
        }
    }
}

pub(super) fn quiet_log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
            tracing::error!(facility, "librdkafka: {message}")
        }
        _ => tracing::debug!(facility, "librdkafka: {message}"),
    }
}

impl ConsumerContext for Quiet {}

/// The producer of bucket states: batched, and quick to report a failure so
/// the key is published again soon.
pub(super) fn state_producer(
    shared: &Arc<Shared>,
) -> Result<ThreadedProducer<Delivery>, KafkaError> {
    client_config(&shared.settings)
        // murmur2 on the key, as the Java client does, so every client agrees
        // on which partition holds a user.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        // A failed publish comes back soon, and the key is published again then.
        .set("message.timeout.ms", "10000")
        .set("queue.buffering.max.messages", "200000")
        .create_with_context(Delivery(Arc::clone(shared)))
}

/// The settings of the policy topic's producer: durable before acknowledged.
pub(super) fn config_producer(settings: &ReplicationSettings) -> ClientConfig {
    let mut config = client_config(settings);
    config
        // Every in-sync replica has it before it counts as acknowledged.
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "0")
        // An admin call waits for the broker: give up after a few seconds
        // (503) rather than librdkafka's default of five minutes.
        .set("message.timeout.ms", "5000")
        .set("request.timeout.ms", "5000");
    config
}

pub(super) fn client_config(settings: &ReplicationSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &settings.brokers)
        .set("client.id", format!("crdt-limiter-{}", settings.node_id))
        .set("socket.keepalive.enable", "true")
        .set("reconnect.backoff.max.ms", "1000");
    config
}

/// A consumer that reads partitions it assigns itself, from the beginning,
/// reporting the end of each (how bootstrap knows it is done). The group ID
/// is never joined (no subscription); librdkafka wants one all the same.
pub(super) fn reader(
    settings: &ReplicationSettings,
    group: &str,
) -> Result<BaseConsumer<Quiet>, KafkaError> {
    client_config(settings)
        .set("group.id", format!("{group}-{}", settings.node_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create_with_context(Quiet)
}

/// Waits until `topic` exists, then assigns this consumer every partition of
/// it from the beginning; returns how many partitions, or `None` if the node
/// stops first or the assignment fails (logged).
pub(super) fn assign_all_from_beginning(
    shared: &Shared,
    consumer: &BaseConsumer<Quiet>,
    topic: &str,
    started: Instant,
) -> Option<i32> {
    let partitions = loop {
        let found = consumer
            .fetch_metadata(Some(topic), Duration::from_millis(1000))
            .ok()
            .and_then(|m| {
                m.topics()
                    .first()
                    .filter(|t| t.error().is_none())
                    .map(|t| t.partitions().len())
            })
            .filter(|&n| n > 0);
        if let Some(n) = found {
            break n as i32;
        }
        shared.give_up_waiting(started);
        if !shared.pause(Duration::from_millis(250)) {
            return None;
        }
    };
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        if let Err(error) = assignment.add_partition_offset(topic, partition, Offset::Beginning) {
            tracing::error!(%error, topic, "cannot build the partition assignment");
            return None;
        }
    }
    if let Err(error) = consumer.assign(&assignment) {
        tracing::error!(%error, topic, "cannot assign partitions; nothing is received from this topic");
        return None;
    }
    Some(partitions)
}

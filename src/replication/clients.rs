//! The Kafka clients replication uses, configured once: the state producer,
//! the policy topic's producer, the admin client, and a quiet log. (The
//! readers are in [`reader`](super::reader).)

use std::sync::Arc;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::producer::BaseProducer;
use rdkafka::ClientContext;

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

/// The producer of bucket states: batched, and quick to report a failure so
/// the key is published again soon.
pub(super) fn state_producer(shared: &Arc<Shared>) -> Result<BaseProducer<Delivery>, KafkaError> {
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

//! The Kafka clients replication uses, configured once: the settings every
//! client shares, the policy topic's producer, the admin client, and a quiet
//! log. (The state producer is in [`publisher`](super::publisher), the
//! readers in [`reader`](super::reader).)

use std::sync::Arc;

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaError;
use rdkafka::ClientContext;

use super::failures::Failures;
use super::{security, ReplicationSettings};

/// librdkafka reports every refused connection and every end of partition
/// (how bootstrap knows it is done) as an error; the connected gauge and one
/// warning per change of state say the same more usefully, so its own lines go
/// to debug, except the severe ones and those the operator must fix (see
/// [`Failures`]).
pub(super) struct Quiet(pub(super) Arc<Failures>);

impl ClientContext for Quiet {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.0.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.0.report(&error, reason);
    }
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
    // TLS, SASL and passthrough options: every client, the admin one too.
    security::apply(&settings.security, &mut config);
    config
}

//! The publishing side: the state producer, the coalescing flusher thread,
//! heartbeats, and the delivery callback that sorts failures into "publish again" and "give up".

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, ProducerContext};
use rdkafka::ClientContext;

use super::clients::client_config;
use super::codec::{self, Envelope, Heartbeat};
use super::membership::{heartbeat_every, heartbeat_key, HEARTBEAT_PREFIX};
use super::Shared;

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

/// Sends delivery outcomes back: acknowledged ones are counted, failed ones
/// mark the key dirty so its latest state goes out again.
pub(super) struct Delivery(pub(super) Arc<Shared>);

impl ClientContext for Delivery {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.0.failures.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.0.failures.report(&error, reason);
    }
}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                // Heartbeats are not bucket states: the metric counts what users spent.
                let heartbeat = message
                    .key()
                    .is_some_and(|k| k.starts_with(HEARTBEAT_PREFIX.as_bytes()));
                if !heartbeat {
                    self.0.telemetry.sync_published();
                }
            }
            Err((error, message)) => {
                let key = message.key().and_then(|k| std::str::from_utf8(k).ok());
                let tombstone = message.payload().is_none();
                failed(&self.0, error, key, tombstone);
            }
        }
    }
}

/// What to do about a publish that failed.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// Passing trouble (broker away, queue full, timeout): publish again later.
    Retry,
    /// The broker will never take it (too large, not allowed, invalid): drop it.
    GiveUp,
}

/// Sorts a producer error once: only errors that repeating cannot fix give up.
fn classify(error: &KafkaError) -> Failure {
    use RDKafkaErrorCode::*;
    match error.rdkafka_error_code() {
        Some(
            MessageSizeTooLarge
            | InvalidMessageSize
            | InvalidMessage
            | InvalidRequiredAcks
            | TopicAuthorizationFailed
            | ClusterAuthorizationFailed
            | PolicyViolation
            | InvalidArgument
            | Fatal,
        ) => Failure::GiveUp,
        _ => Failure::Retry,
    }
}

/// Handles a failed publish of `key`: a state is marked dirty again (its
/// latest state goes out next time), a tombstone is queued again; one the
/// broker will never take is logged and counted.
fn failed(shared: &Shared, error: &KafkaError, key: Option<&str>, tombstone: bool) {
    let Some(key) = key.filter(|k| !k.starts_with(HEARTBEAT_PREFIX)) else {
        // A heartbeat: the next one replaces it.
        return;
    };
    match classify(error) {
        Failure::Retry => {
            tracing::debug!(%error, key, "publish failed; will publish again");
            shared.telemetry.sync_publish_failed("retry");
            if tombstone {
                shared.store.retry_tombstone(key);
            } else {
                shared.store.mark_dirty(key);
            }
        }
        Failure::GiveUp => {
            tracing::warn!(%error, key, "the broker refuses this record; not publishing it again");
            shared.telemetry.sync_publish_failed("give_up");
        }
    }
}

pub(super) fn flush_periodically(shared: &Shared, producer: &BaseProducer<Delivery>) {
    while shared.pause(shared.settings.sync_interval) {
        // While the broker is away the changes stay in the store, latest state only.
        if shared.connected.load(Ordering::Relaxed) {
            publish_changes(shared, producer);
        }
    }
}

/// Sends this node's heartbeat four times per partition period, whatever the
/// broker's state: while it is away they wait in (or expire from) the queue.
pub(super) fn beat_periodically(shared: &Shared, producer: &BaseProducer<Delivery>) {
    if shared.settings.partition_after.is_zero() {
        return;
    }
    let every = heartbeat_every(shared.settings.partition_after);
    while shared.pause(every) {
        heartbeat(shared, producer);
    }
}

fn heartbeat(shared: &Shared, producer: &BaseProducer<Delivery>) {
    let payload = codec::encode_heartbeat(&Heartbeat {
        node_id: shared.settings.node_id.clone(),
        incarnation: shared.incarnation,
        sent_at: shared.clock.now(),
    });
    let key = heartbeat_key(&shared.settings.node_id);
    let record = BaseRecord::<str, Vec<u8>>::to(&shared.settings.topic)
        .key(key.as_str())
        .payload(&payload);
    if let Err((error, _)) = producer.send(record) {
        tracing::debug!(%error, "heartbeat not sent; the next one will be");
    }
}

/// On shutdown: a tombstone for this node's heartbeat, so compaction forgets it.
pub(super) fn leave(shared: &Shared, producer: &BaseProducer<Delivery>) {
    if shared.settings.partition_after.is_zero() {
        return;
    }
    let key = heartbeat_key(&shared.settings.node_id);
    let _ = producer.send(BaseRecord::<str, ()>::to(&shared.settings.topic).key(key.as_str()));
}

/// Publishes every changed key's latest state once; returns how many.
pub(super) fn publish_changes(shared: &Shared, producer: &BaseProducer<Delivery>) -> usize {
    let now = shared.clock.now();
    let changes = shared.store.take_changes(now);
    for (key, replicated) in &changes {
        let payload = replicated.as_ref().map(|replicated| {
            codec::encode(&Envelope {
                node_id: shared.settings.node_id.clone(),
                sent_at: now,
                limit: replicated.limit,
                state: replicated.state,
                spent: replicated.spent.clone(),
                reset: replicated.reset,
            })
        });
        let mut record =
            BaseRecord::<[u8], Vec<u8>>::to(&shared.settings.topic).key(key.as_bytes());
        if let Some(payload) = &payload {
            record = record.payload(payload);
        }
        if let Err((error, _)) = producer.send(record) {
            failed(shared, &error, Some(key), payload.is_none());
        }
    }
    changes.len()
}

#[cfg(test)]
#[path = "publisher_tests.rs"]
mod tests;

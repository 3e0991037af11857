//! The publishing side: the coalescing flusher thread and the delivery
//! callback that re-marks a key whose publish failed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::codec::{self, Envelope};
use super::{quiet_log, Shared};

/// Sends delivery outcomes back: acknowledged ones are counted, failed ones
/// mark the key dirty so its latest state goes out again.
pub(super) struct Delivery(pub(super) Arc<Shared>);

impl ClientContext for Delivery {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        quiet_log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(%error, reason, "kafka producer error; librdkafka retries");
    }
}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.0.telemetry.sync_published(),
            Err((error, message)) => {
                tracing::debug!(%error, "publish failed; will publish again");
                self.0.telemetry.sync_publish_failed();
                if let Some(key) = message.key().and_then(|k| std::str::from_utf8(k).ok()) {
                    self.0.store.mark_dirty(key);
                }
            }
        }
    }
}

pub(super) fn flush_periodically(shared: &Shared, producer: &ThreadedProducer<Delivery>) {
    while shared.pause(shared.settings.sync_interval) {
        // While the broker is away the changes stay in the store, latest state only.
        if shared.connected.load(Ordering::Relaxed) {
            publish_changes(shared, producer);
        }
    }
}

/// Publishes every changed key's latest state once; returns how many.
pub(super) fn publish_changes(shared: &Shared, producer: &ThreadedProducer<Delivery>) -> usize {
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
            })
        });
        let mut record =
            BaseRecord::<[u8], Vec<u8>>::to(&shared.settings.topic).key(key.as_bytes());
        if let Some(payload) = &payload {
            record = record.payload(payload);
        }
        if let Err((error, _)) = producer.send(record) {
            tracing::debug!(%error, "kafka queue full; keeping the change for later");
            shared.store.mark_dirty(key);
        }
    }
    changes.len()
}

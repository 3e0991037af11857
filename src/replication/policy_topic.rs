//! The config topic (`rate-limit-config`): live rule changes, committed by
//! the admin API and applied by every node in the topic's order.
//!
//! One partition, so every node applies the same changes in the same order
//! and ends with the same rules. A change is acknowledged once the broker has
//! it, and once this node's own consumer has applied it (so the node that
//! made a change answers with it at once); a starting node reads the topic to
//! its end before it reports ready.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::ClientConfig;
use tokio::sync::watch;

use super::clients::{assign_all_from_beginning, Quiet};
use super::Shared;
use crate::policy::{Policy, PolicyChange};
use crate::policy_log::codec::{decode, encode};
use crate::policy_log::{Commit, PolicyLog};
use crate::telemetry::Telemetry;

/// How long a commit waits for the broker.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a commit the broker took waits for this node's consumer to apply
/// it before applying it directly (the consumer applies it again in order).
const APPLY_WAIT: Duration = Duration::from_secs(2);

/// The committing side, handed to the admin API.
pub struct PolicyTopic {
    topic: String,
    /// Replaced when librdkafka declares it dead (an idempotent producer that
    /// was fenced, e.g. after a partition, refuses every later send).
    producer: ArcSwap<FutureProducer<Quiet>>,
    producer_config: ClientConfig,
    applied: watch::Receiver<i64>,
    policy: Arc<Policy>,
    telemetry: Arc<Telemetry>,
}

impl PolicyTopic {
    pub(super) fn new(
        topic: String,
        producer_config: ClientConfig,
        applied: watch::Receiver<i64>,
        policy: Arc<Policy>,
        telemetry: Arc<Telemetry>,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            topic,
            producer: ArcSwap::from_pointee(producer_config.create_with_context(Quiet)?),
            producer_config,
            applied,
            policy,
            telemetry,
        })
    }

    /// Writes `change` to the topic; returns once the broker has it and this
    /// node applies it, or with the reason it was not stored.
    async fn send(&self, change: &PolicyChange) -> Result<(), String> {
        let (key, value) = encode(change);
        let send = |producer: Arc<FutureProducer<Quiet>>| {
            let (topic, key, value) = (&self.topic, &key, &value);
            async move {
                let mut record = FutureRecord::<str, [u8]>::to(topic).key(key).partition(0);
                if let Some(value) = value {
                    record = record.payload(value);
                }
                producer.send(record, COMMIT_TIMEOUT).await
            }
        };
        let mut result = send(self.producer.load_full()).await;
        if let Err((error, _)) = &result {
            if self.renew_if_dead(error) {
                // Setting the same value again is harmless: try once on the new producer.
                result = send(self.producer.load_full()).await;
            }
        }
        let delivery =
            result.map_err(|(error, _)| format!("kafka did not take the change: {error}"))?;
        let mut applied = self.applied.clone();
        let offset = delivery.offset;
        if tokio::time::timeout(APPLY_WAIT, applied.wait_for(|&done| done >= offset))
            .await
            .is_err()
        {
            tracing::warn!(
                offset,
                "config consumer is behind; applying the change directly"
            );
            self.policy.apply(change)?;
        }
        self.telemetry.config_applied("admin");
        Ok(())
    }
}

impl PolicyLog for PolicyTopic {
    fn commit(&self, change: PolicyChange) -> Commit<'_> {
        Box::pin(async move { self.send(&change).await })
    }
}

impl PolicyTopic {
    /// Replaces the producer if librdkafka says it can never send again;
    /// returns whether it did.
    fn renew_if_dead(&self, error: &KafkaError) -> bool {
        let fenced = error.rdkafka_error_code() == Some(RDKafkaErrorCode::ProducerFenced);
        if !fenced && self.producer.load().client().fatal_error().is_none() {
            return false;
        }
        match self.producer_config.create_with_context(Quiet) {
            Ok(producer) => {
                tracing::warn!(%error, "the config producer was fenced; replaced it");
                self.producer.store(Arc::new(producer));
                true
            }
            Err(error) => {
                tracing::error!(%error, "cannot replace the fenced config producer");
                false
            }
        }
    }
}

/// Reads the config topic from the beginning, applying every change, for ever.
pub(super) fn consume_config(
    shared: &Shared,
    consumer: &BaseConsumer<Quiet>,
    applied: &watch::Sender<i64>,
) {
    let started = Instant::now();
    let topic = &shared.settings.config_topic;
    let Some(partitions) = assign_all_from_beginning(shared, consumer, topic, started) else {
        return;
    };
    let mut at_end = HashSet::new();
    let mut bootstrapped = false;
    while !shared.stopping.load(Ordering::Relaxed) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                receive(shared, message.key(), message.payload());
                if message.partition() == 0 {
                    applied.send_replace(message.offset());
                }
            }
            Some(Err(KafkaError::PartitionEOF(partition))) if !bootstrapped => {
                at_end.insert(partition);
                if at_end.len() == partitions as usize {
                    bootstrapped = true;
                    tracing::info!(took = ?started.elapsed(), "read the config topic");
                    shared.part_ready(&shared.config_ready);
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(error)) => {
                tracing::debug!(%error, "config consumer error; librdkafka retries")
            }
            None => {}
        }
        if !bootstrapped {
            shared.give_up_waiting(started);
        }
    }
}

fn receive(shared: &Shared, key: Option<&[u8]>, payload: Option<&[u8]>) {
    let change = key
        .and_then(|k| std::str::from_utf8(k).ok())
        .ok_or_else(|| "key is not UTF-8".to_string())
        .and_then(|key| decode(key, payload));
    match change.and_then(|change| shared.policy.apply(&change).map(|()| change)) {
        Ok(change) => {
            shared.telemetry.config_applied("log");
            tracing::debug!(?change, "applied a config change");
        }
        Err(error) => {
            shared.telemetry.config_decode_error();
            tracing::warn!(%error, "skipping a config record that does not decode or apply");
        }
    }
}

//! The config topic's producer: idempotent, every record acknowledged by
//! every in-sync replica, one delivery channel per send, and replaced when
//! librdkafka declares it dead or the topic it knew was re-created.
//!
//! A `BaseProducer` polled by a thread of the node's own with a long
//! timeout, rather than rdkafka's `FutureProducer`: the latter polls every
//! 100 ms and spins for the last millisecond of each poll, about 1% of a
//! core on an idle node (the state producer is polled the same way).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext};
use tokio::sync::oneshot;

use super::failures::Failures;

/// Where a send hears of its delivery: the record's offset, or why not.
type Reply = Mutex<Option<oneshot::Sender<Result<i64, KafkaError>>>>;

/// Hands each delivery report to the send waiting for it.
pub(super) struct Deliveries(Arc<Failures>);

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.0.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.0.report(&error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Reply>;

    fn delivery(&self, result: &DeliveryResult<'_>, reply: Box<Reply>) {
        let outcome = match result {
            Ok(message) => Ok(message.offset()),
            Err((error, _)) => Err(error.clone()),
        };
        if let Some(reply) = reply.lock().take() {
            // The send may have given up waiting: nobody to tell.
            let _ = reply.send(outcome);
        }
    }
}

/// The producer of one topic's single partition.
pub(super) struct ConfigProducer {
    topic: String,
    producer: ArcSwap<BaseProducer<Deliveries>>,
    config: ClientConfig,
    failures: Arc<Failures>,
}

impl ConfigProducer {
    pub(super) fn new(
        topic: String,
        config: ClientConfig,
        failures: Arc<Failures>,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            topic,
            producer: ArcSwap::from_pointee(
                config.create_with_context(Deliveries(Arc::clone(&failures)))?,
            ),
            config,
            failures,
        })
    }

    /// Sends `key` → `value` to partition 0; the offset once the broker has
    /// it, within `timeout`. A producer librdkafka declared dead is replaced
    /// and the send tried once more (the same value twice is harmless).
    pub(super) async fn send(
        &self,
        key: &str,
        value: &[u8],
        timeout: Duration,
    ) -> Result<i64, KafkaError> {
        match self.send_once(key, value, timeout).await {
            Err(error) if self.renew_if_dead(&error) => self.send_once(key, value, timeout).await,
            result => result,
        }
    }

    async fn send_once(
        &self,
        key: &str,
        value: &[u8],
        timeout: Duration,
    ) -> Result<i64, KafkaError> {
        let (reply, delivered) = oneshot::channel();
        let record = BaseRecord::with_opaque_to(&self.topic, Box::new(Mutex::new(Some(reply))))
            .key(key)
            .payload(value)
            .partition(0);
        self.producer
            .load()
            .send(record)
            .map_err(|(error, _)| error)?;
        match tokio::time::timeout(timeout, delivered).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(KafkaError::Canceled),
            Err(_) => Err(KafkaError::MessageProduction(
                RDKafkaErrorCode::MessageTimedOut,
            )),
        }
    }

    /// Queues `key` → `value` without waiting for it; whether it was queued.
    pub(super) fn send_and_forget(&self, key: &str, value: &[u8]) -> bool {
        let record = BaseRecord::with_opaque_to(&self.topic, Box::new(Mutex::new(None)))
            .key(key)
            .payload(value)
            .partition(0);
        match self.producer.load().send(record) {
            Ok(()) => true,
            Err((error, _)) => {
                tracing::debug!(%error, "a config record was not queued");
                false
            }
        }
    }

    /// Serves delivery reports for up to `timeout` (returns at once when one comes).
    pub(super) fn poll(&self, timeout: Duration) {
        self.producer.load_full().poll(timeout);
    }

    /// Replaces the producer if librdkafka says it can never send again;
    /// returns whether it did.
    fn renew_if_dead(&self, error: &KafkaError) -> bool {
        let fenced = error.rdkafka_error_code() == Some(RDKafkaErrorCode::ProducerFenced);
        if !fenced && self.producer.load().client().fatal_error().is_none() {
            return false;
        }
        self.renew(&format!("the config producer was fenced ({error})"))
    }

    /// Replaces the producer with a new one (an idempotent producer's
    /// sequence belongs to the topic and broker it was made for); returns
    /// whether it did.
    pub(super) fn renew(&self, why: &str) -> bool {
        match self
            .config
            .create_with_context(Deliveries(Arc::clone(&self.failures)))
        {
            Ok(producer) => {
                tracing::warn!(why, "replaced the config producer");
                self.producer.store(Arc::new(producer));
                true
            }
            Err(error) => {
                tracing::error!(%error, why, "cannot replace the config producer");
                false
            }
        }
    }
}

//! The config topic (`rate-limit-config`): live rule changes, committed by
//! the admin API and applied by every node in the topic's order.
//!
//! One partition, and every record versioned: the newest change of each
//! key wins (see [`Ledger`]), so every node ends with the same rules. A change
//! is acknowledged once the broker has it, and once this node's own reader
//! has applied it (so the node that made a change answers with it at once); a
//! starting node reads the topic to its end before it reports ready.
//!
//! Whenever a session has read the topic to its end — at start, and after
//! Kafka lost the topic — the node puts back every record it holds that the
//! topic lacks (or holds an older version of): an acknowledged change lives
//! as long as one node that applied it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::ClientConfig;
use tokio::sync::watch;

use super::broker::Which;
use super::config_producer::ConfigProducer;
use super::failures::Failures;
use super::reader::{read, Part, Records};
use super::Shared;
use crate::clock::Clock;
use crate::policy::PolicyChange;
use crate::policy_log::codec::{encode, DecodeError};
use crate::policy_log::{Commit, Ledger, LogError, PolicyLog, Source, Taken};
use crate::telemetry::Telemetry;

/// How long a commit waits for the broker.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a commit the broker took waits for this node's consumer to apply
/// it before applying it directly (the consumer applies it again in order).
const APPLY_WAIT: Duration = Duration::from_secs(2);

/// How often records the topic lacks are put back, once it has been read.
const RECONCILE_EVERY: Duration = Duration::from_secs(5);

/// The committing side, handed to the admin API.
pub struct PolicyTopic {
    producer: ConfigProducer,
    applied: watch::Receiver<i64>,
    ledger: Arc<Ledger>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
}

impl PolicyTopic {
    pub(super) fn new(
        topic: String,
        producer_config: ClientConfig,
        failures: Arc<Failures>,
        applied: watch::Receiver<i64>,
        ledger: Arc<Ledger>,
        clock: Arc<dyn Clock>,
        telemetry: Arc<Telemetry>,
    ) -> Result<Self, KafkaError> {
        Ok(Self {
            producer: ConfigProducer::new(topic, producer_config, failures)?,
            applied,
            ledger,
            clock,
            telemetry,
        })
    }

    /// Writes `change` to the topic; returns once the broker has it and this
    /// node applies it, or with the reason it was not stored.
    async fn send(&self, change: &PolicyChange) -> Result<(), LogError> {
        let version = self.ledger.next_version(self.clock.now().as_unix_nanos());
        let (key, value) = encode(change, version);
        let offset = self
            .producer
            .send(&key, &value, COMMIT_TIMEOUT)
            .await
            .map_err(|error| LogError::NotStored(error.to_string()))?;
        let mut applied = self.applied.clone();
        if tokio::time::timeout(APPLY_WAIT, applied.wait_for(|&done| done >= offset))
            .await
            .is_err()
        {
            tracing::warn!(
                offset,
                "config consumer is behind; applying the change directly"
            );
            self.ledger.take(&key, Some(&value), Source::Commit)?;
        }
        self.telemetry.config_applied("admin");
        Ok(())
    }

    /// Puts back every record this node holds that the topic lacks; returns how many.
    fn reconcile(&self) -> usize {
        let missing = self.ledger.unlogged();
        for (key, value) in &missing {
            // Not waited for: one that fails is still missing next time.
            self.producer.send_and_forget(key, value);
        }
        if !missing.is_empty() {
            self.telemetry.config_republished(missing.len());
        }
        missing.len()
    }
}

impl PolicyLog for PolicyTopic {
    fn commit(&self, change: PolicyChange) -> Commit<'_> {
        Box::pin(async move { self.send(&change).await })
    }
}

impl PolicyTopic {
    /// Replaces the producer with a new one (the topic it knew was re-created).
    pub(super) fn renew(&self, why: &str) -> bool {
        self.producer.renew(why)
    }

    /// Serves the producer's delivery reports for up to `timeout`.
    pub(super) fn poll_deliveries(&self, timeout: Duration) {
        self.producer.poll(timeout);
    }
}

/// Reads the config topic, session after session, until the node stops.
pub(super) fn consume_config(shared: &Shared, topic: &PolicyTopic, applied: &watch::Sender<i64>) {
    let mut records = ConfigRecords {
        topic,
        applied,
        started: Instant::now(),
        ready: false,
        reconcile_at: None,
    };
    read(
        shared,
        Which::Config,
        "crdt-limiter-config",
        Part::ALL,
        &mut records,
    );
}

/// What the config topic's reader keeps between records.
struct ConfigRecords<'a> {
    topic: &'a PolicyTopic,
    applied: &'a watch::Sender<i64>,
    started: Instant,
    ready: bool,
    /// When to put back what the topic lacks; `None` until a session caught up.
    reconcile_at: Option<Instant>,
}

impl Records for ConfigRecords<'_> {
    fn start(&mut self, _: &Shared, fresh: bool) {
        if fresh {
            // A new topic, or the first read: what it holds is learned again,
            // and its offsets start again.
            self.topic.ledger.forget_log();
            self.applied.send_replace(-1);
        }
        self.reconcile_at = None;
    }

    fn record(&mut self, shared: &Shared, message: &BorrowedMessage<'_>) {
        receive(shared, &self.topic.ledger, message.key(), message.payload());
        if message.partition() == 0 {
            self.applied.send_replace(message.offset());
        }
    }

    fn caught_up(&mut self, shared: &Shared) {
        if !std::mem::replace(&mut self.ready, true) {
            tracing::info!(took = ?self.started.elapsed(), "read the config topic");
            shared.part_ready(&shared.config_ready);
        }
        let put_back = self.topic.reconcile();
        if put_back > 0 {
            tracing::warn!(
                records = put_back,
                "the config topic lacked changes this node holds; put them back"
            );
        }
        self.reconcile_at = Some(Instant::now() + RECONCILE_EVERY);
    }

    fn tick(&mut self, shared: &Shared) {
        if !self.ready {
            shared.give_up_waiting(self.started);
        }
        if self.reconcile_at.is_some_and(|t| Instant::now() >= t) {
            self.topic.reconcile();
            self.reconcile_at = Some(Instant::now() + RECONCILE_EVERY);
        }
    }
}

fn receive(shared: &Shared, ledger: &Ledger, key: Option<&[u8]>, payload: Option<&[u8]>) {
    let taken = key
        .and_then(|k| std::str::from_utf8(k).ok())
        .ok_or_else(|| LogError::Undecodable(DecodeError("key is not UTF-8".into())))
        .and_then(|key| ledger.take(key, payload, Source::Log));
    match taken {
        Ok(Taken::Applied(change)) => {
            shared.telemetry.config_applied("log");
            tracing::debug!(?change, "applied a config change");
        }
        Ok(Taken::Held) => {}
        Ok(Taken::Stale) => {
            tracing::debug!("a config record older than this node's; ours goes back")
        }
        Err(error) => {
            shared.telemetry.config_decode_error();
            tracing::warn!(%error, "skipping a config record that does not decode or apply");
        }
    }
}

//! Replication through Kafka: publishes this node's changed buckets to a
//! compacted topic and merges every peer's into the local store.
//!
//! Three threads, none on the request path:
//! - the *flusher* publishes, every sync interval, the latest state of each key
//!   a decision changed (coalesced: traffic grows with active keys, not with
//!   requests); while the broker is away keys simply stay dirty. It also
//!   sends this node's heartbeat (see [`membership`]);
//! - the *consumer* assigns itself every partition (no consumer group: every
//!   node must see every key), reads from the beginning to the end of each
//!   partition before the node reports ready (bootstrap), then keeps merging,
//!   and tells from the heartbeats whether the node is cut off;
//! - the *supervisor* creates the topics if missing and probes the broker, which
//!   drives `limiter_kafka_connected`;
//! - the *config consumer* applies live rule changes from the config topic
//!   (see [`policy_topic`]).

pub mod codec;
mod consumer;
mod membership;
mod options;
pub mod policy_topic;
mod publisher;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{Producer, ThreadedProducer};
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use crate::clock::Clock;
use crate::limiter::Store;
use crate::policy::Policy;
use crate::telemetry::Telemetry;
use consumer::consume;
pub use options::ReplicationSettings;
use policy_topic::consume_config;
pub use policy_topic::PolicyTopic;
use publisher::{flush_periodically, publish_changes, Delivery};

/// How long a shutdown waits for the broker to take the last states.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// What the threads share.
pub(super) struct Shared {
    settings: ReplicationSettings,
    store: Arc<Store>,
    policy: Arc<Policy>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
    /// The node's readiness: set once both topics are read (or the timeout passed).
    ready: Arc<AtomicBool>,
    state_ready: AtomicBool,
    config_ready: AtomicBool,
    connected: AtomicBool,
    stopping: AtomicBool,
    /// Wakes threads pausing between rounds as soon as the node stops.
    stopped: (parking_lot::Mutex<bool>, parking_lot::Condvar),
    /// This start of the node (its own heartbeats of another are a previous life's).
    incarnation: u64,
}

impl Shared {
    /// Marks one topic read; the node is ready once both are.
    fn part_ready(&self, part: &AtomicBool) {
        part.store(true, Ordering::Release);
        if self.state_ready.load(Ordering::Acquire) && self.config_ready.load(Ordering::Acquire) {
            self.ready.store(true, Ordering::Release);
        }
    }

    /// Past the bootstrap timeout the node reports ready anyway: its decisions are
    /// local and stay correct for everything it sees, and it keeps trying.
    fn give_up_waiting(&self, started: Instant) {
        if started.elapsed() >= self.settings.bootstrap_timeout
            && !self.ready.swap(true, Ordering::AcqRel)
        {
            tracing::warn!(
                timeout = ?self.settings.bootstrap_timeout,
                "topics not read in time; serving from local state, still trying"
            );
        }
    }

    /// Sleeps up to `d`, waking early when the node stops; false once stopping.
    fn pause(&self, d: Duration) -> bool {
        let (lock, wake) = &self.stopped;
        let mut stopped = lock.lock();
        if !*stopped {
            wake.wait_while_for(&mut stopped, |stopped| !*stopped, d);
        }
        !*stopped
    }

    /// Tells every thread to stop, waking those that pause.
    fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        *self.stopped.0.lock() = true;
        self.stopped.1.notify_all();
    }

    fn set_connected(&self, connected: bool) {
        if self.connected.swap(connected, Ordering::Relaxed) != connected {
            if connected {
                tracing::info!(brokers = %self.settings.brokers, "kafka reachable: replicating");
            } else {
                tracing::warn!(brokers = %self.settings.brokers, "kafka unreachable: deciding locally, keeping changes until it is back");
            }
        }
        self.telemetry.kafka_connected(connected);
    }
}

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

/// A running replication; [`Replication::shutdown`] flushes and stops it.
pub struct Replication {
    shared: Arc<Shared>,
    producer: Arc<ThreadedProducer<Delivery>>,
    policy_topic: Arc<PolicyTopic>,
    threads: Vec<JoinHandle<()>>,
}

impl Replication {
    /// Starts replicating `store`. Returns at once; the node reports ready on
    /// `ready` once the topic has been read (or the bootstrap timeout passed).
    pub fn start(
        settings: ReplicationSettings,
        store: Arc<Store>,
        policy: Arc<Policy>,
        clock: Arc<dyn Clock>,
        telemetry: Arc<Telemetry>,
        ready: Arc<AtomicBool>,
    ) -> Result<Self, KafkaError> {
        telemetry.kafka_connected(false);
        let shared = Arc::new(Shared {
            settings,
            store,
            policy,
            clock: Arc::clone(&clock),
            telemetry,
            ready,
            state_ready: AtomicBool::new(false),
            config_ready: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            stopped: Default::default(),
            incarnation: clock.now().as_unix_nanos(),
        });
        let producer = Arc::new(state_producer(&shared)?);
        let consumer = reader(&shared.settings, "crdt-limiter")?;
        let admin: AdminClient<Quiet> =
            client_config(&shared.settings).create_with_context(Quiet)?;
        let config_consumer = reader(&shared.settings, "crdt-limiter-config")?;
        let (applied_tx, applied_rx) = tokio::sync::watch::channel(-1);
        let policy_topic = Arc::new(PolicyTopic::new(
            shared.settings.config_topic.clone(),
            config_producer(&shared.settings),
            applied_rx,
            Arc::clone(&shared.policy),
            Arc::clone(&shared.telemetry),
        )?);

        let threads = vec![
            spawn("limiter-supervisor", {
                let (shared, producer) = (Arc::clone(&shared), Arc::clone(&producer));
                move || supervise(&shared, &admin, &producer)
            }),
            spawn("limiter-consumer", {
                let shared = Arc::clone(&shared);
                move || consume(&shared, &consumer)
            }),
            spawn("limiter-flusher", {
                let (shared, producer) = (Arc::clone(&shared), Arc::clone(&producer));
                move || flush_periodically(&shared, &producer)
            }),
            // Its own thread and timer: a long sync interval or a slow flush
            // must not look like a partition.
            spawn("limiter-heartbeat", {
                let (shared, producer) = (Arc::clone(&shared), Arc::clone(&producer));
                move || publisher::beat_periodically(&shared, &producer)
            }),
            spawn("limiter-config", {
                let shared = Arc::clone(&shared);
                move || consume_config(&shared, &config_consumer, &applied_tx)
            }),
        ];
        Ok(Self {
            shared,
            producer,
            policy_topic,
            threads,
        })
    }

    /// Where the admin API commits live changes.
    pub fn policy_topic(&self) -> Arc<PolicyTopic> {
        Arc::clone(&self.policy_topic)
    }

    /// Publishes every pending change, waits (briefly) for the broker to take
    /// them, and stops the threads.
    pub fn shutdown(self) {
        self.shared.stop();
        for thread in self.threads {
            let _ = thread.join();
        }
        let pending = publish_changes(&self.shared, &self.producer);
        publisher::leave(&self.shared, &self.producer);
        if let Err(error) = self.producer.flush(FINAL_FLUSH) {
            tracing::warn!(%error, pending, "could not hand every change to kafka before exit");
        } else {
            tracing::info!(pending, "published pending changes");
        }
    }
}

/// The producer of bucket states: batched, and quick to report a failure so
/// the key is published again soon.
fn state_producer(shared: &Arc<Shared>) -> Result<ThreadedProducer<Delivery>, KafkaError> {
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
fn config_producer(settings: &ReplicationSettings) -> ClientConfig {
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

fn client_config(settings: &ReplicationSettings) -> ClientConfig {
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
fn reader(settings: &ReplicationSettings, group: &str) -> Result<BaseConsumer<Quiet>, KafkaError> {
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
fn assign_all_from_beginning(
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

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("the OS can start a thread")
}

/// Creates the topic once the broker answers, then probes it every half second.
fn supervise(shared: &Shared, admin: &AdminClient<Quiet>, producer: &ThreadedProducer<Delivery>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts");
    loop {
        // Until the broker answers with the topic, (re)create it: a broker that
        // lost its storage comes back without it.
        if !shared.connected.load(Ordering::Relaxed) {
            let settings = &shared.settings;
            runtime.block_on(create_topic(
                &settings.topic,
                settings.partitions,
                settings,
                admin,
            ));
            // One partition: every node applies every change in one order.
            runtime.block_on(create_topic(&settings.config_topic, 1, settings, admin));
        }
        let reachable = producer
            .client()
            .fetch_metadata(Some(&shared.settings.topic), Duration::from_millis(1000))
            .is_ok_and(|m| {
                m.topics()
                    .iter()
                    .any(|t| t.error().is_none() && !t.partitions().is_empty())
            });
        shared.set_connected(reachable);
        if !shared.pause(Duration::from_millis(500)) {
            return;
        }
    }
}

/// Creates compacted topic `name` unless it exists.
async fn create_topic(
    name: &str,
    partitions: i32,
    settings: &ReplicationSettings,
    admin: &AdminClient<Quiet>,
) {
    let topic = NewTopic::new(
        name,
        partitions,
        TopicReplication::Fixed(settings.replication_factor),
    )
    .set("cleanup.policy", "compact");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
    match admin.create_topics([&topic], &options).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok(_) => {
                        tracing::info!(topic = name, partitions, "created topic")
                    }
                    Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((_, code)) => {
                        tracing::warn!(topic = name, %code, "cannot create topic")
                    }
                }
            }
        }
        Err(error) => tracing::debug!(%error, "cannot reach kafka to create the topic"),
    }
}

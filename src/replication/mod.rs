//! Replication through Kafka: publishes this node's changed buckets to a
//! compacted topic and merges every peer's into the local store.
//!
//! Threads, none on the request path:
//! - the *flusher* publishes, every sync interval, the latest state of each key
//!   a decision changed (coalesced: traffic grows with active keys, not with
//!   requests); while the broker is away keys simply stay dirty;
//! - the *heartbeat* sends this node's heartbeat (see [`membership`]);
//! - the *consumer* assigns itself every partition (no consumer group: every
//!   node must see every key), reads from the beginning to the end of each
//!   partition before the node reports ready (bootstrap), then keeps merging,
//!   and tells from the heartbeats whether the node is cut off;
//! - the *config consumer* applies live rule changes from the config topic
//!   (see [`policy_topic`]);
//! - the *supervisor* probes the broker and the topics' identities, creates
//!   the topics when missing, and drives `limiter_kafka_connected` and the
//!   [`broker`] view the readers follow. A topic that comes back with another
//!   identity was lost (a Kafka rebuilt empty or restored): the node logs it,
//!   keeps deciding, reads the new topic from its beginning, and publishes
//!   again every bucket that carries news and every policy record the new
//!   topic lacks.
//!
//! The consumer also keeps the [`ClusterView`] of `GET /v1/cluster`.

mod broker;
mod clients;
mod cluster;
pub mod codec;
mod config_producer;
mod consumer;
mod failures;
mod link;
mod membership;
mod options;
pub mod peer_stats;
pub mod policy_topic;
mod publisher;
mod reader;
pub mod security;
mod supervisor;
pub mod topic_id;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer};

use crate::clock::Clock;
use crate::limiter::Store;
use crate::policy::Policy;
use crate::policy_log::Ledger;
use crate::telemetry::Telemetry;
use broker::Broker;
use clients::{client_config, config_producer, Quiet};
pub use cluster::{ClusterSnapshot, ClusterView, KafkaProblem, PeerSnapshot};
use consumer::{consume, Readers};
use failures::Failures;
pub use options::ReplicationSettings;
use policy_topic::consume_config;
pub use policy_topic::PolicyTopic;
use publisher::{flush_periodically, publish_changes, state_producer, Delivery};
use supervisor::supervise;

/// How long a delivery-report poll waits for a report before looping (it
/// returns at once when one comes; a long wait spares the idle spinning).
const DELIVERY_POLL: Duration = Duration::from_millis(500);

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
    /// Peers and the link to them, for `GET /v1/cluster`.
    cluster: Arc<ClusterView>,
    /// The broker and the topics' identities, as the supervisor last saw them.
    broker: Broker,
    /// Where every client reports errors the operator must fix.
    failures: Arc<Failures>,
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
        self.broker.wake();
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
        self.cluster.set_connected(connected);
    }
}

/// A running replication; [`Replication::shutdown`] flushes and stops it.
pub struct Replication {
    shared: Arc<Shared>,
    producer: Arc<BaseProducer<Delivery>>,
    policy_topic: Arc<PolicyTopic>,
    threads: Vec<JoinHandle<()>>,
}

impl Replication {
    /// Starts replicating `store`. Returns at once; the node reports ready on
    /// `ready` once the topic has been read (or the bootstrap timeout passed).
    pub fn start(
        settings: ReplicationSettings,
        store: Arc<Store>,
        ledger: Arc<Ledger>,
        clock: Arc<dyn Clock>,
        telemetry: Arc<Telemetry>,
        ready: Arc<AtomicBool>,
    ) -> Result<Self, KafkaError> {
        telemetry.kafka_connected(false);
        let cluster = Arc::new(ClusterView::new(
            settings.node_id.clone(),
            settings.merge,
            settings.peer_gone_after,
        ));
        // Until membership has heard the cluster, the quiet rule assumes
        // as many nodes as can be (see `Membership::nodes_for_quiet`).
        store.set_nodes(u32::MAX);
        let shared = Arc::new(Shared {
            settings,
            store,
            policy: Arc::clone(ledger.policy()),
            clock: Arc::clone(&clock),
            failures: Failures::new(Arc::clone(&telemetry), Arc::clone(&cluster)),
            telemetry,
            ready,
            state_ready: AtomicBool::new(false),
            config_ready: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            stopped: Default::default(),
            incarnation: clock.now().as_unix_nanos(),
            cluster,
            broker: Broker::default(),
        });
        let producer = Arc::new(state_producer(&shared)?);
        let admin: AdminClient<Quiet> = client_config(&shared.settings)
            .create_with_context(Quiet(Arc::clone(&shared.failures)))?;
        let (applied_tx, applied_rx) = tokio::sync::watch::channel(-1);
        let policy_topic = Arc::new(PolicyTopic::new(
            shared.settings.config_topic.clone(),
            config_producer(&shared.settings),
            Arc::clone(&shared.failures),
            applied_rx,
            ledger,
            Arc::clone(&shared.clock),
            Arc::clone(&shared.telemetry),
        )?);

        let threads = start_threads(&shared, &producer, admin, &policy_topic, applied_tx);
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

    /// What this node knows of its peers (read by `GET /v1/cluster`).
    pub fn cluster(&self) -> Arc<ClusterView> {
        Arc::clone(&self.shared.cluster)
    }

    /// Publishes every pending change, waits (briefly) for the broker to take
    /// them, and stops the threads.
    pub fn shutdown(self) {
        self.shared.stop();
        for thread in self.threads {
            let _ = thread.join();
        }
        // What this node kept quiet goes out too: a restart must not forget it.
        self.shared.store.publish_quiet_spending();
        let pending = publish_changes(&self.shared, &self.producer);
        publisher::leave(&self.shared, &self.producer);
        if let Err(error) = self.producer.flush(FINAL_FLUSH) {
            tracing::warn!(%error, pending, "could not hand every change to kafka before exit");
        } else {
            tracing::info!(pending, "published pending changes");
        }
    }
}

/// The replication threads, each owning what it uses.
fn start_threads(
    shared: &Arc<Shared>,
    producer: &Arc<BaseProducer<Delivery>>,
    admin: AdminClient<Quiet>,
    policy_topic: &Arc<PolicyTopic>,
    applied_tx: tokio::sync::watch::Sender<i64>,
) -> Vec<JoinHandle<()>> {
    let readers = Arc::new(Readers::new(shared));
    let reading = (0..readers.count()).map(|index| {
        let (shared, readers) = (Arc::clone(shared), Arc::clone(&readers));
        spawn(&format!("limiter-reader-{index}"), move || {
            consume(&shared, &readers, index)
        })
    });
    reading
        .chain([
            spawn("limiter-supervisor", {
                let (shared, topic) = (Arc::clone(shared), Arc::clone(policy_topic));
                move || supervise(&shared, &admin, &topic)
            }),
            spawn("limiter-flusher", {
                let (shared, producer) = (Arc::clone(shared), Arc::clone(producer));
                move || flush_periodically(&shared, &producer)
            }),
            // Its own thread and timer: a long sync interval or a slow flush
            // must not look like a partition.
            spawn("limiter-heartbeat", {
                let (shared, producer) = (Arc::clone(shared), Arc::clone(producer));
                move || publisher::beat_periodically(&shared, &producer)
            }),
            // Delivery reports, polled with a long timeout (a poll returns as
            // soon as one comes): see `config_producer` for why not rdkafka's threads.
            spawn("limiter-deliveries", {
                let (shared, producer) = (Arc::clone(shared), Arc::clone(producer));
                move || {
                    while !shared.stopping.load(Ordering::Relaxed) {
                        producer.poll(DELIVERY_POLL);
                    }
                }
            }),
            spawn("limiter-config-deliveries", {
                let (shared, topic) = (Arc::clone(shared), Arc::clone(policy_topic));
                move || {
                    while !shared.stopping.load(Ordering::Relaxed) {
                        topic.poll_deliveries(DELIVERY_POLL);
                    }
                }
            }),
            spawn("limiter-config", {
                let (shared, topic) = (Arc::clone(shared), Arc::clone(policy_topic));
                move || consume_config(&shared, &topic, &applied_tx)
            }),
        ])
        .collect()
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("the OS can start a thread")
}

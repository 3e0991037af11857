//! The supervisor thread: probes the broker and the topics' identities
//! every half second, creates a topic that is missing, tells the readers
//! (through the [`Broker`](super::broker::Broker) view) when the broker went
//! away or a topic was re-created, and handles a lost topic.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::error::RDKafkaErrorCode;

use super::broker::{Topics, Which};
use super::clients::Quiet;
use super::topic_id::{self, Described};
use super::{PolicyTopic, ReplicationSettings, Shared};

/// Probes the broker and the topics every half second: creates a topic that
/// is missing, tells the readers (through the broker view) when the broker went
/// away or a topic was re-created, and handles a lost topic.
pub(super) fn supervise(shared: &Shared, admin: &AdminClient<Quiet>, policy_topic: &PolicyTopic) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts");
    let settings = &shared.settings;
    let names = [settings.topic.as_str(), settings.config_topic.as_str()];
    let mut known = Topics::default();
    loop {
        match topic_id::describe(admin.inner(), &names, Duration::from_secs(2)) {
            Err(error) => {
                tracing::debug!(%error, "kafka did not answer the probe");
                shared.broker.down();
                shared.set_connected(false);
            }
            Ok(described) => {
                let missing: Vec<Which> = [Which::State, Which::Config]
                    .into_iter()
                    .zip(&described)
                    .filter(|(_, d)| **d == Described::Missing)
                    .map(|(which, _)| which)
                    .collect();
                if missing.is_empty() {
                    let ids = |d: &Described| match d {
                        Described::Exists(id) => *id,
                        Described::Missing => None,
                    };
                    let now = Topics {
                        state: ids(&described[0]),
                        config: ids(&described[1]),
                    };
                    notice_lost_topics(shared, policy_topic, &known, &now);
                    known = now;
                    shared.broker.up(now);
                    shared.set_connected(true);
                } else {
                    shared.broker.down();
                    shared.set_connected(false);
                    for which in missing {
                        create(shared, admin, &runtime, which, known.get(which).is_some());
                    }
                    // Its identity is read on the next round, soon.
                    if !shared.pause(Duration::from_millis(100)) {
                        return;
                    }
                    continue;
                }
            }
        }
        if !shared.pause(Duration::from_millis(500)) {
            return;
        }
    }
}

/// Creates a missing topic; `had_it`: this node had read it (it was lost).
fn create(
    shared: &Shared,
    admin: &AdminClient<Quiet>,
    runtime: &tokio::runtime::Runtime,
    which: Which,
    had_it: bool,
) {
    let settings = &shared.settings;
    let (name, partitions) = match which {
        Which::State => (&settings.topic, settings.partitions),
        // One partition: every node applies every change in one order.
        Which::Config => (&settings.config_topic, 1),
    };
    if had_it {
        tracing::error!(
            topic = %name,
            "kafka lost a topic this node had read (deleted, or a Kafka rebuilt empty): \
             creating it again; this node keeps deciding locally and will put back what it holds"
        );
    }
    runtime.block_on(create_topic(name, partitions, settings, admin));
}

/// A topic that is back under another identity was lost: log it, count it,
/// and have what this node holds published again (the readers start reading
/// the new topic from its beginning on their own, as the epoch moves on).
fn notice_lost_topics(shared: &Shared, policy_topic: &PolicyTopic, known: &Topics, now: &Topics) {
    for which in [Which::State, Which::Config] {
        let (before, after) = (known.get(which), now.get(which));
        let Some(before) = before.filter(|b| Some(*b) != after) else {
            continue;
        };
        let topic = match which {
            Which::State => &shared.settings.topic,
            Which::Config => &shared.settings.config_topic,
        };
        let after = after.map_or_else(|| "none".to_string(), |a| a.to_string());
        tracing::error!(
            %topic,
            was = %before,
            now = %after,
            "kafka lost the topic (it was re-created): reading the new one from its beginning \
             and putting back what this node holds"
        );
        shared.telemetry.kafka_topic_lost(which.label());
        match which {
            Which::State => {
                let buckets = shared.store.republish_all(shared.clock.now());
                tracing::info!(buckets, "publishing again every bucket that carries news");
            }
            // Its producer knew the old topic; the reader's new session
            // puts the records back once it has read the new one.
            Which::Config => {
                policy_topic.renew("the config topic was re-created");
            }
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
    let mut topic = NewTopic::new(
        name,
        partitions,
        TopicReplication::Fixed(settings.replication_factor),
    )
    .set("cleanup.policy", "compact");
    let min_insync = settings.min_insync_replicas.map(|n| n.to_string());
    if let Some(n) = &min_insync {
        topic = topic.set("min.insync.replicas", n);
    }
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

//! Reading a topic in sessions: a reader (a self-assigning consumer) lives
//! for one epoch of the [`Broker`](super::broker::Broker). When the broker drops
//! the connection, goes away, or the topic turns out to be a new one, the
//! reader is dropped and a new one starts once the broker answers again:
//! from where the last one stopped if the topic is the same, from the
//! beginning if it is a new one.
//!
//! A fresh reader each time is also what keeps librdkafka 2.12.1 alive: a
//! consumer that fetches a topic the broker does not know (a broker rebuilt
//! empty) may get an answer with a zero topic ID and a current-leader tag,
//! and its main thread then dereferences a NULL topic name
//! (`rd_kafka_metadata_update_op` → `rd_kafka_metadata_cache_find` →
//! `strcmp`): a SIGSEGV. A reader here never fetches from a broker it lost
//! the connection to, and a new one fetches only a topic the broker has.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::broker::Which;
use super::clients::client_config;
use super::failures::Failures;
use super::topic_id::{self, Described, TopicId};
use super::Shared;

/// What a reader does with what it reads.
pub(super) trait Records {
    /// A session starts: from the beginning of the topic if `fresh`, else
    /// from where the last one stopped.
    fn start(&mut self, shared: &Shared, fresh: bool);
    /// One record.
    fn record(&mut self, shared: &Shared, message: &BorrowedMessage<'_>);
    /// Every partition has been read to its end, once per session.
    fn caught_up(&mut self, shared: &Shared);
    /// Called often (after every poll, and while waiting for the broker).
    fn tick(&mut self, shared: &Shared);
}

/// A reader's context: librdkafka's lines go to a quiet log, and a lost
/// connection is flagged so the session ends before the client reconnects.
pub(super) struct Watch {
    lost: AtomicBool,
    failures: Arc<Failures>,
}

impl ClientContext for Watch {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.failures.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        use RDKafkaErrorCode::{AllBrokersDown, BrokerTransportFailure};
        if matches!(
            error.rdkafka_error_code(),
            Some(AllBrokersDown | BrokerTransportFailure)
        ) {
            self.lost.store(true, Ordering::Release);
        }
        self.failures.report(&error, reason);
    }
}

impl ConsumerContext for Watch {}

/// Where a session left off: the topic's identity and the next offset of
/// each partition it read from.
struct Left {
    id: TopicId,
    next: HashMap<i32, i64>,
}

/// Which of a topic's partitions a reader reads: those whose number is
/// `index` modulo `of`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Part {
    pub index: usize,
    pub of: usize,
}

impl Part {
    /// Every partition.
    pub(super) const ALL: Part = Part { index: 0, of: 1 };

    fn holds(&self, partition: i32) -> bool {
        partition as usize % self.of.max(1) == self.index
    }
}

/// Reads `part` of `which` topic in sessions until the node stops.
pub(super) fn read(
    shared: &Shared,
    which: Which,
    group: &str,
    part: Part,
    records: &mut impl Records,
) {
    let topic = match which {
        Which::State => &shared.settings.topic,
        Which::Config => &shared.settings.config_topic,
    };
    let mut left: Option<Left> = None;
    while !shared.stopping.load(Ordering::Relaxed) {
        let Some((epoch, _)) = shared.broker.wait_up(Duration::from_millis(100)) else {
            records.tick(shared);
            continue;
        };
        let Some(reader) = open(shared, group, topic) else {
            shared.pause(Duration::from_millis(500));
            continue;
        };
        // The identity of the topic this reader is about to read, asked by
        // the reader itself: the supervisor's view may be a moment old.
        let id = match topic_id::describe(reader.client(), &[topic], Duration::from_secs(2)) {
            Ok(described) if described.first() == Some(&Described::Missing) => None,
            Ok(described) => match described.first() {
                Some(Described::Exists(id)) => *id,
                _ => None,
            },
            Err(error) => {
                tracing::debug!(%error, topic, "cannot tell the topic's identity; retrying");
                shared.pause(Duration::from_millis(250));
                continue;
            }
        };
        // From where the last session left off only if the topic is the same.
        let resume = left
            .as_ref()
            .filter(|l| Some(l.id) == id)
            .map(|l| l.next.clone());
        // A session that never started (the partitions could not be listed
        // or assigned) leaves `left` as it was: the next one starts afresh.
        if let Some(next) = session(shared, &reader, (topic, part), epoch, resume, records) {
            left = id.map(|id| Left { id, next });
        }
    }
}

/// A new reader with every partition of `topic` assigned (nothing yet read).
fn open(shared: &Shared, group: &str, topic: &str) -> Option<BaseConsumer<Watch>> {
    let created = client_config(&shared.settings)
        .set("group.id", format!("{group}-{}", shared.settings.node_id))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        // After a refused reconnect, wait a while before the next: time
        // for the session to end (see the module's note).
        .set("reconnect.backoff.ms", "1000")
        .create_with_context(Watch {
            lost: AtomicBool::new(false),
            failures: Arc::clone(&shared.failures),
        });
    match created {
        Ok(reader) => Some(reader),
        Err(error) => {
            tracing::error!(%error, topic, "cannot create a kafka reader");
            None
        }
    }
}

/// One session: assigns every partition (from `resume`'s offsets, or the
/// beginning), reads until the epoch ends, the connection is lost or the
/// node stops; returns the next offset of each partition, or `None` if it
/// could not start.
fn session(
    shared: &Shared,
    reader: &BaseConsumer<Watch>,
    (topic, part): (&str, Part),
    epoch: u64,
    resume: Option<HashMap<i32, i64>>,
    records: &mut impl Records,
) -> Option<HashMap<i32, i64>> {
    let mut next = resume.clone().unwrap_or_default();
    let Some(partitions) = assign(reader, topic, part, resume.as_ref()) else {
        shared.pause(Duration::from_millis(250));
        return None;
    };
    records.start(shared, resume.is_none());
    if partitions == 0 {
        // More readers than partitions: this one has nothing to read.
        records.caught_up(shared);
    }
    tracing::debug!(
        topic,
        epoch,
        fresh = resume.is_none(),
        "reader session started"
    );
    let mut at_end = std::collections::HashSet::new();
    let mut caught_up = false;
    while !shared.stopping.load(Ordering::Relaxed)
        && shared.broker.epoch() == epoch
        && !reader.context().lost.load(Ordering::Acquire)
    {
        match reader.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                next.insert(message.partition(), message.offset() + 1);
                records.record(shared, &message);
            }
            Some(Err(KafkaError::PartitionEOF(partition))) if !caught_up => {
                at_end.insert(partition);
                if at_end.len() == partitions {
                    caught_up = true;
                    records.caught_up(shared);
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(error)) => tracing::debug!(%error, topic, "reader error; librdkafka retries"),
        }
        records.tick(shared);
    }
    tracing::debug!(topic, epoch, caught_up, "reader session ended");
    Some(next)
}

/// Assigns every partition of `topic`, as the broker lists them now;
/// `None` (logged) if it cannot.
fn assign(
    reader: &BaseConsumer<Watch>,
    topic: &str,
    part: Part,
    resume: Option<&HashMap<i32, i64>>,
) -> Option<usize> {
    let partitions = reader
        .fetch_metadata(Some(topic), Duration::from_secs(2))
        .ok()
        .and_then(|m| {
            m.topics()
                .first()
                .filter(|t| t.error().is_none())
                .map(|t| t.partitions().len())
        })
        .filter(|&n| n > 0)?;
    let mut assignment = TopicPartitionList::new();
    for partition in (0..partitions as i32).filter(|&p| part.holds(p)) {
        let offset = resume
            .and_then(|r| r.get(&partition))
            .map_or(Offset::Beginning, |&o| Offset::Offset(o));
        if let Err(error) = assignment.add_partition_offset(topic, partition, offset) {
            tracing::error!(%error, topic, "cannot build the partition assignment");
            return None;
        }
    }
    if let Err(error) = reader.assign(&assignment) {
        tracing::error!(%error, topic, "cannot assign partitions; nothing is received from this topic");
        return None;
    }
    Some(assignment.count())
}

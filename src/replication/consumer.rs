//! The state topic's readers: each reads its share of the partitions from
//! the beginning (bootstrap, then ready once every reader has), then merges
//! peers' states for ever, session after session (see
//! [`reader`](super::reader)); garbage is counted and skipped. Several
//! readers let merging use more than one core when the topic's traffic
//! needs it: buckets live in a sharded map, so readers rarely meet.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::message::{BorrowedMessage, Message};

use super::broker::Which;
use super::codec::{self, Envelope};
use super::membership::{Membership, HEARTBEAT_PREFIX};
use super::peer_stats::Kind;
use super::reader::{read, Part, Records};
use super::Shared;
use crate::limiter::{clamp_future, Replicated, Stamp};

/// Longest record key accepted: a rule name, a user ID and a route, with room to spare.
const MAX_KEY: usize = 1024;

/// What the state topic's readers share.
pub(super) struct Readers {
    started: Instant,
    /// How many readers there are, and how many have read their share to its end.
    count: usize,
    caught_up: AtomicUsize,
    /// Heartbeats reach whichever reader holds their partition.
    membership: Mutex<Membership>,
}

impl Readers {
    pub(super) fn new(shared: &Shared) -> Self {
        Self {
            started: Instant::now(),
            count: shared.settings.readers.max(1),
            caught_up: AtomicUsize::new(0),
            membership: Mutex::new(Membership::new(
                shared.incarnation,
                &shared.settings.node_id,
                shared.settings.partition_after,
            )),
        }
    }

    pub(super) fn count(&self) -> usize {
        self.count
    }

    fn bootstrapped(&self) -> bool {
        self.caught_up.load(Ordering::Acquire) >= self.count
    }
}

/// Reads reader `index`'s share of the state topic until the node stops.
pub(super) fn consume(shared: &Shared, readers: &Readers, index: usize) {
    let mut records = StateRecords {
        readers,
        bootstrapped: false,
    };
    let part = Part {
        index,
        of: readers.count,
    };
    read(shared, Which::State, "crdt-limiter", part, &mut records);
}

/// What one reader of the state topic keeps between records.
struct StateRecords<'a> {
    readers: &'a Readers,
    /// This reader's first session has read its share to its end.
    bootstrapped: bool,
}

impl Records for StateRecords<'_> {
    fn start(&mut self, shared: &Shared, fresh: bool) {
        if fresh && self.bootstrapped {
            tracing::info!(topic = %shared.settings.topic, "reading the state topic again from its beginning");
        }
    }

    fn record(&mut self, shared: &Shared, message: &BorrowedMessage<'_>) {
        receive(
            shared,
            &self.readers.membership,
            message.key(),
            message.payload(),
            self.bootstrapped,
        );
    }

    fn caught_up(&mut self, shared: &Shared) {
        if !std::mem::replace(&mut self.bootstrapped, true) {
            let done = self.readers.caught_up.fetch_add(1, Ordering::AcqRel) + 1;
            if done == self.readers.count {
                finish_bootstrap(shared, self.readers.started);
            }
        }
    }

    fn tick(&mut self, shared: &Shared) {
        if !self.readers.bootstrapped() {
            shared.give_up_waiting(self.readers.started);
        }
        // One reader at a time is enough; the others go on reading.
        if let Some(mut membership) = self.readers.membership.try_lock() {
            membership.tick(shared);
        }
    }
}

fn finish_bootstrap(shared: &Shared, started: Instant) {
    let took = started.elapsed();
    shared.telemetry.bootstrap_done(took);
    tracing::info!(?took, buckets = shared.store.len(), "read the state topic");
    shared.part_ready(&shared.state_ready);
}

/// Merges one record, or takes in a heartbeat. Tombstones carry nothing;
/// garbage and out-of-bounds records are counted and skipped.
fn receive(
    shared: &Shared,
    membership: &Mutex<Membership>,
    key: Option<&[u8]>,
    payload: Option<&[u8]>,
    bootstrapped: bool,
) {
    let Some(payload) = payload else { return };
    let Some(key) = key
        .and_then(|k| std::str::from_utf8(k).ok())
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY)
    else {
        shared.telemetry.sync_decode_error("bad_key");
        return;
    };
    if key.starts_with(HEARTBEAT_PREFIX) {
        match codec::decode_heartbeat(payload) {
            Ok(heartbeat) => {
                let now = shared.clock.now();
                let (id, sent_at) = (&heartbeat.node_id, heartbeat.sent_at);
                shared
                    .cluster
                    .heard(id, Kind::Heartbeat, sent_at, now, bootstrapped);
                membership.lock().heard(&heartbeat, now);
            }
            Err(error) => shared.telemetry.sync_decode_error(error.kind()),
        }
        return;
    }
    // A key none of this node's rules makes: no request here can meet it.
    let Some(limit) = shared.policy.limit_of_key(key) else {
        shared.telemetry.sync_decode_error("unknown_rule");
        return;
    };
    let envelope: Envelope = match codec::decode(payload) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::debug!(%error, key, "skipping a record");
            shared.telemetry.sync_decode_error(error.kind());
            return;
        }
    };
    // Our own records are old news once running (the local level can only be
    // lower), but a node restarted under the same ID must read them back.
    if bootstrapped && envelope.node_id == shared.settings.node_id {
        return;
    }
    let now = shared.clock.now();
    let sent_at = envelope.sent_at;
    shared
        .cluster
        .heard(&envelope.node_id, Kind::State, sent_at, now, bootstrapped);
    let Some(remote) = clamped(shared, envelope, now) else {
        return;
    };
    shared.store.merge_remote(key, &remote, &limit, now);
    let lag = Duration::from_nanos(now.saturating_since(sent_at));
    shared.telemetry.sync_received(lag);
}

/// The record's state with its stamps and generation starts no later than
/// `now` plus the tolerated skew (counted when any was later); `None`
/// (counted) for a reset beyond the skew, which is refused, not clamped: a
/// clamped reset differs on every arrival, so it would never equal itself.
fn clamped(shared: &Shared, envelope: Envelope, now: Stamp) -> Option<Replicated> {
    let skew = shared.settings.max_clock_skew;
    if envelope.reset > now.saturating_add(skew) {
        shared.telemetry.sync_decode_error("future_reset");
        return None;
    }
    let (state, mut clamped) = clamp_future(envelope.state, now, skew);
    let mut spent = envelope.spent;
    // A generation cannot have begun in the future either: a start far ahead
    // would make every later generation look like history once forgotten.
    let latest = now.saturating_add(skew);
    for entry in spent.iter_mut().flatten().filter(|e| e.since > latest) {
        entry.since = latest;
        clamped = true;
    }
    if clamped {
        shared.telemetry.sync_clamped();
    }
    Some(Replicated {
        limit: envelope.limit,
        state,
        spent,
        reset: envelope.reset,
    })
}

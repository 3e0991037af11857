//! The cluster as this node sees it, for `GET /v1/cluster`: the consumer
//! thread tells it of every peer record (state or heartbeat) off the request
//! path, and a reader takes a [`ClusterSnapshot`] under a briefly held lock.
//!
//! Bounded whatever peers send: at most [`MAX_PEERS`] peers (node IDs on the
//! wire are at most 256 bytes, checked by the codec), each in fixed-size
//! [`PeerStats`]. A peer silent for `gone_after` is `gone`; one silent ten
//! times as long is forgotten, and at the cap the longest-silent peer makes
//! room for a new one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use super::membership::MAX_PEERS;
use super::peer_stats::{Kind, Lag, PeerStats};
use crate::limiter::{MergeMode, Stamp};

/// A gone peer is still listed until it has been silent this many times `gone_after`.
pub const FORGET_AFTER_GONE: u32 = 10;

/// What this node knows of its peers and its link to the cluster.
pub struct ClusterView {
    node_id: String,
    merge: MergeMode,
    gone_after: Duration,
    connected: AtomicBool,
    /// The latest refusal only the operator can fix, since the broker last
    /// answered: shown until it answers again.
    problem: Mutex<Option<KafkaProblem>>,
    partitioned: AtomicBool,
    peers: Mutex<HashMap<String, PeerStats>>,
}

/// Why the broker refuses this node, and what to fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KafkaProblem {
    /// The `cause` label of `limiter_kafka_errors_total`.
    pub cause: &'static str,
    /// What the operator should check.
    pub fix: &'static str,
}

/// The view at one instant.
#[derive(Clone, Debug)]
pub struct ClusterSnapshot {
    /// This node's ID.
    pub node_id: String,
    /// How peers' states merge here.
    pub merge: MergeMode,
    /// Silence after which a peer is gone (`--peer-gone-after-ms`).
    pub gone_after: Duration,
    /// Whether the broker answers.
    pub kafka_connected: bool,
    /// Why the broker refuses this node, if it does (cleared once it answers).
    pub kafka_problem: Option<KafkaProblem>,
    /// Whether this node has stopped hearing its own heartbeat.
    pub partitioned: bool,
    /// Peers heard within the last `FORGET_AFTER_GONE` × `gone_after`, by ID.
    pub peers: Vec<PeerSnapshot>,
}

impl ClusterSnapshot {
    /// Nodes up: this one and the peers not gone.
    pub fn nodes_up(&self) -> usize {
        1 + self.peers.iter().filter(|p| p.up).count()
    }
}

/// One peer at one instant.
#[derive(Clone, Debug)]
pub struct PeerSnapshot {
    /// Its node ID, as it sent it (untrusted bytes: escape before showing).
    pub id: String,
    /// Latest `sent_at` of its records, no later than when read (unix ms).
    pub last_heard_unix_ms: u64,
    /// State records per second over the last ten whole seconds.
    pub records_per_sec: f64,
    /// Heartbeats per second over the same window.
    pub heartbeats_per_sec: f64,
    /// Now − `sent_at` over its last 256 records; `None` before any.
    pub lag_ms: Option<Lag>,
    /// Heard within `gone_after`.
    pub up: bool,
}

impl ClusterView {
    /// An empty view of node `node_id`'s cluster.
    pub fn new(node_id: String, merge: MergeMode, gone_after: Duration) -> Self {
        Self {
            node_id,
            merge,
            gone_after,
            connected: AtomicBool::new(false),
            problem: Mutex::new(None),
            partitioned: AtomicBool::new(false),
            peers: Mutex::new(HashMap::new()),
        }
    }

    fn forget_after_ms(&self) -> u64 {
        millis(self.gone_after).saturating_mul(u64::from(FORGET_AFTER_GONE))
    }

    /// A record of `kind` from `node_id`, sent at `sent_at` and read at `now`;
    /// `sample`: counted towards rate and lag (false while bootstrapping).
    pub fn heard(&self, node_id: &str, kind: Kind, sent_at: Stamp, now: Stamp, sample: bool) {
        if node_id == self.node_id {
            return;
        }
        let (sent_ms, now_ms) = (unix_ms(sent_at), unix_ms(now));
        let forget = self.forget_after_ms();
        let mut peers = self.peers.lock();
        if let Some(peer) = peers.get_mut(node_id) {
            peer.heard(kind, sent_ms, now_ms, sample);
            return;
        }
        // Old news of an unknown peer (read at bootstrap): nothing to list.
        if now_ms.saturating_sub(sent_ms) > forget {
            return;
        }
        if peers.len() >= MAX_PEERS {
            peers.retain(|_, p| now_ms.saturating_sub(p.last_heard_ms()) <= forget);
        }
        if peers.len() >= MAX_PEERS {
            let quietest = peers
                .iter()
                .min_by_key(|(_, p)| p.last_heard_ms())
                .map(|(id, _)| id.clone());
            if let Some(quietest) = quietest {
                peers.remove(&quietest);
            }
        }
        let mut peer = PeerStats::new(now_ms);
        peer.heard(kind, sent_ms, now_ms, sample);
        peers.insert(node_id.to_owned(), peer);
    }

    /// Whether the broker answers.
    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
        if connected {
            *self.problem.lock() = None;
        }
    }

    /// The broker refused this node, for `problem`.
    pub(super) fn refused(&self, problem: KafkaProblem) {
        *self.problem.lock() = Some(problem);
    }

    /// Whether this node counts itself cut off.
    pub fn set_partitioned(&self, partitioned: bool) {
        self.partitioned.store(partitioned, Ordering::Relaxed);
    }

    /// The view at `now`, peers sorted by ID. Forgets peers silent too long;
    /// the lock is held only to copy the peers' fixed-size stats.
    pub fn snapshot(&self, now: Stamp) -> ClusterSnapshot {
        let now_ms = unix_ms(now);
        let forget = self.forget_after_ms();
        let copied: Vec<(String, PeerStats)> = {
            let mut peers = self.peers.lock();
            peers.retain(|_, p| now_ms.saturating_sub(p.last_heard_ms()) <= forget);
            peers
                .iter()
                .map(|(id, p)| (id.clone(), p.clone()))
                .collect()
        };
        let gone_after = millis(self.gone_after);
        let mut peers: Vec<PeerSnapshot> = copied
            .into_iter()
            .map(|(id, p)| PeerSnapshot {
                id,
                last_heard_unix_ms: p.last_heard_ms(),
                records_per_sec: p.per_sec(Kind::State, now_ms),
                heartbeats_per_sec: p.per_sec(Kind::Heartbeat, now_ms),
                lag_ms: p.lag(),
                up: now_ms.saturating_sub(p.last_heard_ms()) <= gone_after,
            })
            .collect();
        peers.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        ClusterSnapshot {
            node_id: self.node_id.clone(),
            merge: self.merge,
            gone_after: self.gone_after,
            kafka_connected: self.connected.load(Ordering::Relaxed),
            kafka_problem: *self.problem.lock(),
            partitioned: self.partitioned.load(Ordering::Relaxed),
            peers,
        }
    }
}

fn unix_ms(stamp: Stamp) -> u64 {
    stamp.as_unix_nanos() / 1_000_000
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;

//! Who is out there, and whether this node can still hear them: every node
//! publishes a heartbeat on the state topic; a node that stops seeing its own
//! come back through Kafka is cut off (with hysteresis: see [`super::link`]),
//! and until it hears steadily again it limits each key to its share of the
//! limit (1/N of the nodes it last heard from), so a partition does not
//! multiply what the cluster admits.
//!
//! [`Membership`] itself is pure — heartbeats and instants in, what to do
//! out — and [`Membership::heard`] and [`Membership::tick`] apply it to the node.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::codec::Heartbeat;
use super::link::{Change, Link};
use super::Shared;
use crate::limiter::Stamp;

/// Record keys of heartbeats start with this: no bucket key can (they are
/// visible ASCII), so heartbeats and buckets never collide.
pub(super) const HEARTBEAT_PREFIX: &str = "\u{1}heartbeat ";

/// Peers remembered at most: hostile heartbeats under random IDs can make a
/// cut-off node stricter, never make it hold more.
pub(super) const MAX_PEERS: usize = 256;

/// The record key of `node_id`'s heartbeat.
pub(super) fn heartbeat_key(node_id: &str) -> String {
    format!("{HEARTBEAT_PREFIX}{node_id}")
}

/// How often heartbeats go out: four per partition period, so one lost or
/// late heartbeat does not make a node think it is cut off.
pub(super) fn heartbeat_every(partition_after: Duration) -> Duration {
    (partition_after / 4).max(Duration::from_millis(10))
}

/// What the consumer thread knows of the cluster.
pub(super) struct Membership {
    /// This process's incarnation: own heartbeats of another are a previous life's.
    incarnation: u64,
    node_id: String,
    /// `--partition-after-ms`; zero turns cut-offs off.
    after: Duration,
    link: Link,
    /// When this node's own heartbeat last came back.
    last_echo: Option<Instant>,
    /// When each peer was last heard from (the sender's send time, on our clock).
    peers: HashMap<String, Instant>,
    /// When this node started listening: until a whole peer window has
    /// passed, it cannot know how many nodes there are.
    born: Instant,
    /// When to give back partition charges nobody's spending used up.
    release_at: Option<Instant>,
    last_look: Option<Instant>,
}

/// What one look at the membership asks of the node.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Look {
    /// Cut off now, with the share divisor (itself and the peers it last
    /// heard), or heard steadily again.
    pub(super) change: Option<(Change, u32)>,
    /// Give back the partition charges that peers' spending did not use.
    pub(super) release: bool,
    pub(super) cut_off: bool,
    /// Peers heard lately, this node excluded.
    pub(super) peers: u32,
}

impl Membership {
    pub(super) fn new(incarnation: u64, node_id: &str, after: Duration) -> Self {
        Self {
            incarnation,
            node_id: node_id.to_owned(),
            after,
            link: Link::new(after),
            last_echo: None,
            peers: HashMap::new(),
            release_at: None,
            last_look: None,
            born: Instant::now(),
        }
    }

    /// Takes in a heartbeat read from the topic at wall time `now`, monotonic time `at`.
    pub(super) fn hear(&mut self, heartbeat: &Heartbeat, now: Stamp, at: Instant) {
        let age = Duration::from_nanos(now.saturating_since(heartbeat.sent_at));
        if heartbeat.node_id == self.node_id {
            // Sent and read on this node's clock: its age is the link's delay.
            if heartbeat.incarnation == self.incarnation {
                self.link.echo(age, at);
                self.last_echo = Some(at);
            }
            return;
        }
        // Old heartbeats (read at bootstrap, of nodes long gone) say nothing.
        let Some(heard) = at.checked_sub(age) else {
            return;
        };
        if age > self.peer_window() {
            return;
        }
        if self.peers.len() >= MAX_PEERS && !self.peers.contains_key(&heartbeat.node_id) {
            let oldest = self
                .peers
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.peers.remove(&oldest);
            }
        }
        let last = self.peers.entry(heartbeat.node_id.clone()).or_insert(heard);
        *last = (*last).max(heard);
    }

    /// Re-evaluates the link at `at`: at most eight times a period (`None`
    /// in between), and never with cut-offs turned off.
    pub(super) fn look(&mut self, at: Instant) -> Option<Look> {
        if self.after.is_zero()
            || self
                .last_look
                .is_some_and(|last| at.saturating_duration_since(last) < self.after / 8)
        {
            return None;
        }
        self.last_look = Some(at);
        // Peers silent for a whole window before our last echo are gone (and
        // hostile IDs age out); while cut off, the last echo stands still, so
        // the peers we last heard keep counting.
        let window = self.peer_window();
        if let Some(horizon) = self.last_echo.and_then(|t| t.checked_sub(window)) {
            self.peers.retain(|_, heard| *heard >= horizon);
        }
        let change = self.link.tick(at).map(|change| match change {
            Change::CutOff => {
                self.release_at = None;
                (change, 1 + self.peers_heard_before(self.last_echo))
            }
            Change::Healed => {
                // Peers' spending from the partition arrives now; what it
                // does not use of the charges is given back a period later.
                self.release_at = Some(at + self.after);
                (change, 1)
            }
        });
        let release = self.release_at.is_some_and(|t| at >= t);
        if release {
            self.release_at = None;
        }
        Some(Look {
            change,
            release,
            cut_off: self.link.is_cut_off(),
            peers: self.peers_heard_before(Some(at)),
        })
    }

    /// Takes in a heartbeat the consumer just read at wall time `now`.
    pub(super) fn heard(&mut self, heartbeat: &Heartbeat, now: Stamp) {
        self.hear(heartbeat, now, Instant::now());
    }

    /// Re-evaluates the link and applies what changed to the node; the
    /// consumer calls it after every poll.
    pub(super) fn tick(&mut self, shared: &Shared) {
        let Some(look) = self.look(Instant::now()) else {
            return;
        };
        match look.change {
            Some((Change::CutOff, nodes)) => {
                shared.store.set_share(nodes);
                shared.telemetry.partition_changed(true);
                tracing::warn!(
                    nodes,
                    silent_for = ?self.link.silence(),
                    patience = ?self.link.patience(),
                    "cut off from the cluster: limiting each key to 1/{nodes} of its limit until it hears again"
                );
            }
            Some((Change::Healed, _)) => {
                shared.store.set_share(1);
                shared.telemetry.partition_changed(false);
                tracing::info!("hearing the cluster again: full limits");
            }
            None => {}
        }
        shared.cluster.set_partitioned(look.cut_off);
        shared.store.set_nodes(self.nodes_for_quiet(1 + look.peers));
        if look.release {
            let keys = shared.store.release_reserves();
            tracing::debug!(keys, "gave back unused partition charges");
        }
        shared
            .telemetry
            .membership(look.cut_off, 1 + look.peers, shared.store.share());
    }

    /// Peers heard within the peer window before `until`.
    fn peers_heard_before(&self, until: Option<Instant>) -> u32 {
        let Some(until) = until else { return 0 };
        let since = until.checked_sub(self.peer_window());
        let n = self
            .peers
            .values()
            .filter(|&&t| since.is_none_or(|since| t >= since))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The node count the quiet rule shares each key's headroom by: the
    /// nodes heard, once a whole peer window has passed since start; before
    /// that as many as can be (every node keeps one token quiet at most),
    /// since a node just started has not heard the others yet.
    fn nodes_for_quiet(&self, heard: u32) -> u32 {
        match self.born.elapsed() >= self.peer_window() {
            true => heard,
            false => u32::MAX,
        }
    }

    /// How recently a peer must have been heard to count as a member.
    fn peer_window(&self) -> Duration {
        (4 * self.after).max(Duration::from_secs(2))
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;

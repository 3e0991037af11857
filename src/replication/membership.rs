//! Who is out there, and whether this node can still hear them: every node
//! publishes a heartbeat on the state topic; a node that stops seeing its own
//! come back through Kafka is cut off, and until it hears again it limits each
//! key to its share of the limit (1/N of the nodes it last heard from), so a
//! partition does not multiply what the cluster admits.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::codec::Heartbeat;
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
    /// When this node's own heartbeat last came back.
    last_echo: Option<Instant>,
    /// When each peer was last heard from (the sender's send time, on our clock).
    peers: HashMap<String, Instant>,
    cut_off: bool,
    /// When to give back partition charges nobody's spending used up.
    release_at: Option<Instant>,
    last_tick: Instant,
}

impl Membership {
    pub(super) fn new(incarnation: u64) -> Self {
        Self {
            incarnation,
            last_echo: None,
            peers: HashMap::new(),
            cut_off: false,
            release_at: None,
            last_tick: Instant::now(),
        }
    }

    /// Takes in a heartbeat read from the topic at wall time `now`.
    pub(super) fn heard(&mut self, shared: &Shared, heartbeat: &Heartbeat, now: Stamp) {
        let age = Duration::from_nanos(now.saturating_since(heartbeat.sent_at));
        if heartbeat.node_id == shared.settings.node_id {
            if heartbeat.incarnation == self.incarnation {
                self.last_echo = Some(Instant::now());
            }
            return;
        }
        // Old heartbeats (read at bootstrap, of nodes long gone) say nothing.
        let Some(heard) = Instant::now().checked_sub(age) else {
            return;
        };
        if age > peer_window(shared) {
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

    /// Re-evaluates whether this node is cut off; the consumer calls it after
    /// every poll, and it does its work eight times a period.
    pub(super) fn tick(&mut self, shared: &Shared) {
        let after = shared.settings.partition_after;
        if after.is_zero() || self.last_tick.elapsed() < after / 8 {
            return;
        }
        self.last_tick = Instant::now();
        // Peers silent for a whole window before our last echo are gone (and
        // hostile IDs age out); while cut off, the last echo stands still, so
        // the peers we last heard keep counting.
        let window = peer_window(shared);
        if let Some(horizon) = self.last_echo.and_then(|t| t.checked_sub(window)) {
            self.peers.retain(|_, heard| *heard >= horizon);
        }
        let cut_off = self.last_echo.is_some_and(|t| t.elapsed() > after);
        if cut_off && !self.cut_off {
            let nodes = 1 + self.peers_heard_before(self.last_echo, peer_window(shared));
            shared.store.set_share(nodes);
            self.release_at = None;
            tracing::warn!(
                nodes,
                silent_for = ?after,
                "cut off from the cluster: limiting each key to 1/{nodes} of its limit until it hears again"
            );
        } else if !cut_off && self.cut_off {
            shared.store.set_share(1);
            // Peers' spending from the partition arrives now; what it does not
            // use of the charges is given back a period later.
            self.release_at = Some(Instant::now() + after);
            tracing::info!("hearing the cluster again: full limits");
        }
        self.cut_off = cut_off;
        shared.cluster.set_partitioned(cut_off);
        if self.release_at.is_some_and(|t| Instant::now() >= t) {
            self.release_at = None;
            let keys = shared.store.release_reserves();
            tracing::debug!(keys, "gave back unused partition charges");
        }
        let live = self.peers_heard_before(Some(Instant::now()), peer_window(shared));
        shared
            .telemetry
            .membership(cut_off, 1 + live, shared.store.share());
    }

    /// Peers heard within `window` before `until`.
    fn peers_heard_before(&self, until: Option<Instant>, window: Duration) -> u32 {
        let Some(until) = until else { return 0 };
        let since = until.checked_sub(window);
        let n = self
            .peers
            .values()
            .filter(|&&t| since.is_none_or(|since| t >= since))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// How recently a peer must have been heard to count as a member.
fn peer_window(shared: &Shared) -> Duration {
    (4 * shared.settings.partition_after).max(Duration::from_secs(2))
}

//! `GET /v1/cluster`: this node and every peer it heard from recently, as
//! JSON, for an operator on a bad day. Read-only and unauthenticated, like
//! `/metrics`; it reads a snapshot the replication consumer keeps off the
//! request path. Peer IDs come from the wire: serde escapes them.

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::AppState;
use crate::limiter::MergeMode;
use crate::replication::{ClusterSnapshot, PeerSnapshot};

/// The answer.
#[derive(Debug, Serialize)]
struct Cluster {
    node: Node,
    peers: Vec<Peer>,
}

/// This node.
#[derive(Debug, Serialize)]
struct Node {
    /// `null` when standalone.
    id: Option<String>,
    /// `cluster` (with Kafka) or `standalone`.
    mode: &'static str,
    version: &'static str,
    /// `min-max` or `counted`; `null` when standalone.
    merge: Option<&'static str>,
    kafka_connected: bool,
    /// Ready: the topics were read (or the bootstrap timeout passed).
    bootstrap_done: bool,
    buckets: usize,
    sync_pending: usize,
    partitioned: bool,
    /// This node and the peers `up`.
    nodes_up: usize,
    /// While cut off, each key gets 1/`limit_share` of its limit (1 otherwise).
    limit_share: u32,
    /// `--peer-gone-after-ms`; `null` when standalone.
    peer_gone_after_ms: Option<u64>,
}

/// A peer.
#[derive(Debug, Serialize)]
struct Peer {
    id: String,
    /// `up`, or `gone` when silent longer than `--peer-gone-after-ms`.
    state: &'static str,
    last_heard_unix_ms: u64,
    records_per_sec: f64,
    heartbeats_per_sec: f64,
    /// Over its last 256 records; `null` before any was read after bootstrap.
    lag_ms: Option<Lag>,
}

#[derive(Debug, Serialize)]
struct Lag {
    p50: u64,
    p99: u64,
}

impl From<PeerSnapshot> for Peer {
    fn from(p: PeerSnapshot) -> Self {
        Self {
            id: p.id,
            state: if p.up { "up" } else { "gone" },
            last_heard_unix_ms: p.last_heard_unix_ms,
            records_per_sec: p.records_per_sec,
            heartbeats_per_sec: p.heartbeats_per_sec,
            lag_ms: p.lag_ms.map(|l| Lag {
                p50: l.p50,
                p99: l.p99,
            }),
        }
    }
}

fn merge_name(merge: MergeMode) -> &'static str {
    match merge {
        MergeMode::MinMax => "min-max",
        MergeMode::Counted => "counted",
    }
}

/// The handler.
pub fn cluster(state: web::Data<AppState>) -> std::future::Ready<HttpResponse> {
    let snapshot = state
        .cluster
        .as_ref()
        .map(|c| c.snapshot(state.clock.now()));
    std::future::ready(HttpResponse::Ok().json(view(&state, snapshot)))
}

fn view(state: &AppState, snapshot: Option<ClusterSnapshot>) -> Cluster {
    let mut node = Node {
        id: None,
        mode: "standalone",
        version: env!("CARGO_PKG_VERSION"),
        merge: None,
        kafka_connected: false,
        bootstrap_done: state.ready.load(Ordering::Acquire),
        buckets: state.store.len(),
        sync_pending: state.store.pending_changes(),
        partitioned: false,
        nodes_up: 1,
        limit_share: state.store.share(),
        peer_gone_after_ms: None,
    };
    let Some(snapshot) = snapshot else {
        return Cluster {
            node,
            peers: Vec::new(),
        };
    };
    node.mode = "cluster";
    node.merge = Some(merge_name(snapshot.merge));
    node.kafka_connected = snapshot.kafka_connected;
    node.partitioned = snapshot.partitioned;
    node.nodes_up = snapshot.nodes_up();
    node.peer_gone_after_ms = u64::try_from(snapshot.gone_after.as_millis()).ok();
    node.id = Some(snapshot.node_id);
    Cluster {
        node,
        peers: snapshot.peers.into_iter().map(Peer::from).collect(),
    }
}

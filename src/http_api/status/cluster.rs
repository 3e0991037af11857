//! `GET /v1/cluster`: this node and every peer it heard from recently, as
//! JSON, for an operator on a bad day. Read-only and unauthenticated, like
//! `/metrics`; it reads a snapshot the replication consumer keeps off the
//! request path. Peer IDs come from the wire: serde escapes them. The
//! status page shows the same view (`html.rs`).

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::http_api::AppState;
use crate::limiter::MergeMode;
use crate::replication::{ClusterSnapshot, KafkaProblem, PeerSnapshot};

/// The answer.
#[derive(Debug, Serialize)]
pub(super) struct Cluster {
    pub node: Node,
    pub peers: Vec<Peer>,
}

/// This node.
#[derive(Debug, Serialize)]
pub(super) struct Node {
    /// `null` when standalone and not given one (`--node-id`).
    pub id: Option<String>,
    /// `cluster` (with Kafka) or `standalone`.
    pub mode: &'static str,
    pub version: &'static str,
    /// `min-max` or `counted`; `null` when standalone.
    pub merge: Option<&'static str>,
    pub kafka_connected: bool,
    /// Why the broker refuses this node (a certificate, a login), since it
    /// last answered; `null` when none, and once it answers again.
    pub kafka_problem: Option<Problem>,
    /// Ready: the topics were read (or the bootstrap timeout passed).
    pub bootstrap_done: bool,
    pub buckets: usize,
    pub sync_pending: usize,
    pub partitioned: bool,
    /// This node and the peers `up`.
    pub nodes_up: usize,
    /// While cut off, each key gets 1/`limit_share` of its limit (1 otherwise).
    pub limit_share: u32,
    /// `--peer-gone-after-ms`; `null` when standalone.
    pub peer_gone_after_ms: Option<u64>,
}

/// A peer.
#[derive(Debug, Serialize)]
pub(super) struct Peer {
    pub id: String,
    /// `up`, or `gone` when silent longer than `--peer-gone-after-ms`.
    pub state: &'static str,
    pub last_heard_unix_ms: u64,
    pub records_per_sec: f64,
    pub heartbeats_per_sec: f64,
    /// Over its last 256 records; `null` before any was read after bootstrap.
    pub lag_ms: Option<Lag>,
}

/// A refusal only the operator can fix.
#[derive(Debug, Serialize)]
pub(super) struct Problem {
    /// The `cause` label of `limiter_kafka_errors_total`.
    pub cause: &'static str,
    /// What to check.
    pub fix: &'static str,
}

impl From<KafkaProblem> for Problem {
    fn from(p: KafkaProblem) -> Self {
        Self {
            cause: p.cause,
            fix: p.fix,
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Lag {
    pub p50: u64,
    pub p99: u64,
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
    std::future::ready(HttpResponse::Ok().json(current(&state)))
}

/// The view now.
pub(super) fn current(state: &AppState) -> Cluster {
    let snapshot = state
        .cluster
        .as_ref()
        .map(|c| c.snapshot(state.clock.now()));
    view(state, snapshot)
}

fn view(state: &AppState, snapshot: Option<ClusterSnapshot>) -> Cluster {
    let mut node = Node {
        id: state.node_id.clone(),
        mode: "standalone",
        version: env!("CARGO_PKG_VERSION"),
        merge: None,
        kafka_connected: false,
        kafka_problem: None,
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
    node.kafka_problem = snapshot.kafka_problem.map(Problem::from);
    node.partitioned = snapshot.partitioned;
    node.nodes_up = snapshot.nodes_up();
    node.peer_gone_after_ms = u64::try_from(snapshot.gone_after.as_millis()).ok();
    node.id = Some(snapshot.node_id);
    Cluster {
        node,
        peers: snapshot.peers.into_iter().map(Peer::from).collect(),
    }
}

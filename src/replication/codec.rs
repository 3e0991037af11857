//! The record value on the topic: a versioned envelope `{version, node_id,
//! sent_at, state}`, and the heartbeat each node publishes. Pure: bytes in,
//! envelope out, never a panic, and nothing out of bounds let through.
//!
//! Layout: one version byte, then the envelope in `postcard` (a compact,
//! maintained serde format). The version byte sits outside the postcard body
//! so a node can tell an unknown version from garbage without parsing it.
//! Version 1 is a min-max state; version 2 added the counted mode's per-node
//! spent counter (read still, from older nodes); version 3 carries the
//! counted mode's bounded per-generation counter; version 4 is either of
//! those with the bucket's live reset (an operator's reset to full). A node
//! writes version 4 only while a reset is live, and otherwise what it wrote
//! before (version 1 for min-max), so nodes can be upgraded one at a time:
//! an older node skips (and counts) only the records of recent resets.
//! Version 5 is version 4 with a window limit's algorithm, written for
//! window keys only (older nodes skip just those).
//!
//! Every field is checked before it is believed: the limit must be one a node
//! could run, the level within one full bucket of debt and no more than full,
//! the counter a bounded set of distinct entries of bounded counts. A record
//! that fails is refused with a [`DecodeError`] whose `kind` is counted.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use window::WireAlgorithm;

use crate::limiter::spent::{Entry, MAX_COUNT, PUBLISHED_ENTRIES};
use crate::limiter::{Algorithm, BucketState, Limit, Stamp};

/// The envelope version of a min-max state.
pub const VERSION: u8 = 1;

/// The counted state of older nodes: a counter of node → count, no generations.
pub const VERSION_COUNTED_V2: u8 = 2;

/// The envelope version of a counted state (with its bounded counter).
pub const VERSION_COUNTED: u8 = 3;

/// Either state with the instant of the reset it follows.
pub const VERSION_RESET: u8 = 4;

/// Version 4 with a window limit's algorithm.
pub const VERSION_WINDOW: u8 = 5;

/// A heartbeat: "this node is alive and reads the topic".
pub const VERSION_HEARTBEAT: u8 = 16;

/// Largest record value accepted: a real one is under 100 bytes plus about
/// 25 per counter entry, so this bounds what a hostile record can make us hold.
const MAX_RECORD: usize = 4096;

/// Most counter entries accepted in one record: what nodes from before
/// quiet replication sent (all they kept, 32), with room to spare; a node
/// now sends [`PUBLISHED_ENTRIES`].
const MAX_WIRE_ENTRIES: usize = 64;
const _: () = assert!(PUBLISHED_ENTRIES <= MAX_WIRE_ENTRIES);

/// Longest node ID accepted on the wire, so a hostile record cannot make us allocate much.
const MAX_NODE_ID: usize = 256;

/// One node's view of one bucket, as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// The publishing node.
    pub node_id: String,
    /// When it was published (the publisher's clock).
    pub sent_at: Stamp,
    /// The bucket's limit at the publisher: a receiver with other settings rescales.
    pub limit: Limit,
    /// The bucket's state, its level within the limit's bounds.
    pub state: BucketState,
    /// Counted mode: tokens spent per node generation; `None` in version 1.
    pub spent: Option<Vec<Entry>>,
    /// The live reset the state follows; zero before version 4 or without one.
    pub reset: Stamp,
}

/// A node's periodic sign of life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The node.
    pub node_id: String,
    /// Which start of that node: its own heartbeats from an earlier life are not an echo.
    pub incarnation: u64,
    /// When it was sent (the sender's clock).
    pub sent_at: Stamp,
}

/// The wire form of [`Envelope`], version 1. Separate from the domain types so
/// they can change without changing what is on the topic.
#[derive(Debug, Serialize, Deserialize)]
struct WireV1 {
    node_id: String,
    sent_at_ns: u64,
    capacity: u32,
    interval_ns: u64,
    level: i64,
    stamp_ns: u64,
}

/// Version 2 (older nodes): version 1 and a `crdts` `GCounter` of node → count,
/// whose postcard form is a sequence of pairs.
#[derive(Debug, Serialize, Deserialize)]
struct WireV2 {
    base: WireV1,
    spent: Vec<(u64, u64)>,
}

/// Version 3: version 1 and the per-generation counter.
#[derive(Debug, Serialize, Deserialize)]
struct WireV3 {
    base: WireV1,
    spent: Vec<WireEntry>,
}

/// Version 4: version 1, the reset, and the counter if counted.
#[derive(Debug, Serialize, Deserialize)]
struct WireV4 {
    base: WireV1,
    reset_ns: u64,
    spent: Option<Vec<WireEntry>>,
}

/// Version 5: version 4 and the window algorithm.
#[derive(Debug, Serialize, Deserialize)]
struct WireV5 {
    base: WireV1,
    algorithm: WireAlgorithm,
    /// A sliding window's previous count (0 for the others).
    previous: i64,
    reset_ns: u64,
    spent: Option<Vec<WireEntry>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireEntry {
    node: u64,
    count: u64,
    since_ns: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireHeartbeat {
    node_id: String,
    incarnation: u64,
    sent_at_ns: u64,
}

/// Why a record was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An empty value that is not a tombstone (should not happen; counted anyway).
    #[error("empty record")]
    Empty,
    /// A version this node does not know.
    #[error("unknown envelope version {0}")]
    UnknownVersion(u8),
    /// Bytes that do not decode.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// A limit no node could run.
    #[error("impossible limit: {0}")]
    Limit(String),
    /// A level beyond full or deeper than one full bucket of debt.
    #[error("level {level} outside [{floor}, {full}]")]
    Level { level: i64, floor: i64, full: i64 },
    /// Too many counter entries, a repeated entry, or a count beyond reason.
    #[error("counter refused: {0}")]
    Counter(String),
}

impl DecodeError {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::UnknownVersion(_) => "unknown_version",
            DecodeError::Malformed(_) => "malformed",
            DecodeError::Limit(_) => "bad_limit",
            DecodeError::Level { .. } => "bad_level",
            DecodeError::Counter(_) => "bad_counter",
        }
    }
}

/// Encodes an envelope: version 5 for a window limit, else version 4 if it
/// follows a reset, else version 3 if it carries a counter, else version 1.
pub fn encode(envelope: &Envelope) -> Vec<u8> {
    let base = WireV1 {
        node_id: envelope.node_id.clone(),
        sent_at_ns: envelope.sent_at.as_unix_nanos(),
        capacity: envelope.limit.capacity(),
        interval_ns: envelope.limit.interval().as_nanos() as u64,
        level: envelope.state.level(),
        stamp_ns: envelope.state.stamp().as_unix_nanos(),
    };
    let spent = envelope.spent.as_ref().map(|spent| {
        spent
            .iter()
            .map(|e| WireEntry {
                node: e.node,
                count: e.count,
                since_ns: e.since.as_unix_nanos(),
            })
            .collect()
    });
    if let Some(algorithm) = WireAlgorithm::of(envelope.limit.algorithm()) {
        let reset_ns = envelope.reset.as_unix_nanos();
        let v5 = WireV5 {
            base,
            algorithm,
            previous: envelope.state.prev(),
            reset_ns,
            spent,
        };
        return versioned(VERSION_WINDOW, &v5);
    }
    match (envelope.reset.as_unix_nanos(), spent) {
        (0, None) => versioned(VERSION, &base),
        (0, Some(spent)) => versioned(VERSION_COUNTED, &WireV3 { base, spent }),
        (reset_ns, spent) => versioned(
            VERSION_RESET,
            &WireV4 {
                base,
                reset_ns,
                spent,
            },
        ),
    }
}

/// Encodes a heartbeat.
pub fn encode_heartbeat(heartbeat: &Heartbeat) -> Vec<u8> {
    versioned(
        VERSION_HEARTBEAT,
        &WireHeartbeat {
            node_id: heartbeat.node_id.clone(),
            incarnation: heartbeat.incarnation,
            sent_at_ns: heartbeat.sent_at.as_unix_nanos(),
        },
    )
}

fn versioned(version: u8, body: &impl Serialize) -> Vec<u8> {
    let mut bytes = vec![version];
    // Serializing integers, strings and sequences into a Vec cannot fail.
    bytes.extend(postcard::to_allocvec(body).expect("postcard encodes the envelope"));
    bytes
}

/// Splits off the version byte of a value no larger than [`MAX_RECORD`].
fn version_of(bytes: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if bytes.len() > MAX_RECORD {
        return Err(DecodeError::Malformed(format!(
            "{} bytes, more than {MAX_RECORD}",
            bytes.len()
        )));
    }
    Ok((version, body))
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, DecodeError> {
    postcard::from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Decodes a state record of any version; anything unexpected or out of
/// bounds is an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    let (version, body) = version_of(bytes)?;
    let mut reset = 0;
    let mut algorithm = None;
    let mut previous = 0;
    let (wire, spent) = match version {
        VERSION => (parse::<WireV1>(body)?, None),
        VERSION_COUNTED_V2 => {
            let v2 = parse::<WireV2>(body)?;
            // No generation start: older nodes' entries count as history when new.
            let spent = v2.spent.into_iter().map(|(node, count)| Entry {
                node,
                count,
                since: Stamp::default(),
            });
            (v2.base, Some(spent.collect::<Vec<_>>()))
        }
        VERSION_COUNTED => {
            let v3 = parse::<WireV3>(body)?;
            (v3.base, Some(entries(v3.spent)))
        }
        VERSION_RESET => {
            let v4 = parse::<WireV4>(body)?;
            reset = v4.reset_ns;
            (v4.base, v4.spent.map(entries))
        }
        VERSION_WINDOW => {
            let v5 = parse::<WireV5>(body)?;
            reset = v5.reset_ns;
            algorithm = Some(v5.algorithm.algorithm()?);
            previous = v5.previous;
            (v5.base, v5.spent.map(entries))
        }
        other => return Err(DecodeError::UnknownVersion(other)),
    };
    check_node_id(&wire.node_id)?;
    let limit = limit_of(&wire, algorithm)?;
    let stamp = Stamp::from_unix_nanos(wire.stamp_ns);
    let state = BucketState::from_sliding(wire.level, previous, stamp);
    if state.bounded(&limit) != state {
        let full = BucketState::full(&limit, state.stamp()).level();
        return Err(DecodeError::Level {
            level: wire.level,
            floor: -full,
            full,
        });
    }
    if let Some(spent) = &spent {
        check_counter(spent)?;
    }
    Ok(Envelope {
        node_id: wire.node_id,
        sent_at: Stamp::from_unix_nanos(wire.sent_at_ns),
        limit,
        state,
        spent,
        reset: Stamp::from_unix_nanos(reset),
    })
}

/// The limit a record states: a bucket's capacity and interval, or a
/// window's capacity and algorithm (version 5).
fn limit_of(wire: &WireV1, algorithm: Option<Algorithm>) -> Result<Limit, DecodeError> {
    let capacity =
        NonZeroU32::new(wire.capacity).ok_or_else(|| DecodeError::Limit("zero capacity".into()))?;
    match algorithm {
        Some(algorithm) => Limit::windowed(capacity, algorithm),
        None => Limit::new(capacity, Duration::from_nanos(wire.interval_ns)),
    }
    .map_err(|e| DecodeError::Limit(e.to_string()))
}

fn entries(wire: Vec<WireEntry>) -> Vec<Entry> {
    let entries = wire.into_iter().map(|e| Entry {
        node: e.node,
        count: e.count,
        since: Stamp::from_unix_nanos(e.since_ns),
    });
    entries.collect()
}

/// Decodes a heartbeat record.
pub fn decode_heartbeat(bytes: &[u8]) -> Result<Heartbeat, DecodeError> {
    let (version, body) = version_of(bytes)?;
    if version != VERSION_HEARTBEAT {
        return Err(DecodeError::UnknownVersion(version));
    }
    let wire = parse::<WireHeartbeat>(body)?;
    check_node_id(&wire.node_id)?;
    Ok(Heartbeat {
        node_id: wire.node_id,
        incarnation: wire.incarnation,
        sent_at: Stamp::from_unix_nanos(wire.sent_at_ns),
    })
}

fn check_node_id(node_id: &str) -> Result<(), DecodeError> {
    if node_id.is_empty() || node_id.len() > MAX_NODE_ID {
        return Err(DecodeError::Malformed("node_id length".into()));
    }
    Ok(())
}

fn check_counter(spent: &[Entry]) -> Result<(), DecodeError> {
    if spent.len() > MAX_WIRE_ENTRIES {
        return Err(DecodeError::Counter(format!(
            "{} entries, more than {MAX_WIRE_ENTRIES}",
            spent.len()
        )));
    }
    if let Some(e) = spent.iter().find(|e| e.count > MAX_COUNT) {
        return Err(DecodeError::Counter(format!("count {} too large", e.count)));
    }
    let mut nodes = HashSet::with_capacity(spent.len());
    if !spent.iter().all(|e| nodes.insert(e.node)) {
        return Err(DecodeError::Counter("an entry appears twice".into()));
    }
    Ok(())
}

mod window;

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;

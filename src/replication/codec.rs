//! The record value on the topic: a versioned envelope `{version, node_id,
//! sent_at, state}`, and the heartbeat each node publishes. Pure: bytes in,
//! envelope out, never a panic, and nothing out of bounds let through.
//!
//! Layout: one version byte, then the envelope in `postcard` (a compact,
//! maintained serde format). The version byte sits outside the postcard body
//! so a node can tell an unknown version from garbage without parsing it.
//! Version 1 is a min-max state; version 2 added the counted mode's per-node
//! spent counter (read still, from older nodes); version 3 carries the
//! counted mode's bounded per-generation counter. A min-max node still
//! writes version 1, so nodes can be upgraded one at a time.
//!
//! Every field is checked before it is believed: the limit must be one a node
//! could run, the level within one full bucket of debt and no more than full,
//! the counter a bounded set of distinct entries of bounded counts. A record
//! that fails is refused with a [`DecodeError`] whose `kind` is counted.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limiter::spent::{Entry, MAX_COUNT, MAX_ENTRIES};
use crate::limiter::{BucketState, Limit, Stamp};

/// The envelope version of a min-max state.
pub const VERSION: u8 = 1;

/// The counted state of older nodes: a counter of node → count, no generations.
pub const VERSION_COUNTED_V2: u8 = 2;

/// The envelope version of a counted state (with its bounded counter).
pub const VERSION_COUNTED: u8 = 3;

/// A heartbeat: "this node is alive and reads the topic".
pub const VERSION_HEARTBEAT: u8 = 16;

/// Largest record value accepted: a real one is under 100 bytes plus about
/// 25 per counter entry, so this bounds what a hostile record can make us hold.
const MAX_RECORD: usize = 4096;

/// Most counter entries accepted in one record: what a node keeps, with room
/// for an older node's unbounded counter of a small cluster.
const MAX_WIRE_ENTRIES: usize = 2 * MAX_ENTRIES;

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
}

/// A node's periodic sign of life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The node.
    pub node_id: String,
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

#[derive(Debug, Serialize, Deserialize)]
struct WireEntry {
    node: u64,
    count: u64,
    since_ns: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireHeartbeat {
    node_id: String,
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

/// Encodes an envelope: version 3 if it carries a counter, else version 1.
pub fn encode(envelope: &Envelope) -> Vec<u8> {
    let base = WireV1 {
        node_id: envelope.node_id.clone(),
        sent_at_ns: envelope.sent_at.as_unix_nanos(),
        capacity: envelope.limit.capacity(),
        interval_ns: envelope.limit.interval().as_nanos() as u64,
        level: envelope.state.level(),
        stamp_ns: envelope.state.stamp().as_unix_nanos(),
    };
    match &envelope.spent {
        None => versioned(VERSION, &base),
        Some(spent) => versioned(
            VERSION_COUNTED,
            &WireV3 {
                base,
                spent: spent
                    .iter()
                    .map(|e| WireEntry {
                        node: e.node,
                        count: e.count,
                        since_ns: e.since.as_unix_nanos(),
                    })
                    .collect(),
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
            let spent = v3.spent.into_iter().map(|e| Entry {
                node: e.node,
                count: e.count,
                since: Stamp::from_unix_nanos(e.since_ns),
            });
            (v3.base, Some(spent.collect::<Vec<_>>()))
        }
        other => return Err(DecodeError::UnknownVersion(other)),
    };
    check_node_id(&wire.node_id)?;
    let capacity =
        NonZeroU32::new(wire.capacity).ok_or_else(|| DecodeError::Limit("zero capacity".into()))?;
    let limit = Limit::new(capacity, Duration::from_nanos(wire.interval_ns))
        .map_err(|e| DecodeError::Limit(e.to_string()))?;
    let state = BucketState::from_parts(wire.level, Stamp::from_unix_nanos(wire.stamp_ns));
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
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn envelope() -> Envelope {
        Envelope {
            node_id: "node-a".into(),
            sent_at: Stamp::from_unix_nanos(1_700_000_000_000_000_000),
            limit: Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap(),
            state: BucketState::from_parts(-3, Stamp::from_unix_nanos(1_699_999_999_000_000_000)),
            spent: None,
        }
    }

    fn entry(node: u64, count: u64, since_ns: u64) -> Entry {
        Entry {
            node,
            count,
            since: Stamp::from_unix_nanos(since_ns),
        }
    }

    fn raw(version: u8, body: &impl Serialize) -> Vec<u8> {
        versioned(version, body)
    }

    fn wire(level: i64) -> WireV1 {
        WireV1 {
            node_id: "n".into(),
            sent_at_ns: 0,
            capacity: 10,
            interval_ns: 1_000_000_000,
            level,
            stamp_ns: 0,
        }
    }

    #[test]
    fn counted_states_round_trip_as_version_3() {
        let mut e = envelope();
        e.spent = Some(vec![entry(7, 3, 5), entry(9, 5, 6)]);
        let bytes = encode(&e);
        assert_eq!(bytes[0], VERSION_COUNTED);
        assert_eq!(decode(&bytes), Ok(e));
    }

    #[test]
    fn version_2_records_of_older_nodes_are_read_as_history() {
        // What an older node wrote: its `crdts` GCounter, serialized as is.
        #[derive(Serialize)]
        struct OldV2 {
            base: WireV1,
            spent: crdts::GCounter<u64>,
        }
        let mut counter = crdts::GCounter::new();
        for (node, n) in [(7u64, 3u64), (9, 5)] {
            let dot = counter.inc_many(node, n);
            crdts::CmRDT::apply(&mut counter, dot);
        }
        let bytes = raw(
            VERSION_COUNTED_V2,
            &OldV2 {
                base: wire(-3),
                spent: counter,
            },
        );
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded.spent, Some(vec![entry(7, 3, 0), entry(9, 5, 0)]));
    }

    #[test]
    fn oversized_records_are_refused_unparsed() {
        let mut bytes = vec![VERSION_COUNTED];
        bytes.resize(MAX_RECORD + 1, 0);
        assert!(matches!(decode(&bytes), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn round_trips() {
        let e = envelope();
        let bytes = encode(&e);
        assert_eq!(bytes[0], VERSION);
        assert!(bytes.len() < 48, "compact: {} bytes", bytes.len());
        assert_eq!(decode(&bytes), Ok(e));
    }

    #[test]
    fn heartbeats_round_trip_and_are_not_states() {
        let h = Heartbeat {
            node_id: "node-a".into(),
            sent_at: Stamp::from_unix_nanos(42),
        };
        let bytes = encode_heartbeat(&h);
        assert_eq!(decode_heartbeat(&bytes), Ok(h));
        assert_eq!(
            decode(&bytes),
            Err(DecodeError::UnknownVersion(VERSION_HEARTBEAT))
        );
        assert!(decode_heartbeat(&encode(&envelope())).is_err());
    }

    #[test]
    fn unknown_versions_and_garbage_are_errors() {
        let mut bytes = encode(&envelope());
        bytes[0] = 99;
        assert_eq!(bytes.len(), encode(&envelope()).len());
        assert_eq!(decode(&bytes), Err(DecodeError::UnknownVersion(99)));
        assert_eq!(decode(&[]), Err(DecodeError::Empty));
        assert!(matches!(
            decode(&[VERSION, 0xff, 0xff]),
            Err(DecodeError::Malformed(_))
        ));
        let truncated = &encode(&envelope())[..10];
        assert!(matches!(decode(truncated), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn impossible_limits_are_refused() {
        for (capacity, interval_ns) in [(0, 1), (1, 0), (u32::MAX, u64::MAX)] {
            let bytes = raw(
                VERSION,
                &WireV1 {
                    capacity,
                    interval_ns,
                    ..wire(0)
                },
            );
            assert_eq!(decode(&bytes).unwrap_err().kind(), "bad_limit");
        }
    }

    #[test]
    fn levels_beyond_full_or_one_bucket_of_debt_are_refused() {
        let full = 10 * 1_000_000_000;
        for level in [i64::MIN, -full - 1, full + 1, i64::MAX] {
            let bytes = raw(VERSION, &wire(level));
            assert_eq!(decode(&bytes).unwrap_err().kind(), "bad_level", "{level}");
        }
        for level in [-full, 0, full] {
            assert!(decode(&raw(VERSION, &wire(level))).is_ok(), "{level}");
        }
    }

    #[test]
    fn unreasonable_counters_are_refused() {
        let counted = |spent: Vec<WireEntry>| {
            raw(
                VERSION_COUNTED,
                &WireV3 {
                    base: wire(0),
                    spent,
                },
            )
        };
        let e = |node, count| WireEntry {
            node,
            count,
            since_ns: 0,
        };
        let too_many = (0..=MAX_WIRE_ENTRIES as u64).map(|n| e(n, 1)).collect();
        for spent in [too_many, vec![e(1, MAX_COUNT + 1)], vec![e(1, 1), e(1, 2)]] {
            assert_eq!(decode(&counted(spent)).unwrap_err().kind(), "bad_counter");
        }
        assert!(decode(&counted(vec![e(1, MAX_COUNT), e(2, 0)])).is_ok());
    }

    #[test]
    fn ten_thousand_node_ids_spending_on_one_key_keep_records_small_and_replicating() {
        use crate::limiter::{MergeMode, Store};
        let limit = Limit::new(NonZeroU32::new(100).unwrap(), Duration::from_millis(10)).unwrap();
        let keys = std::num::NonZeroUsize::new(8).unwrap();
        let here = Store::replicated(limit, keys, MergeMode::Counted, 0);
        let mut now = 1_700_000_000_000_000_000u64;
        let mut largest = 0;
        for id in 1..=10_000u64 {
            now += 1_000_000;
            let at = Stamp::from_unix_nanos(now);
            // A node under a new ID (a restart with a random ID) spends on the key...
            let other = Store::replicated(limit, keys, MergeMode::Counted, id);
            other.check("alice", 1, at);
            for (key, change) in other.take_changes(at) {
                let record = encode(&envelope_of(change.unwrap(), at));
                let e = decode(&record).unwrap();
                let remote = crate::limiter::Replicated {
                    limit: e.limit,
                    state: e.state,
                    spent: e.spent,
                };
                here.merge_remote(&key, &remote, &limit, at);
            }
            // ...and this node's record of the key stays small enough to send.
            here.check("alice", 1, at);
            let (_, change) = here.take_changes(at).pop().unwrap();
            let record = encode(&envelope_of(change.unwrap(), at));
            largest = largest.max(record.len());
            assert!(decode(&record).is_ok(), "node {id}");
        }
        assert!(largest <= 1024, "{largest} bytes");
    }

    fn envelope_of(r: crate::limiter::Replicated, at: Stamp) -> Envelope {
        Envelope {
            node_id: "n".into(),
            sent_at: at,
            limit: r.limit,
            state: r.state,
            spent: r.spent,
        }
    }

    fn extreme_i64() -> impl Strategy<Value = i64> {
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0),
            Just(-1),
            any::<i64>()
        ]
    }

    fn extreme_u64() -> impl Strategy<Value = u64> {
        prop_oneof![Just(0), Just(u64::MAX), Just(MAX_COUNT), any::<u64>()]
    }

    fn arb_record() -> impl Strategy<Value = Vec<u8>> {
        let base = (
            prop_oneof![Just(0u32), Just(1), Just(u32::MAX), any::<u32>()],
            extreme_u64(),
            extreme_i64(),
            extreme_u64(),
        )
            .prop_map(|(capacity, interval_ns, level, stamp_ns)| WireV1 {
                node_id: "hostile".into(),
                sent_at_ns: stamp_ns,
                capacity,
                interval_ns,
                level,
                stamp_ns,
            });
        let entries = proptest::collection::vec(
            (0u64..4, extreme_u64(), extreme_u64()).prop_map(|(node, count, since_ns)| WireEntry {
                node,
                count,
                since_ns,
            }),
            0..4,
        );
        (base, proptest::option::of(entries)).prop_map(|(base, spent)| match spent {
            None => raw(VERSION, &base),
            Some(spent) => raw(VERSION_COUNTED, &WireV3 { base, spent }),
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
            let _ = decode_heartbeat(&bytes);
        }

        #[test]
        fn arbitrary_bytes_after_the_version_never_panic(
            version in prop_oneof![Just(VERSION), Just(VERSION_COUNTED_V2), Just(VERSION_COUNTED), Just(VERSION_HEARTBEAT)],
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut record = vec![version];
            record.extend(bytes);
            let _ = decode(&record);
            let _ = decode_heartbeat(&record);
        }

        /// A well-formed record with extreme values, merged into a node in
        /// either mode: never a panic, and a user who had tokens left is
        /// refused for at most one refill window (plus one token's time, plus
        /// the clock-skew tolerance a stamp may lie ahead).
        #[test]
        fn no_record_delays_a_user_beyond_one_refill_window(
            records in proptest::collection::vec(arb_record(), 1..2),
            counted in any::<bool>(),
        ) {
            use crate::limiter::{MergeMode, Replicated, Store};
            let limit = Limit::new(NonZeroU32::new(5).unwrap(), Duration::from_secs(1)).unwrap();
            let mode = if counted { MergeMode::Counted } else { MergeMode::MinMax };
            let store = Store::replicated(limit, std::num::NonZeroUsize::new(8).unwrap(), mode, 1);
            let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
            store.check_with("alice", &limit, 1, now);
            for bytes in &records {
                let Ok(e) = decode(bytes) else { continue };
                // The consumer's own clamp of future stamps.
                let (state, _) = crate::limiter::clamp_future(e.state, now, Duration::from_secs(1));
                let remote = Replicated { limit: e.limit, state, spent: e.spent };
                store.merge_remote("alice", &remote, &limit, now);
            }
            let bound = limit.window() + limit.interval() + Duration::from_secs(1);
            let later = now.saturating_add(bound);
            prop_assert!(store.check_with("alice", &limit, 1, later).is_allowed());
        }
    }
}

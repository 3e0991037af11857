//! The record value on the topic: a versioned envelope `{version, node_id,
//! sent_at, state}`. Pure: bytes in, envelope out, never a panic.
//!
//! Layout: one version byte, then the envelope in `postcard` (a compact,
//! maintained serde format). The version byte sits outside the postcard body
//! so a node can tell an unknown version from garbage without parsing it.
//! Version 1 is a min-max state; version 2 adds the counted mode's per-node
//! spent counter. Both are read, and a min-max node still writes version 1, so
//! nodes can be upgraded one at a time.

use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limiter::{BucketState, Limit, Spent, Stamp};

/// The envelope version of a min-max state.
pub const VERSION: u8 = 1;

/// The envelope version of a counted state (with its spent counter).
pub const VERSION_COUNTED: u8 = 2;

/// Largest record value accepted: a real one is under 100 bytes plus 20 per
/// node in its counter, so this bounds what a hostile record can make us hold.
const MAX_RECORD: usize = 4096;

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
    /// The bucket's state.
    pub state: BucketState,
    /// Counted mode: tokens spent per node (version 2); `None` in version 1.
    pub spent: Option<Spent>,
}

/// The wire form of [`Envelope`], version 1. Separate from the domain types so
/// they can change without changing what is on the topic.
#[derive(Serialize, Deserialize)]
struct WireV1 {
    node_id: String,
    sent_at_ns: u64,
    capacity: u32,
    interval_ns: u64,
    level: i64,
    stamp_ns: u64,
}

/// Version 2: version 1 and the spent counter.
#[derive(Serialize, Deserialize)]
struct WireV2 {
    base: WireV1,
    spent: Spent,
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
    /// Bytes that do not decode, or decode to an impossible state.
    #[error("malformed envelope: {0}")]
    Malformed(String),
}

impl DecodeError {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::UnknownVersion(_) => "unknown_version",
            DecodeError::Malformed(_) => "malformed",
        }
    }
}

/// Encodes an envelope: version 2 if it carries a spent counter, else version 1.
pub fn encode(envelope: &Envelope) -> Vec<u8> {
    let base = WireV1 {
        node_id: envelope.node_id.clone(),
        sent_at_ns: envelope.sent_at.as_unix_nanos(),
        capacity: envelope.limit.capacity(),
        interval_ns: envelope.limit.interval().as_nanos() as u64,
        level: envelope.state.level(),
        stamp_ns: envelope.state.stamp().as_unix_nanos(),
    };
    // Serializing integers, a string and a counter into a Vec cannot fail.
    let (version, body) = match &envelope.spent {
        None => (VERSION, postcard::to_allocvec(&base)),
        Some(spent) => (
            VERSION_COUNTED,
            postcard::to_allocvec(&WireV2 {
                base,
                spent: spent.clone(),
            }),
        ),
    };
    let mut bytes = vec![version];
    bytes.extend(body.expect("postcard encodes the envelope"));
    bytes
}

/// Decodes a record value of either version; anything unexpected is an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if bytes.len() > MAX_RECORD {
        return Err(DecodeError::Malformed(format!(
            "{} bytes, more than {MAX_RECORD}",
            bytes.len()
        )));
    }
    let malformed = |e: postcard::Error| DecodeError::Malformed(e.to_string());
    let (wire, spent) = match version {
        VERSION => (
            postcard::from_bytes::<WireV1>(body).map_err(malformed)?,
            None,
        ),
        VERSION_COUNTED => {
            let v2 = postcard::from_bytes::<WireV2>(body).map_err(malformed)?;
            (v2.base, Some(v2.spent))
        }
        other => return Err(DecodeError::UnknownVersion(other)),
    };
    let malformed = |what: &str| DecodeError::Malformed(what.to_string());
    if wire.node_id.is_empty() || wire.node_id.len() > MAX_NODE_ID {
        return Err(malformed("node_id length"));
    }
    let capacity = NonZeroU32::new(wire.capacity).ok_or_else(|| malformed("zero capacity"))?;
    let limit = Limit::new(capacity, Duration::from_nanos(wire.interval_ns))
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    Ok(Envelope {
        node_id: wire.node_id,
        sent_at: Stamp::from_unix_nanos(wire.sent_at_ns),
        limit,
        state: BucketState::from_parts(wire.level, Stamp::from_unix_nanos(wire.stamp_ns)),
        spent,
    })
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

    #[test]
    fn counted_states_round_trip_as_version_2() {
        let mut e = envelope();
        let mut spent = Spent::new();
        crate::limiter::record_spend(&mut spent, 7, 3);
        crate::limiter::record_spend(&mut spent, 9, 5);
        e.spent = Some(spent);
        let bytes = encode(&e);
        assert_eq!(bytes[0], VERSION_COUNTED);
        assert_eq!(decode(&bytes), Ok(e));
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
            let wire = WireV1 {
                node_id: "n".into(),
                sent_at_ns: 0,
                capacity,
                interval_ns,
                level: 0,
                stamp_ns: 0,
            };
            let mut bytes = vec![VERSION];
            bytes.extend(postcard::to_allocvec(&wire).unwrap());
            assert!(
                matches!(decode(&bytes), Err(DecodeError::Malformed(_))),
                "{capacity} {interval_ns}"
            );
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn arbitrary_bytes_after_the_version_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut record = vec![VERSION];
            record.extend(bytes);
            let _ = decode(&record);
        }
    }
}

//! The record value on the topic: a versioned envelope `{version, node_id,
//! sent_at, state}`. Pure: bytes in, envelope out, never a panic.
//!
//! Layout: one version byte, then the envelope in `postcard` (a compact,
//! maintained serde format). The version byte sits outside the postcard body
//! so a node can tell an unknown version from garbage without parsing it.

use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limiter::{BucketState, Limit, Stamp};

/// The envelope version this node writes.
pub const VERSION: u8 = 1;

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

/// Encodes an envelope at the current version.
pub fn encode(envelope: &Envelope) -> Vec<u8> {
    let wire = WireV1 {
        node_id: envelope.node_id.clone(),
        sent_at_ns: envelope.sent_at.as_unix_nanos(),
        capacity: envelope.limit.capacity(),
        interval_ns: envelope.limit.interval().as_nanos() as u64,
        level: envelope.state.level(),
        stamp_ns: envelope.state.stamp().as_unix_nanos(),
    };
    let mut bytes = vec![VERSION];
    // Serializing plain integers and a string into a Vec cannot fail.
    bytes.extend(postcard::to_allocvec(&wire).expect("postcard encodes WireV1"));
    bytes
}

/// Decodes a record value; anything unexpected is an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if version != VERSION {
        return Err(DecodeError::UnknownVersion(version));
    }
    let malformed = |what: &str| DecodeError::Malformed(what.to_string());
    let wire: WireV1 =
        postcard::from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
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
        }
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

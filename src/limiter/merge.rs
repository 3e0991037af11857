//! The CRDT merge of two views of one bucket: min tokens at the max refill stamp.
//!
//! `merge(a, b)`: `T = max(a.stamp, b.stamp)`, level = the smaller of the two
//! levels once both are refilled to `T`. Refill is monotone and composes
//! (`refill(refill(x, t1), t2) = refill(x, t2)`), so the merged state's level at
//! any later instant is the minimum of the inputs' levels at that instant: the
//! merge is commutative, associative and idempotent (a join-semilattice), and a
//! merge can only lower what a node would admit, never raise it.

use std::time::Duration;

use crdts::CvRDT;

use super::bucket::{BucketState, Limit, Stamp};

/// Merges two views of one bucket under `limit`.
pub fn merge(limit: &Limit, a: BucketState, b: BucketState) -> BucketState {
    let at = a.stamp().max(b.stamp());
    let level = a.level_at(limit, at).min(b.level_at(limit, at));
    BucketState::from_parts(level, at)
}

/// Pulls a stamp more than `tolerance` ahead of `now` back to `now + tolerance`,
/// keeping the level: a peer with a fast clock cannot hold a bucket's refill
/// back by more than the tolerance. Returns whether it clamped.
pub fn clamp_future(state: BucketState, now: Stamp, tolerance: Duration) -> (BucketState, bool) {
    let latest = now.saturating_add(tolerance);
    if state.stamp() > latest {
        (BucketState::from_parts(state.level(), latest), true)
    } else {
        (state, false)
    }
}

/// Converts a state kept under limit `from` to limit `to`, keeping its token
/// count (what a peer with other settings meant) and clipping to `to`'s capacity.
pub fn rescale(state: BucketState, from: &Limit, to: &Limit) -> BucketState {
    if from == to {
        return state;
    }
    let level = i128::from(state.level()) * to.interval().as_nanos() as i128
        / from.interval().as_nanos().max(1) as i128;
    let level = level.clamp(-i128::from(to.full_level()), i128::from(to.full_level())) as i64;
    BucketState::from_parts(level, state.stamp())
}

/// One bucket with its limit: the unit the `crdts` traits see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replica {
    /// The bucket's shape; both sides of a merge must agree on it.
    pub limit: Limit,
    /// The bucket's state.
    pub state: BucketState,
}

/// Two replicas of different limits cannot be merged as they stand: rescale first.
#[derive(Debug, thiserror::Error)]
#[error("cannot merge buckets of different limits ({0:?} and {1:?}); rescale first")]
pub struct LimitMismatch(pub Limit, pub Limit);

impl CvRDT for Replica {
    type Validation = LimitMismatch;

    fn validate_merge(&self, other: &Self) -> Result<(), LimitMismatch> {
        if self.limit == other.limit {
            Ok(())
        } else {
            Err(LimitMismatch(self.limit, other.limit))
        }
    }

    fn merge(&mut self, other: Self) {
        let other = rescale(other.state, &other.limit, &self.limit);
        self.state = merge(&self.limit, self.state, other);
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;

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
use super::spent::{Entry, Spent};

/// A node's stable key: 64-bit FNV-1a of its ID, the same on every node and
/// every run (a process-random hash would not be).
pub fn node_key(node_id: &str) -> u64 {
    node_id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How peers' states are combined with the local one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MergeMode {
    /// Min tokens at the max stamp: the specified rule. Up to N× the limit when
    /// one user's traffic is spread over N nodes.
    #[default]
    MinMax,
    /// Min/max plus per-node spending counters: spending seen for the first
    /// time on another node is debited locally, so the admitted rate matches
    /// the limit at any node count.
    Counted,
}

/// The counted merge: debit from `local` the tokens that other nodes spent
/// according to `remote_spent` and that `spent` had not counted yet (see
/// [`Spent::absorb`]: each token once, and never a key's history), less what
/// `reserve` already charged on their behalf during a partition, and at most
/// one full bucket per record; then apply the min/max rule (`remote` is
/// expected [`BucketState::bounded`]). Never raises the level.
pub fn merge_counted(
    limit: &Limit,
    local: &mut BucketState,
    spent: &mut Spent,
    remote: BucketState,
    remote_spent: &[Entry],
    reserve: &mut u32,
) {
    if limit.algorithm().is_window() {
        return merge_window_counted(limit, local, spent, remote, remote_spent, reserve);
    }
    // One record moves a bucket by at most one refill window, whatever it
    // claims; growth past that is debited by later records.
    let budget = u64::from(*reserve).saturating_add(u64::from(limit.capacity()));
    let new = spent.absorb(remote_spent, budget);
    let covered = new.min(u64::from(*reserve));
    *reserve -= covered as u32;
    let debit =
        i64::try_from(u128::from(new - covered) * limit.interval().as_nanos()).unwrap_or(i64::MAX);
    local.debit(limit, debit);
    *local = merge(limit, *local, remote);
}

/// [`merge_counted`] for a window limit. A window's count is its own: the
/// local state moves to the later stamp's window first, and a peer's
/// spending is debited only as far as it fell in that window (its
/// generations begin anew in each window), or for a sliding window counted
/// in the previous count as far as it fell in the window before. Spending of
/// windows that are over is taken as known, never debited.
fn merge_window_counted(
    limit: &Limit,
    local: &mut BucketState,
    spent: &mut Spent,
    remote: BucketState,
    remote_spent: &[Entry],
    reserve: &mut u32,
) {
    let algorithm = limit.algorithm();
    let at = local.stamp().max(remote.stamp());
    *local = local.refilled_to(limit, at);
    let current = algorithm.window_start(at).unwrap_or(at);
    let previous = match algorithm.sliding() {
        Some(length) => {
            Stamp::from_unix_nanos(current.as_unix_nanos().saturating_sub(duration_ns(length)))
        }
        None => current,
    };
    let budget = u64::from(*reserve).saturating_add(u64::from(limit.capacity()));
    let (new, before) = spent.absorb_windows(remote_spent, budget, previous, current);
    let covered = new.min(u64::from(*reserve));
    *reserve -= covered as u32;
    local.debit(
        limit,
        limit.level_of((new - covered).min(u64::from(u32::MAX)) as u32),
    );
    local.count_previous(
        limit,
        limit.level_of(before.min(u64::from(u32::MAX)) as u32),
    );
    *local = merge(limit, *local, remote);
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Merges two views of one bucket under `limit`.
///
/// # Examples
///
/// ```rust
/// use std::num::NonZeroU32;
/// use std::time::Duration;
///
/// use crdt_limiter::limiter::{merge, BucketState, Limit, Stamp};
///
/// let limit = Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap();
/// let t0 = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
/// let t1 = t0.saturating_add(Duration::from_secs(1));
/// // Node a spent 3 tokens at t0; node b spent 5 a second later.
/// let mut a = BucketState::full(&limit, t0);
/// assert!(a.take(&limit, 3, t0).is_allowed());
/// let mut b = BucketState::full(&limit, t1);
/// assert!(b.take(&limit, 5, t1).is_allowed());
///
/// // At the later stamp, the fewer tokens win: a has refilled to 8, b holds 5.
/// let merged = merge(&limit, a, b);
/// assert_eq!(merged.stamp(), t1);
/// assert_eq!(merged.tokens_at(&limit, t1), 5);
/// // Commutative and idempotent: nodes agree whatever the order records arrive in.
/// assert_eq!(merge(&limit, b, a), merged);
/// assert_eq!(merge(&limit, merged, merged), merged);
/// ```
pub fn merge(limit: &Limit, a: BucketState, b: BucketState) -> BucketState {
    let at = a.stamp().max(b.stamp());
    let (a, b) = (a.refilled_to(limit, at), b.refilled_to(limit, at));
    // A sliding window's previous count joins by max (0 for the others).
    BucketState::from_sliding(a.level().min(b.level()), a.prev().max(b.prev()), at)
}

/// Pulls a stamp more than `tolerance` ahead of `now` back to `now + tolerance`,
/// keeping the level: a peer with a fast clock cannot hold a bucket's refill
/// back by more than the tolerance. Returns whether it clamped.
pub fn clamp_future(state: BucketState, now: Stamp, tolerance: Duration) -> (BucketState, bool) {
    let latest = now.saturating_add(tolerance);
    if state.stamp() > latest {
        (state.with_stamp(latest), true)
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
    // A sliding window's previous count is a count (windows keep one token
    // per nanosecond): kept for a sliding target, dropped by `bounded` otherwise.
    BucketState::from_sliding(level, state.prev(), state.stamp()).bounded(to)
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

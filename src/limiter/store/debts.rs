//! What buckets evicted before they were full still owe, kept in a fixed
//! space that can only over-estimate it.
//!
//! A bucket dropped under pressure (the store at its cap, nothing full to
//! drop) still limits its user: forgetting it would hand them a fresh bucket
//! on their next request. So its debt is written into a count-min-style
//! sketch: [`ROWS`] rows of [`WIDTH`] cells, each cell holding the latest
//! instant at which a bucket hashed to it will be full again (max on
//! insert). A key's bound is the earliest of its cells (min on lookup): every
//! cell it hashes to holds its own instant or a later one, so the bound is
//! never earlier than the truth — a returning key is charged at least what it
//! owed — and only a key whose every cell is shared with a later debt is
//! charged more. Cells need no clearing: once their instant passes they say
//! "full", which is what every key is by then.
//!
//! The bound is *time to full*, not tokens, because cells are shared by keys
//! of every limit: an instant means the same whatever the rate (five tokens
//! of a token an hour and five of a thousand a second do not), and it decays
//! on its own. A key that comes back under the same limit gets exactly the
//! level it left with, refilled; under another limit (its plan changed, or a
//! cell shared with another key) it waits as long to be full as the bound
//! says, which never exceeds its new capacity.
//!
//! Cells are atomics: an eviction writes with `fetch_max` and a new key reads
//! with plain loads, with no lock and no allocation. The write happens before
//! the bucket leaves the map, under its shard's lock, and the read after a
//! request has found the key gone under that same lock, so a request cannot
//! slip in between and find the key gone but its debt not yet written.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::{Slot, Store};
use crate::limiter::bucket::{BucketState, Limit, Stamp};

/// Rows of the sketch: each is an independent hash of the key, and a key is
/// over-charged only if all of them collide with a later debt.
pub const ROWS: usize = 4;

/// Cells per row (a power of two; 16 bits of the hash pick one).
pub const WIDTH: usize = 1 << 14;

/// The sketch of evicted buckets' debts: `ROWS × WIDTH` 8-byte cells, 512
/// KiB whatever the number of keys.
pub(super) struct Debts {
    /// Row-major: `cells[row * WIDTH + column]`, nanoseconds since the Unix
    /// epoch at which the buckets hashed there are all full again (0: none owe).
    cells: Box<[AtomicU64]>,
    /// Whether any debt was ever written: until the first pressure eviction
    /// a new key costs one load, not a hash and four.
    owing: AtomicBool,
    /// Seeded per process, so an attacker cannot pick IDs that share a
    /// legitimate user's cells.
    hasher: ahash::RandomState,
}

impl Debts {
    pub(super) fn new() -> Self {
        Self {
            cells: (0..ROWS * WIDTH).map(|_| AtomicU64::new(0)).collect(),
            owing: AtomicBool::new(false),
            hasher: ahash::RandomState::new(),
        }
    }

    /// Remembers that `key`'s bucket will not be full before `full_at`.
    pub(super) fn owe(&self, key: &str, full_at: Stamp) {
        let full_at = full_at.as_unix_nanos();
        self.owing.store(true, Ordering::Relaxed);
        for cell in self.cells_of(key) {
            cell.fetch_max(full_at, Ordering::Relaxed);
        }
    }

    /// The latest instant at which `key`'s bucket could be full again: no
    /// earlier than any debt [`Debts::owe`] recorded for it (zero if none).
    pub(super) fn full_again_at(&self, key: &str) -> Stamp {
        // A key's own debt is written under its shard's lock before the key
        // leaves, and the caller found the key gone under that lock since:
        // if there is a debt, this sees the flag set.
        if !self.owing.load(Ordering::Relaxed) {
            return Stamp::default();
        }
        let earliest = self
            .cells_of(key)
            .map(|cell| cell.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        Stamp::from_unix_nanos(earliest)
    }

    /// `key`'s cell in each row: a 16-bit slice of one 64-bit hash per row.
    fn cells_of(&self, key: &str) -> impl Iterator<Item = &AtomicU64> {
        let hash = self.hasher.hash_one(key);
        (0..ROWS).map(move |row| {
            let column = (hash >> (16 * row)) as usize & (WIDTH - 1);
            &self.cells[row * WIDTH + column]
        })
    }
}

impl Store {
    /// The bucket a key this store does not track starts from: full, unless
    /// it was evicted under pressure and is not full again yet — then the
    /// level it left with, refilled to `now` (or, sharing every cell with a
    /// later debt, lower), but never deeper than one full bucket of debt.
    /// A live reset of the key forgives what it owed before the reset.
    pub(super) fn fresh_state(&self, key: &str, limit: &Limit, now: Stamp) -> BucketState {
        let mut full_at = self.debts.full_again_at(key);
        if full_at <= now {
            return BucketState::full(limit, now);
        }
        if let Some(owed) = self.resets.owed_since(key, now) {
            full_at = owed;
        }
        let missing = match limit.algorithm().window_end(now) {
            // A window's own debt is its count past the window's end (see
            // `remember_debt`); an instant within the window is no debt of
            // this window (an earlier window's, or another limit's).
            Some(end) => i64::try_from(full_at.saturating_since(end)).unwrap_or(i64::MAX),
            None => i64::try_from(full_at.saturating_since(now)).unwrap_or(i64::MAX),
        };
        BucketState::from_parts(limit.full_level().saturating_sub(missing), now).bounded(limit)
    }

    /// Writes down what `slot`, about to be evicted at `now` before it is
    /// full, still owes. Called under the slot's shard lock, so a request
    /// for `key` cannot come between the eviction and this.
    pub(super) fn remember_debt(&self, key: &str, slot: &Slot, now: Stamp) {
        let missing = slot.missing_at(now);
        if missing <= 0 {
            return;
        }
        // At most one bucket of debt, as a record may carry: a debt outlives
        // the bucket by at most two windows, so a reset outlives it.
        let most = slot.limit.full_level().saturating_mul(2);
        let owed = Duration::from_nanos(missing.min(most) as u64);
        // A window is full again at its end, whatever it owes: written as
        // its end plus its count (a nanosecond per request), so the bound
        // is still a time to full for every reader and the count comes back.
        let from = slot.limit.algorithm().window_end(now).unwrap_or(now);
        let full_at = from.saturating_add(owed);
        self.debts.owe(key, full_at);
        self.resets.owe(key, full_at, now);
    }
}

#[cfg(test)]
#[path = "debts_tests.rs"]
mod tests;

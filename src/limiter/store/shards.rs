//! The store's map: keys in locked shards, each a dense vector of entries
//! with a hash index of 4-byte positions over it.
//!
//! Why not a map of whole entries: a hash table doubles, so it is often half
//! empty, and every empty bucket of a table of entries costs a whole entry
//! (~75 bytes); an empty bucket of the index costs 5. And a vector can be
//! walked by position, so sweeps and eviction hold a shard's lock for a
//! bounded stretch and keep their place (a CLOCK hand) between stretches.

use compact_str::CompactString;
use hashbrown::HashTable;
use parking_lot::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

/// A sharded map of keys to `V`.
pub(super) struct Shards<V> {
    shards: Box<[Padded<RwLock<Shard<V>>>]>,
    hasher: ahash::RandomState,
}

/// Keeps each shard's lock on its own cache lines, so threads working on
/// different shards do not slow each other down.
#[repr(align(128))]
struct Padded<T>(T);

struct Shard<V> {
    /// Positions in `entries`, hashed by their keys.
    index: HashTable<u32>,
    entries: Vec<(CompactString, V)>,
    /// Where the next [`Shards::clock`] call starts.
    hand: usize,
}

impl<V> Shards<V> {
    /// An empty map of `count` shards (a power of two).
    pub(super) fn new(count: usize) -> Self {
        assert!(count.is_power_of_two());
        let shard = || {
            Padded(RwLock::new(Shard {
                index: HashTable::new(),
                entries: Vec::new(),
                hand: 0,
            }))
        };
        Self {
            shards: (0..count).map(|_| shard()).collect(),
            hasher: ahash::RandomState::new(),
        }
    }

    /// How many shards there are.
    pub(super) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The value of `key`, read-locked.
    pub(super) fn get(&self, key: &str) -> Option<MappedRwLockReadGuard<'_, V>> {
        let hash = self.hash(key);
        let shard = self.shard(hash).read();
        RwLockReadGuard::try_map(shard, |s| s.find(hash, key).map(|i| &s.entries[i].1)).ok()
    }

    /// The value of `key`, write-locked.
    pub(super) fn get_mut(&self, key: &str) -> Option<MappedRwLockWriteGuard<'_, V>> {
        let hash = self.hash(key);
        let shard = self.shard(hash).write();
        RwLockWriteGuard::try_map(shard, |s| s.find(hash, key).map(|i| &mut s.entries[i].1)).ok()
    }

    /// The value of `key`, write-locked, made by `make` first if the key is
    /// new; and whether it was.
    pub(super) fn get_or_insert_with(
        &self,
        key: &str,
        make: impl FnOnce() -> V,
    ) -> (MappedRwLockWriteGuard<'_, V>, bool) {
        let hash = self.hash(key);
        let mut shard = self.shard(hash).write();
        let (at, inserted) = match shard.find(hash, key) {
            Some(i) => (i, false),
            None => (
                shard.push(hash, CompactString::new(key), make(), &self.hasher),
                true,
            ),
        };
        (
            RwLockWriteGuard::map(shard, |s| &mut s.entries[at].1),
            inserted,
        )
    }

    /// Whether `key` is in the map.
    pub(super) fn contains_key(&self, key: &str) -> bool {
        let hash = self.hash(key);
        self.shard(hash).read().find(hash, key).is_some()
    }

    /// Removes `key` if `keep` is false for its value.
    pub(super) fn remove_unless(
        &self,
        key: &str,
        keep: impl FnOnce(&V) -> bool,
    ) -> Option<(CompactString, V)> {
        let hash = self.hash(key);
        let mut shard = self.shard(hash).write();
        let i = shard.find(hash, key)?;
        if keep(&shard.entries[i].1) {
            return None;
        }
        Some(shard.remove_at(i, hash, &self.hasher))
    }

    /// Entries in the map (locks every shard in turn).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.read().entries.len()).sum()
    }

    /// Visits every entry, at most `chunk` per shard lock; entries `visit`
    /// returns true for are removed and handed to `removed` after each
    /// stretch, outside the lock. Same caveat as [`Shards::scan`].
    pub(super) fn walk(
        &self,
        chunk: usize,
        mut visit: impl FnMut(&CompactString, &mut V) -> bool,
        mut removed: impl FnMut(std::vec::Drain<'_, (CompactString, V)>),
    ) {
        let mut taken = Vec::new();
        for shard in 0..self.shard_count() {
            let mut from = Some(0);
            while let Some(start) = from {
                from = self.scan(shard, start, chunk, &mut visit, &mut taken);
                removed(taken.drain(..));
            }
        }
    }

    /// Visits at most `max` entries of shard `shard` from position `from`
    /// under one lock; entries `visit` returns true for are removed and put
    /// into `removed`. Returns where to go on, or `None` at the shard's end.
    /// Entries that move meanwhile (removals, inserts) may be visited twice
    /// or not at all by one walk.
    pub(super) fn scan(
        &self,
        shard: usize,
        from: usize,
        max: usize,
        mut visit: impl FnMut(&CompactString, &mut V) -> bool,
        removed: &mut Vec<(CompactString, V)>,
    ) -> Option<usize> {
        let mut shard = self.shards[shard].0.write();
        let mut i = from;
        for _ in 0..max {
            let (key, value) = shard.entries.get_mut(i)?;
            if visit(key, value) {
                let hash = self.hash(&shard.entries[i].0);
                // The last entry moves into `i`: look at `i` again.
                removed.push(shard.remove_at(i, hash, &self.hasher));
            } else {
                i += 1;
            }
        }
        (i < shard.entries.len()).then_some(i)
    }

    /// Moves shard `shard`'s hand over at most `max` entries (wrapping at
    /// the end, each entry at most once) under one lock, until `visit`
    /// returns true for one: that one is removed and returned. Returns how
    /// many entries were looked at, too.
    pub(super) fn clock(
        &self,
        shard: usize,
        max: usize,
        mut visit: impl FnMut(&CompactString, &V) -> bool,
    ) -> (usize, Option<(CompactString, V)>) {
        let mut shard = self.shards[shard].0.write();
        let looks = max.min(shard.entries.len());
        for looked in 1..=looks {
            if shard.hand >= shard.entries.len() {
                shard.hand = 0;
            }
            let at = shard.hand;
            let (key, value) = &shard.entries[at];
            if visit(key, value) {
                let hash = self.hash(&shard.entries[at].0);
                return (looked, Some(shard.remove_at(at, hash, &self.hasher)));
            }
            shard.hand += 1;
        }
        (looks, None)
    }

    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard<V>> {
        // Bits the shard's own table does not use for buckets (low bits) or
        // tags (top 7), so keys within a shard still spread over both.
        &self.shards[(hash >> 32) as usize & (self.shards.len() - 1)].0
    }
}

impl<V> Shard<V> {
    fn find(&self, hash: u64, key: &str) -> Option<usize> {
        let entries = &self.entries;
        self.index
            .find(hash, |&i| entries[i as usize].0 == key)
            .map(|&i| i as usize)
    }

    /// Appends an entry; returns its position.
    fn push(
        &mut self,
        hash: u64,
        key: CompactString,
        value: V,
        hasher: &ahash::RandomState,
    ) -> usize {
        let at = self.entries.len();
        self.entries.push((key, value));
        let entries = &self.entries;
        self.index.insert_unique(hash, at as u32, |&i| {
            hasher.hash_one(entries[i as usize].0.as_str())
        });
        at
    }

    /// Removes the entry at `at` (whose key hashes to `hash`); the last
    /// entry takes its place.
    fn remove_at(
        &mut self,
        at: usize,
        hash: u64,
        hasher: &ahash::RandomState,
    ) -> (CompactString, V) {
        if let Ok(slot) = self.index.find_entry(hash, |&i| i as usize == at) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        if at != last {
            let moved = hasher.hash_one(self.entries[last].0.as_str());
            if let Some(i) = self.index.find_mut(moved, |&i| i as usize == last) {
                *i = at as u32;
            }
        }
        self.entries.swap_remove(at)
    }
}

#[cfg(test)]
#[path = "shards_tests.rs"]
mod tests;

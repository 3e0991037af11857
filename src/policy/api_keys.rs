//! API keys as the rules know them: a key's SHA-256 ([`KeyHash`]), whom it
//! belongs to ([`KeyOwner`]), and the keys added through the admin API
//! ([`LiveKeys`]). Keys are kept only as hashes; no key, and no hash, is
//! ever shown by `Debug`, so neither reaches a log.

use std::fmt;

use compact_str::CompactString;
use dashmap::DashMap;
use sha2::{Digest, Sha256};

/// How a hash is written.
pub const HASH_PREFIX: &str = "sha256:";
/// Most keys the admin API adds.
pub const MAX_LIVE_KEYS: usize = 100_000;
/// Most keys a node holds whatever the log says: above [`MAX_LIVE_KEYS`], so
/// records the admin API acknowledged are never refused when read back (by
/// a node that applied them in another order, or from a compacted log);
/// only records written past the admin API can reach it.
pub const MAX_HELD_KEYS: usize = 2 * MAX_LIVE_KEYS;

/// The SHA-256 of a key (ordered by its bytes, for listings).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of `key`.
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Parses `sha256:<64 hex digits>` (either case).
    pub fn parse(text: &str) -> Result<Self, KeyHashError> {
        let hex = text
            .strip_prefix(HASH_PREFIX)
            .ok_or(KeyHashError::NoPrefix)?;
        let digits = || KeyHashError::Digits(hex.len());
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(digits());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| digits())?;
        }
        Ok(Self(out))
    }
}

/// What a key hash must look like.
const HASH_HINT: &str = "must be \"sha256:\" then 64 hex digits (see `hash_key`)";

/// Why a key hash does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyHashError {
    /// It does not start with `sha256:`.
    #[error("does not start with \"{HASH_PREFIX}\": {HASH_HINT}")]
    NoPrefix,
    /// Not 64 hex digits after the prefix (this many characters).
    #[error("{HASH_HINT}; found {0} characters after it")]
    Digits(usize),
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(HASH_PREFIX)?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// The string to store for `key`: `sha256:` and the lowercase hex of its SHA-256.
pub fn hash_key(key: &str) -> String {
    KeyHash::of(key).to_string()
}

/// Whom a key belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyOwner {
    /// The user the key identifies.
    pub user: CompactString,
    /// The user's plan, if the key says.
    pub plan: Option<CompactString>,
}

/// The keys added through the admin API, by hash.
#[derive(Default)]
pub(super) struct LiveKeys {
    by_hash: DashMap<KeyHash, KeyOwner, ahash::RandomState>,
}

impl LiveKeys {
    pub(super) fn get(&self, hash: &KeyHash) -> Option<KeyOwner> {
        self.by_hash.get(hash).map(|owner| owner.clone())
    }

    /// Whether `hash` may be added by the admin API: known already, or
    /// fewer than [`MAX_LIVE_KEYS`] are held.
    pub(super) fn has_room_for(&self, hash: &KeyHash) -> bool {
        self.by_hash.len() < MAX_LIVE_KEYS || self.by_hash.contains_key(hash)
    }

    /// Adds or changes a key; `false` (and nothing changes) once
    /// [`MAX_HELD_KEYS`] are held.
    pub(super) fn insert(&self, hash: KeyHash, owner: KeyOwner) -> bool {
        if self.by_hash.len() >= MAX_HELD_KEYS && !self.by_hash.contains_key(&hash) {
            return false;
        }
        self.by_hash.insert(hash, owner);
        true
    }

    pub(super) fn remove(&self, hash: &KeyHash) {
        self.by_hash.remove(hash);
    }

    /// The first `max` keys by hash after `after` (of `user`, if given), and
    /// whether more follow. One pass keeping the `max` smallest: no copy of
    /// the whole table, however large.
    pub(super) fn list(
        &self,
        user: Option<&str>,
        after: Option<&KeyHash>,
        max: usize,
    ) -> (Vec<(KeyHash, KeyOwner)>, bool) {
        let mut smallest = std::collections::BinaryHeap::with_capacity(max + 1);
        let mut more = false;
        for entry in self.by_hash.iter() {
            let (hash, owner) = (entry.key(), entry.value());
            if after.is_some_and(|a| hash <= a) || user.is_some_and(|u| owner.user != u) {
                continue;
            }
            if smallest.len() < max {
                smallest.push((*hash, owner.clone()));
            } else if smallest.peek().is_some_and(|(largest, _)| hash < largest) {
                smallest.pop();
                smallest.push((*hash, owner.clone()));
                more = true;
            } else {
                more = true;
            }
        }
        (smallest.into_sorted_vec(), more)
    }
}

#[cfg(test)]
#[path = "api_keys_tests.rs"]
mod tests;

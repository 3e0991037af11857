//! The gateway file's API keys: each maps to a user and optionally a plan.
//! Keys are kept only as SHA-256 hashes (`sha256:<64 hex>`, the policy's
//! [`KeyHash`]); a presented key is hashed and looked up. No key, and no
//! hash, is ever logged or shown by `Debug`.

use std::collections::HashMap;
use std::fmt;

pub use crate::policy::api_keys::{hash_key, KeyHash, KeyOwner, HASH_PREFIX};

/// Longest key accepted from a request, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The known keys, by hash.
#[derive(Clone, Default)]
pub struct ApiKeys {
    by_hash: HashMap<KeyHash, KeyOwner>,
}

impl ApiKeys {
    /// Adds a key; `Err` gives back the owner if the hash is already known.
    pub fn insert(&mut self, hash: KeyHash, owner: KeyOwner) -> Result<(), KeyOwner> {
        match self.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => Err(owner),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(owner);
                Ok(())
            }
        }
    }

    /// The owner of the key whose hash is `hash`, if known.
    pub fn lookup(&self, hash: &KeyHash) -> Option<&KeyOwner> {
        self.by_hash.get(hash)
    }

    /// Whether the key whose hash is `hash` is in the file.
    pub fn contains(&self, hash: &KeyHash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// How many keys are known.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeys({} keys)", self.by_hash.len())
    }
}

#[cfg(test)]
#[path = "api_keys_tests.rs"]
mod tests;

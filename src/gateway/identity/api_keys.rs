//! API keys: each maps to a user and optionally a plan. Keys are kept only as
//! SHA-256 hashes (`sha256:<64 hex>`); a presented key is hashed and looked
//! up. No key, and no hash, is ever logged or shown by `Debug`.

use std::collections::HashMap;
use std::fmt;

use compact_str::CompactString;
use sha2::{Digest, Sha256};

/// How a stored hash starts.
pub const HASH_PREFIX: &str = "sha256:";
/// Longest key accepted from a request, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The SHA-256 of a key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// The hash of `key`.
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    /// Parses `sha256:<64 hex digits>` (either case).
    pub fn parse(text: &str) -> Result<Self, String> {
        let hint = "must be \"sha256:\" then 64 hex digits (see `hash_key`)";
        let hex = text
            .strip_prefix(HASH_PREFIX)
            .ok_or_else(|| format!("does not start with \"{HASH_PREFIX}\": {hint}"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{hint}; found {} characters after it", hex.len()));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(Self(out))
    }
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

/// The string to store for `key` in the configuration:
/// `sha256:` and the lowercase hex of its SHA-256.
pub fn hash_key(key: &str) -> String {
    KeyHash::of(key).to_string()
}

/// Whom a key belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    /// The user the key identifies.
    pub user: CompactString,
    /// The user's plan, if the key says.
    pub plan: Option<CompactString>,
}

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

    /// The owner of the presented `key`, if known.
    pub fn lookup(&self, key: &str) -> Option<&KeyOwner> {
        self.by_hash.get(&KeyHash::of(key))
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

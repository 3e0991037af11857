//! What this node holds of the policy log: the latest record of every key
//! it applied, with its version, and whether the log it reads (the config
//! topic) still holds that version. Records are taken last-writer-wins by
//! version, so a node can put its records back into a log that lost them
//! (a Kafka rebuilt empty, a restart from `--data-dir`) in any order, beside
//! new changes, and every node ends with the newest change of every key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::codec::{decode, Version};
use super::journal::Journal;
use super::LogError;
use crate::policy::{Policy, PolicyChange};

/// The latest record of a key this node applied.
struct Entry {
    version: Version,
    /// The record's value, as it is put back into a log.
    value: Vec<u8>,
    /// Whether it forgets the key's change (kept for its version).
    cleared: bool,
    /// The log being read holds this version (or a newer one) of the key.
    in_log: bool,
}

/// What became of a record offered to the ledger.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// Newer than what this node held: applied.
    Applied(PolicyChange),
    /// The version this node already holds.
    Held,
    /// Older than what this node holds: ignored (its own record is newer).
    Stale,
}

/// Where a taken record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The log being read (the config topic): it holds the record.
    Log,
    /// This node's own commit: stored (and synced) in its journal first.
    Commit,
    /// Read back from this node's journal at start: the log may not hold it.
    Journal,
}

/// The records this node applied, by key.
pub struct Ledger {
    policy: Arc<Policy>,
    /// Tie-breaker of this node's versions.
    me: u64,
    /// The greatest `at` issued or seen: versions this node issues exceed it.
    clock: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
    /// Entries the log does not hold (so a pass over them can be skipped).
    unlogged: AtomicUsize,
    /// The `--data-dir` copy, if any (attached once what it held is applied).
    journal: OnceLock<Journal>,
}

impl Ledger {
    /// An empty ledger applying to `policy`, versions tied-broken by `node_id`.
    pub fn new(policy: Arc<Policy>, node_id: &str) -> Self {
        Self {
            policy,
            me: crate::limiter::node_key(node_id),
            clock: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            unlogged: AtomicUsize::new(0),
            journal: OnceLock::new(),
        }
    }

    /// The policy it applies to.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// A version for a change made now: later than the wall clock `now_ns`
    /// and than every version this node has seen, so it wins over them.
    pub fn next_version(&self, now_ns: u64) -> Version {
        let mut last = self.clock.load(Ordering::Relaxed);
        loop {
            let at = now_ns.max(last.saturating_add(1));
            match self
                .clock
                .compare_exchange_weak(last, at, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Version { at, by: self.me },
                Err(seen) => last = seen,
            }
        }
    }

    /// Takes record `key` → `value` (`None`: a pre-version tombstone): applies
    /// it if it is at least as new as what this node holds. An error says
    /// why nothing changed (it does not decode, or the policy refuses it).
    pub fn take(&self, key: &str, value: Option<&[u8]>, source: Source) -> Result<Taken, LogError> {
        let (change, version) = decode(key, value)?;
        self.clock.fetch_max(version.at, Ordering::AcqRel);
        let mut entries = self.entries.lock();
        if let Some(held) = entries.get_mut(key) {
            // Version zero is the log's order (records from before versions).
            let same = held.version == version && version != Version::default();
            if held.version > version || same {
                // The log's latest record of the key is now this one: ours is
                // in it only if it is the same (a stale one must be covered again).
                if source == Source::Log && held.in_log != same {
                    held.in_log = same;
                    match same {
                        true => self.unlogged.fetch_sub(1, Ordering::Relaxed),
                        false => self.unlogged.fetch_add(1, Ordering::Relaxed),
                    };
                }
                return Ok(if same { Taken::Held } else { Taken::Stale });
            }
        }
        // A value is kept even for a pre-version tombstone, to put back as is.
        let stored = match value {
            Some(value) => value.to_vec(),
            None => super::codec::encode(&change, version).1,
        };
        if let Some(journal) = self.journal.get() {
            match source {
                // Durable before it is acknowledged.
                Source::Commit => journal.append(key, &stored, true)?,
                // A copy: the log has it; a failed write is logged, not fatal.
                Source::Log => {
                    if let Err(error) = journal.append(key, &stored, false) {
                        tracing::error!(%error, "cannot keep a config change in --data-dir");
                    }
                }
                Source::Journal => {}
            }
        }
        self.policy.apply(&change)?;
        let in_log = source == Source::Log;
        let entry = Entry {
            version,
            value: stored,
            cleared: is_clear(&change),
            in_log,
        };
        let was_unlogged = entries
            .insert(key.to_string(), entry)
            .is_some_and(|e| !e.in_log);
        match (was_unlogged, in_log) {
            (true, true) => drop(self.unlogged.fetch_sub(1, Ordering::Relaxed)),
            (false, false) => drop(self.unlogged.fetch_add(1, Ordering::Relaxed)),
            _ => {}
        }
        Ok(Taken::Applied(change))
    }

    /// The log being read is a new one (it was lost and re-created): none of
    /// this node's records is known to be in it any more.
    pub fn forget_log(&self) {
        let mut entries = self.entries.lock();
        for entry in entries.values_mut() {
            entry.in_log = false;
        }
        self.unlogged.store(entries.len(), Ordering::Relaxed);
    }

    /// The records the log does not hold (key, value), to put back in it.
    pub fn unlogged(&self) -> Vec<(String, Vec<u8>)> {
        if self.unlogged.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let entries = self.entries.lock();
        entries
            .iter()
            .filter(|(_, e)| !e.in_log)
            .map(|(k, e)| (k.clone(), e.value.clone()))
            .collect()
    }

    /// How many records this node holds.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record held (key, value, cleared), for rewriting a journal.
    pub(super) fn records(&self) -> Vec<(String, Vec<u8>, bool)> {
        let entries = self.entries.lock();
        let mut records: Vec<_> = entries
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone(), e.cleared))
            .collect();
        records.sort_by(|a, b| a.0.cmp(&b.0));
        records
    }

    /// Keeps every record taken from now on in `journal` too.
    pub(super) fn attach(&self, journal: Journal) {
        let _ = self.journal.set(journal);
    }

    /// The journal, if this node keeps one.
    pub fn journal(&self) -> Option<&Journal> {
        self.journal.get()
    }
}

fn is_clear(change: &PolicyChange) -> bool {
    matches!(
        change,
        PolicyChange::ClearPlan { .. }
            | PolicyChange::ClearUserPlan { .. }
            | PolicyChange::ClearRuleLimit { .. }
            | PolicyChange::ClearApiKey { .. }
    )
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;

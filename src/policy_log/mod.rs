//! Where live rule changes are made durable before they are acknowledged:
//! the port every adapter implements, the record format they share
//! ([`codec`]), what a node holds of the log ([`ledger`]: the latest record
//! of each key, last-writer-wins by version), its `--data-dir` copy
//! ([`journal`]), and the file adapter for a node without Kafka ([`file`]).
//! The Kafka adapter (the `rate-limit-config` topic) lives in
//! `replication::policy_topic`; the composition root (`node`) picks one.
//!
//! Every log holds records `key → value`, and the record of a key with the
//! greatest version is the one in effect, so a topic can be compacted, a
//! file rewritten to its latest records, and records put back into a log
//! that lost them without undoing newer changes.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use crate::policy::{ApplyError, Policy, PolicyChange};
use crate::telemetry::Telemetry;

pub mod codec;
pub mod file;
pub mod journal;
pub mod ledger;

pub use file::FileLog;
pub use journal::Journal;
pub use ledger::{Ledger, Source, Taken};

/// A commit under way: `Ok` once the change is durable and applied on this
/// node; an error means nothing changed (as far as this node knows).
pub type Commit<'a> = Pin<Box<dyn Future<Output = Result<(), LogError>> + 'a>>;

/// Why a change was not committed, or a record not taken: nothing changed
/// (as far as this node knows).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The record does not decode: a key or value this node cannot read.
    #[error(transparent)]
    Undecodable(#[from] codec::DecodeError),
    /// The policy refused the change.
    #[error(transparent)]
    Refused(#[from] ApplyError),
    /// The `--data-dir` journal could not store it.
    #[error(transparent)]
    Journal(#[from] journal::WriteError),
    /// The log did not confirm it stored the change (Kafka's words). It may
    /// still arrive: a broker that was slow, not gone, may take it late.
    #[error("kafka did not take the change: {0}")]
    NotStored(String),
    /// The thread writing the change stopped before it said.
    #[error("the writer stopped: {0}")]
    WriterStopped(String),
}

/// Where this node commits admin changes.
pub trait PolicyLog: Send + Sync {
    /// Makes `change` durable and applies it on this node.
    fn commit(&self, change: PolicyChange) -> Commit<'_>;
}

/// What a node's ledger keeps of cleared keys in its `--data-dir` copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cleared {
    /// Dropped when the file is rewritten (a standalone node is the only
    /// writer: nothing older can come back).
    Drop,
    /// Kept with their versions, so an older record put back by a peer
    /// cannot undo them.
    Keep,
}

/// The ledger of node `node_id` over `policy`: with `data_dir`, the records
/// stored there are applied first (a line that does not parse or apply is
/// counted and logged) and the file is rewritten to the latest of each key
/// and kept from then on.
pub fn open_ledger(
    policy: Arc<Policy>,
    node_id: &str,
    data_dir: Option<&Path>,
    cleared: Cleared,
    telemetry: &Telemetry,
) -> std::io::Result<Arc<Ledger>> {
    let ledger = Ledger::new(policy, node_id);
    let Some(dir) = data_dir else {
        return Ok(Arc::new(ledger));
    };
    let file = dir.join(journal::FILE_NAME);
    for (n, line) in Journal::read(dir)? {
        let taken = line
            .map_err(LogError::from)
            .and_then(|(key, value)| ledger.take(&key, value.as_deref(), Source::Journal));
        if let Err(error) = taken {
            // Not kept either: the file says what this node holds.
            telemetry.config_decode_error();
            tracing::warn!(file = %file.display(), line = n, %error, "skipping a stored config change");
        }
    }
    let records: Vec<(String, Vec<u8>)> = ledger
        .records()
        .into_iter()
        .filter(|(_, _, is_clear)| cleared == Cleared::Keep || !is_clear)
        .map(|(key, value, _)| (key, value))
        .collect();
    if !records.is_empty() {
        tracing::info!(file = %file.display(), changes = records.len(), "applied stored config changes");
    }
    ledger.attach(Journal::rewrite(dir, &records)?);
    Ok(Arc::new(ledger))
}

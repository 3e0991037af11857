//! Where live rule changes are made durable before they are acknowledged:
//! the port every adapter implements, the record format they share
//! ([`codec`]), and the file adapter for a node without Kafka ([`file`]). The
//! Kafka adapter (the `rate-limit-config` topic) lives in
//! `replication::policy_topic`; the composition root (`node`) picks one.
//!
//! Every log holds records `key → value`, and the latest record of a key is
//! the one in effect, so a topic can be compacted and a file rewritten to
//! its latest records.

use std::future::Future;
use std::pin::Pin;

use crate::policy::PolicyChange;

pub mod codec;
pub mod file;

pub use file::FileLog;

/// A commit under way: `Ok` once the change is durable and applied on this
/// node; an error means nothing changed (as far as this node knows).
pub type Commit<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

/// Where this node commits admin changes.
pub trait PolicyLog: Send + Sync {
    /// Makes `change` durable and applies it on this node.
    fn commit(&self, change: PolicyChange) -> Commit<'_>;
}

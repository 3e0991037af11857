//! The standalone policy log: the node's `--data-dir` journal is the log
//! itself — a change is appended and synced there before it is applied and
//! acknowledged.

use std::sync::Arc;

use super::ledger::{Ledger, Source};
use super::{Commit, LogError, PolicyLog};
use crate::clock::Clock;
use crate::policy::PolicyChange;
use crate::telemetry::Telemetry;

/// The standalone log, over a ledger opened with a journal.
pub struct FileLog {
    ledger: Arc<Ledger>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
}

impl FileLog {
    /// Commits through `ledger`, whose journal must be attached (see [`super::open_ledger`]).
    pub fn new(ledger: Arc<Ledger>, clock: Arc<dyn Clock>, telemetry: Arc<Telemetry>) -> Self {
        debug_assert!(ledger.journal().is_some(), "a file log needs a journal");
        Self {
            ledger,
            clock,
            telemetry,
        }
    }

    /// Stores and applies `change` (on the blocking thread that writes the file).
    fn commit_now(&self, change: &PolicyChange) -> Result<(), LogError> {
        let version = self.ledger.next_version(self.clock.now().as_unix_nanos());
        let (key, value) = super::codec::encode(change, version);
        self.ledger.take(&key, Some(&value), Source::Commit)?;
        self.telemetry.config_applied("admin");
        Ok(())
    }
}

impl PolicyLog for FileLog {
    fn commit(&self, change: PolicyChange) -> Commit<'_> {
        let log = Self {
            ledger: Arc::clone(&self.ledger),
            clock: Arc::clone(&self.clock),
            telemetry: Arc::clone(&self.telemetry),
        };
        // The write is synced to disk: off the async threads.
        Box::pin(async move {
            tokio::task::spawn_blocking(move || log.commit_now(&change))
                .await
                .map_err(|e| LogError::WriterStopped(e.to_string()))?
        })
    }
}

//! The standalone policy log: a file under `--data-dir`, one JSON line per
//! change, appended and synced before the change is acknowledged.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::{Commit, PolicyLog};
use crate::policy::{Policy, PolicyChange};
use crate::telemetry::Telemetry;

/// The standalone log: one JSON line per change, appended and synced before
/// the change is acknowledged; rewritten to the latest line of each key at start.
pub struct FileLog(Arc<Journal>);

/// The file itself, shared with the blocking thread that writes it.
struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    policy: Arc<Policy>,
    telemetry: Arc<Telemetry>,
}

/// A line of the file.
#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    value: Option<serde_json::Value>,
}

impl FileLog {
    /// Opens (creating) `dir/config-changes.jsonl`, applies every change in it
    /// to `policy`, and rewrites it compacted. A line that does not decode
    /// (a torn last write) is skipped, counted and logged.
    pub fn open(
        dir: &Path,
        policy: Arc<Policy>,
        telemetry: Arc<Telemetry>,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("config-changes.jsonl");
        let mut latest = BTreeMap::new();
        if let Ok(file) = File::open(&path) {
            for (n, line) in BufReader::new(file).lines().enumerate() {
                let line = line?;
                match serde_json::from_str::<Line>(&line)
                    .map_err(|e| e.to_string())
                    .and_then(|l| {
                        let value = l.value.as_ref().map(|v| v.to_string());
                        decode(&l.key, value.as_deref().map(str::as_bytes)).map(|c| (l, c))
                    }) {
                    Ok((line, change)) => match policy.apply(&change) {
                        Ok(()) => {
                            latest.insert(line.key.clone(), line);
                        }
                        Err(error) => {
                            // Not kept either: the file says what this node holds.
                            telemetry.config_decode_error();
                            tracing::warn!(file = %path.display(), line = n + 1, %error, "skipping a config change");
                        }
                    },
                    Err(error) => {
                        telemetry.config_decode_error();
                        tracing::warn!(file = %path.display(), line = n + 1, %error, "skipping a config change that does not decode");
                    }
                }
            }
        }
        let mut text = String::new();
        // A forgotten key's tombstone replays as nothing: it is left out, so
        // revoked API keys do not grow the file for ever.
        for line in latest.values().filter(|line| line.value.is_some()) {
            text.push_str(&serde_json::to_string(line).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        // Rewritten whole into a temporary file beside it, synced, then renamed
        // over it (`tempfile`): a crash leaves the old file or the new one.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        File::open(dir)?.sync_all()?;
        if !latest.is_empty() {
            tracing::info!(file = %path.display(), changes = latest.len(), "applied stored config changes");
        }
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Self(Arc::new(Journal {
            path,
            file: Mutex::new(file),
            policy,
            telemetry,
        })))
    }
}

impl PolicyLog for FileLog {
    fn commit(&self, change: PolicyChange) -> Commit<'_> {
        let journal = Arc::clone(&self.0);
        // The write is synced to disk: off the async threads.
        Box::pin(async move {
            tokio::task::spawn_blocking(move || journal.commit(&change))
                .await
                .map_err(|e| format!("the writer stopped: {e}"))?
        })
    }
}

impl Journal {
    /// Appends and syncs `change`, then applies it.
    pub fn commit(&self, change: &PolicyChange) -> Result<(), String> {
        let (key, value) = encode(change);
        let value = value
            .map(|v| serde_json::from_slice::<serde_json::Value>(&v))
            .transpose()
            .map_err(|e| e.to_string())?;
        let mut line = serde_json::to_string(&Line { key, value }).map_err(|e| e.to_string())?;
        line.push('\n');
        let mut file = self.file.lock();
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| {
                tracing::error!(file = %self.path.display(), error = %e, "cannot store a config change");
                format!("cannot write {}: {e}", self.path.display())
            })?;
        self.policy.apply(change)?;
        self.telemetry.config_applied("admin");
        Ok(())
    }
}

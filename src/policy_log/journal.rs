//! The `--data-dir` copy of the policy log: `config-changes.jsonl`, one JSON
//! line per record, appended as records are applied and rewritten to the
//! latest record of each key at start (through a temporary file, so a crash
//! leaves the old file or the new one).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::codec::DecodeError;

/// The file's name under `--data-dir`.
pub const FILE_NAME: &str = "config-changes.jsonl";

/// A line of the file: a record's key and value (`null`: a pre-version tombstone).
#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    value: Option<serde_json::Value>,
}

/// The open file, appended to.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

/// A line read back: its number, and the record or why it does not parse.
pub type ReadLine = (usize, Result<(String, Option<Vec<u8>>), DecodeError>);

/// A record the journal could not store.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {source}", path.display())]
pub struct WriteError {
    /// The journal's file.
    pub path: PathBuf,
    /// What the file system said.
    #[source]
    pub source: std::io::Error,
}

impl Journal {
    /// Reads `dir/config-changes.jsonl` (creating `dir`), returning its
    /// records in order; a line that does not parse (a torn last write) is
    /// returned as an error for the caller to count.
    pub fn read(dir: &Path) -> std::io::Result<Vec<ReadLine>> {
        std::fs::create_dir_all(dir)?;
        let Ok(file) = File::open(dir.join(FILE_NAME)) else {
            return Ok(Vec::new());
        };
        let mut lines = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let parsed = serde_json::from_str::<Line>(&line?)
                .map_err(|e| DecodeError(e.to_string()))
                .map(|l| (l.key, l.value.map(|v| v.to_string().into_bytes())));
            lines.push((n + 1, parsed));
        }
        Ok(lines)
    }

    /// Replaces the file with `records` (key, value) and opens it for appending.
    pub fn rewrite(dir: &Path, records: &[(String, Vec<u8>)]) -> std::io::Result<Self> {
        let path = dir.join(FILE_NAME);
        let mut text = String::new();
        for (key, value) in records {
            text.push_str(&line(key, value)?);
        }
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        File::open(dir)?.sync_all()?;
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Self {
            path,
            file: Mutex::new(file),
        })
    }

    /// Appends a record; with `sync`, on disk before it returns.
    pub fn append(&self, key: &str, value: &[u8], sync: bool) -> Result<(), WriteError> {
        let written = line(key, value).and_then(|text| {
            let mut file = self.file.lock();
            file.write_all(text.as_bytes())
                .and_then(|()| if sync { file.sync_data() } else { Ok(()) })
        });
        written.map_err(|source| {
            tracing::error!(file = %self.path.display(), error = %source, "cannot store a config change");
            WriteError {
                path: self.path.clone(),
                source,
            }
        })
    }

    /// Puts what was appended on disk.
    pub fn sync(&self) -> std::io::Result<()> {
        self.file.lock().sync_data()
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn line(key: &str, value: &[u8]) -> std::io::Result<String> {
    let value =
        serde_json::from_slice::<serde_json::Value>(value).map_err(std::io::Error::other)?;
    let mut text = serde_json::to_string(&Line {
        key: key.to_string(),
        value: Some(value),
    })
    .map_err(std::io::Error::other)?;
    text.push('\n');
    Ok(text)
}

//! The files a node is configured from (rules, gateway, descriptor files):
//! read with a bound on their size, at start and on every reload alike, and
//! fingerprinted so that a change on disk is noticed, Kubernetes' ConfigMap
//! update (a new directory, then the `..data` symlink swapped) included.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

/// Largest configuration file read; a larger one is refused, at start as on
/// a reload, so a runaway file cannot take the node's memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 << 20;

/// The whole of `path` as text, if it holds at most [`MAX_CONFIG_FILE_BYTES`]
/// (else an `InvalidData` error saying so).
pub fn read_text(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_CONFIG_FILE_BYTES} bytes"),
        ));
    }
    Ok(text)
}

/// The first line of a secret's file (bounded like any file here): a
/// trailing newline is not part of the secret.
pub fn first_line(path: &Path) -> std::io::Result<String> {
    let text = read_text(path)?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// What one file resolved to (symlinks followed): its device and inode, so
/// a swapped `..data` link counts as a change even when the new file has the
/// old one's size and modification time; `None` while it cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
    modified: Option<SystemTime>,
    size: u64,
}

/// What a set of files looks like, cheaply (metadata only): a change means
/// their content is worth reading again.
pub type Stamp = Vec<(PathBuf, Option<FileId>)>;

/// The content of a set of files, to tell a real change from a touch (or
/// from a ConfigMap update that changed another key).
pub type Digest = [u8; 32];

/// The stamp of `files` now.
pub fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|file| {
            // `metadata` follows symlinks: the target's identity is stamped.
            let id = std::fs::metadata(file).ok().map(|meta| FileId {
                dev: meta.dev(),
                ino: meta.ino(),
                modified: meta.modified().ok(),
                size: meta.len(),
            });
            (file.clone(), id)
        })
        .collect()
}

/// The digest of `files`' names and contents (each read with the bound of
/// [`read_text`]; a file that cannot be read counts by its error).
pub fn digest(files: &[PathBuf]) -> Digest {
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.as_os_str().as_encoded_bytes());
        hash.update([0]);
        match read_text(file) {
            Ok(text) => {
                hash.update((text.len() as u64).to_le_bytes());
                hash.update(text.as_bytes());
            }
            Err(error) => {
                hash.update(b"unreadable: ");
                hash.update(error.to_string().as_bytes());
            }
        }
        hash.update([0]);
    }
    hash.finalize().into()
}

#[cfg(test)]
#[path = "config_files_tests.rs"]
mod tests;

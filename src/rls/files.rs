//! The envoyproxy/ratelimit YAML files the service's limits come from: one
//! file, or every `.yaml`/`.yml` file of a directory (as envoyproxy/ratelimit
//! reads its runtime directory), read and validated, and listed for the
//! watcher that notices a change.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::policy::algorithm::AlgorithmDefaults;
use crate::policy::descriptors::yaml::{self, DescriptorError, LoadOptions};
use crate::policy::descriptors::DescriptorSet;

/// The descriptor files and what they held when read.
#[derive(Clone, Debug)]
pub struct DescriptorSource {
    /// A file or a directory (read again on SIGHUP and when it changes).
    pub path: PathBuf,
    /// How they are read: a domain in several files (`--rls-merge-domains`),
    /// every limit in quota mode (`--rls-quota-mode`).
    pub options: LoadOptions,
    /// The limits they held.
    pub set: Arc<DescriptorSet>,
}

/// Why the descriptor files were not taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorFilesError {
    /// A file or the directory could not be read.
    #[error("{0}")]
    Unreadable(String),
    /// They were read, and refused.
    #[error(transparent)]
    Invalid(#[from] DescriptorError),
}

/// Reads and validates the descriptor files at `path` as `options` say (a
/// domain in several files merged in file-name order).
pub fn load_descriptors(
    path: &Path,
    options: LoadOptions,
    defaults: AlgorithmDefaults,
) -> Result<DescriptorSet, DescriptorFilesError> {
    let mut texts = Vec::new();
    for file in files(path).map_err(DescriptorFilesError::Unreadable)? {
        let text = crate::config_files::read_text(&file).map_err(|e| {
            DescriptorFilesError::Unreadable(format!("cannot read {}: {e}", file.display()))
        })?;
        texts.push((file.display().to_string(), text));
    }
    let texts = texts
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()));
    let set = yaml::parse_with(texts, options, defaults)?;
    Ok(set)
}

/// The files read from `path` as it is now (`path` itself, or a directory's
/// `.yaml` and `.yml` files), for watching; none while the directory cannot
/// be read.
pub fn descriptor_files(path: &Path) -> Vec<PathBuf> {
    files(path).unwrap_or_default()
}

/// `path` itself, or a directory's `.yaml` and `.yml` files in name order.
fn files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries =
        std::fs::read_dir(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|file| {
            file.is_file()
                && file
                    .extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    Ok(files)
}

//! Watching the rules, gateway and descriptor files: every `--config-poll-ms`
//! each file's stamp (device, inode, modification time and size of what its
//! path resolves to, so a swapped ConfigMap `..data` link counts) is compared
//! with the last; a changed file is read, and reloaded unless its content is
//! what was read last. SIGHUP reloads every file. One task does both, so two
//! reloads never race to apply an older read last, and none runs on the
//! request path.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

use actix_web::rt::task::JoinHandle;

use super::reload::Reloader;
use crate::config_files::{digest, stamp, Digest, Stamp};
use crate::rls::files::descriptor_files;
use crate::settings::Config;
use crate::telemetry::ConfigFile;

/// One watched file (or descriptor directory) and how it was last seen.
pub(super) struct Watched {
    file: ConfigFile,
    path: PathBuf,
    stamp: Stamp,
    digest: Digest,
}

impl Watched {
    /// `path` as it is now (blocking: reads it).
    fn new(file: ConfigFile, path: PathBuf) -> Self {
        let files = files(file, &path);
        Self {
            file,
            stamp: stamp(&files),
            digest: digest(&files),
            path,
        }
    }

    /// Looks at the file, and reloads it if it changed (or if `asked`).
    async fn check(&mut self, reloader: &mut Reloader, asked: bool) {
        let (file, path, seen) = (self.file, self.path.clone(), self.stamp.clone());
        let looked = actix_web::rt::task::spawn_blocking(move || {
            let files = files(file, &path);
            let now = stamp(&files);
            // Stamped before reading: a write during the read is seen next time.
            (asked || now != seen).then(|| (now, digest(&files)))
        })
        .await;
        let Ok(Some((stamp, digest))) = looked else {
            return;
        };
        self.stamp = stamp;
        if !asked && digest == self.digest {
            reloader.unchanged(self.file, &self.path);
        } else {
            // A refused content is not read again until it changes.
            self.digest = digest;
            reloader.reload(self.file, &self.path).await;
        }
    }
}

/// The files `path` stands for: itself, or a descriptor directory's files.
fn files(file: ConfigFile, path: &Path) -> Vec<PathBuf> {
    match file {
        ConfigFile::Rls => descriptor_files(path),
        ConfigFile::Rules | ConfigFile::Gateway => vec![path.to_path_buf()],
    }
}

/// The files of `config` to watch, as they are now (blocking: call before
/// the node is built, so a change while it starts is seen). A change between
/// the settings' own read and this look (the milliseconds of start-up) is
/// taken as already applied: it shows at the next change or `SIGHUP`.
pub(super) fn watched(config: &Config) -> Vec<Watched> {
    let rules = config.rules.as_ref().map(|r| (ConfigFile::Rules, &*r.path));
    let rls = config
        .descriptors
        .as_ref()
        .map(|d| (ConfigFile::Rls, &*d.path));
    let gateway = config.gateway.as_ref().and_then(|g| g.source());
    let gateway = gateway.map(|path| (ConfigFile::Gateway, path));
    [rules, rls, gateway]
        .into_iter()
        .flatten()
        .map(|(file, path)| Watched::new(file, path.to_path_buf()))
        .collect()
}

/// Starts the task keeping the configuration files (see the module). SIGHUP
/// is listened for from now on, if there is a file to reload: otherwise it
/// keeps its default meaning.
pub(super) fn spawn(
    watched: Vec<Watched>,
    reloader: Reloader,
    poll: Option<Duration>,
) -> JoinHandle<()> {
    let hangups = (!watched.is_empty()).then(hangups).flatten();
    actix_web::rt::spawn(keep_config(watched, reloader, hangups, poll))
}

/// SIGHUP, listened for from now on (so one sent as soon as the node serves
/// is not lost); `None` if it cannot be (logged).
fn hangups() -> Option<Signal> {
    match signal(SignalKind::hangup()) {
        Ok(hangups) => Some(hangups),
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; configuration files reload only when they change");
            None
        }
    }
}

/// Reloads `watched` when they change (every `poll`; `None`: never) and
/// all of them on SIGHUP; runs until aborted (keeping the gateway's JWKS
/// refresher, which `reloader` holds, running).
async fn keep_config(
    mut watched: Vec<Watched>,
    mut reloader: Reloader,
    mut hangups: Option<Signal>,
    poll: Option<Duration>,
) {
    let mut tick = poll.map(|poll| {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    while !watched.is_empty() {
        let asked = tokio::select! {
            Some(_) = async { Some(tick.as_mut()?.tick().await) } => false,
            Some(()) = async { hangups.as_mut()?.recv().await } => true,
            else => break,
        };
        for watched in &mut watched {
            watched.check(&mut reloader, asked).await;
        }
    }
    // Nothing more to watch; the JWKS refresher runs on until this task is dropped.
    std::future::pending().await
}

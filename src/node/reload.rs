//! Reloads while the node runs: the rules, gateway and descriptor files (when
//! they change on disk, see `watch.rs`, and on SIGHUP) and the token files
//! (on SIGHUP). A valid file replaces what it configures; an invalid one is
//! refused and logged naming the file and the problem, and what is in effect
//! stays.

use std::path::Path;
use std::sync::Arc;

use super::Parts;
use crate::gateway::identity::jwks::Jwks;
use crate::gateway::live::{KeysAfterReload, LiveGateway};
use crate::policy::algorithm::AlgorithmDefaults;
use crate::policy::descriptors::yaml::LoadOptions;
use crate::policy::Policy;
use crate::rls::files::load_descriptors;
use crate::settings::{load_rules, Config, Secret};
use crate::telemetry::{ConfigFile, ReloadOutcome, Telemetry};

/// Starts the task reading the token files again on SIGHUP, when a token
/// comes from a file (otherwise SIGHUP keeps its meaning for them).
pub(super) fn spawn_secret_reloads(config: &Config) {
    let secrets: Vec<Secret> = [&config.admin_token, &config.http.decision_token]
        .into_iter()
        .flatten()
        .filter(|secret| secret.file_setting().is_some())
        .cloned()
        .collect();
    if !secrets.is_empty() {
        actix_web::rt::spawn(reload_secrets_on_hangup(secrets));
    }
}

/// Reads the token files again on every SIGHUP, so rotating a token needs no
/// restart (the clones every check holds share the new value).
async fn reload_secrets_on_hangup(secrets: Vec<Secret>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; token files will not be read again");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        for secret in &secrets {
            let file = secret.file_setting().unwrap_or_default();
            match secret.reload() {
                Ok(()) => tracing::info!(setting = file, "token file read again"),
                Err(error) => tracing::error!(
                    setting = error.setting,
                    reason = %error.reason,
                    "token file refused; the token in effect stays"
                ),
            }
        }
    }
}

/// A task that is stopped when this is dropped.
struct AbortOnDrop(actix_web::rt::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a reload of each configuration file replaces, and the task keeping
/// the gateway's JWKS fresh (replaced when a reload brings a new source).
pub(super) struct Reloader {
    policy: Arc<Policy>,
    telemetry: Arc<Telemetry>,
    gateway: Option<Arc<LiveGateway>>,
    refresher: Option<AbortOnDrop>,
    /// How the descriptor files are read (`--rls-merge-domains`, `--rls-quota-mode`).
    descriptors: LoadOptions,
    /// The algorithm and zone of limits that name none (`--rls-algorithm`, `--time-zone`).
    algorithms: AlgorithmDefaults,
}

impl Reloader {
    /// Starts refreshing `gateway`'s JWKS, if it has one.
    pub(super) fn new(
        parts: &Parts,
        gateway: Option<Arc<LiveGateway>>,
        descriptors: LoadOptions,
        algorithms: AlgorithmDefaults,
    ) -> Self {
        let refresher = gateway.as_ref().and_then(|g| refresh(g.peek().jwks()));
        Self {
            policy: Arc::clone(&parts.policy),
            telemetry: Arc::clone(&parts.telemetry),
            gateway,
            refresher,
            descriptors,
            algorithms,
        }
    }

    /// Reads `file` at `path` again: applied if valid, else refused (logged
    /// naming the file and the problem) with what is in effect kept. Counted.
    pub(super) async fn reload(&mut self, file: ConfigFile, path: &Path) -> ReloadOutcome {
        let read = match file {
            ConfigFile::Rules => {
                let policy = &self.policy;
                let zone = self.algorithms.time_zone;
                let load = move |path: &Path| load_rules(path, zone);
                read(path, load, |rules| policy.replace_file(rules)).await
            }
            ConfigFile::Rls => {
                let policy = &self.policy;
                let apply = |set| policy.replace_descriptors(Arc::new(set));
                let (options, defaults) = (self.descriptors, self.algorithms);
                let load = move |path: &Path| load_descriptors(path, options, defaults);
                read(path, load, apply).await
            }
            ConfigFile::Gateway => self.reload_gateway().await,
        };
        let (what, path) = (file.label(), path.display());
        let outcome = match read {
            Ok(()) => {
                tracing::info!(file = what, path = %path, "reloaded the {what} file");
                ReloadOutcome::Applied
            }
            Err(error) => {
                tracing::error!(
                    file = what,
                    path = %path,
                    %error,
                    "refused the reloaded {what} file; what is in effect stays"
                );
                ReloadOutcome::Refused
            }
        };
        self.telemetry.config_reload(file, outcome);
        outcome
    }

    /// Counts a file that changed on disk to the content read last.
    pub(super) fn unchanged(&self, file: ConfigFile, path: &Path) {
        let what = file.label();
        tracing::info!(
            file = what,
            path = %path.display(),
            "the {what} file changed on disk to what was read last; nothing to reload"
        );
        self.telemetry.config_reload(file, ReloadOutcome::Unchanged);
    }

    async fn reload_gateway(&mut self) -> Result<(), String> {
        let Some(live) = &self.gateway else {
            return Err("no gateway runs on this node".into());
        };
        let keys = live.reload().await.map_err(|e| e.to_string())?;
        if let KeysAfterReload::Replaced(jwks) = keys {
            // The old refresher stops as it is dropped.
            self.refresher = refresh(jwks);
        }
        Ok(())
    }
}

/// A task refreshing `jwks`, if any.
fn refresh(jwks: Option<Arc<Jwks>>) -> Option<AbortOnDrop> {
    jwks.map(|j| AbortOnDrop(actix_web::rt::spawn(j.run())))
}

/// Reads `path` with `load` off the actix thread and applies a valid result;
/// the error (as text, for the log) otherwise.
async fn read<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    path: &Path,
    load: impl FnOnce(&Path) -> Result<T, E> + Send + 'static,
    apply: impl FnOnce(T),
) -> Result<(), String> {
    let owned = path.to_path_buf();
    match actix_web::rt::task::spawn_blocking(move || load(&owned)).await {
        Ok(Ok(loaded)) => {
            apply(loaded);
            Ok(())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(error) => Err(format!("the read stopped: {error}")),
    }
}

//! Reloads while the node runs: the rules and descriptor files on SIGHUP (and
//! the descriptor files when they change), the gateway file and the token
//! files on SIGHUP. A valid file replaces what it configures; an invalid one
//! is refused and logged, and what is in effect stays.

use std::sync::Arc;

use tokio::sync::Notify;

use super::Parts;
use crate::gateway::identity::jwks::Jwks;
use crate::gateway::live::{KeysAfterReload, LiveGateway};
use crate::policy::Policy;
use crate::rls::files::{descriptor_stamp, load_descriptors, DescriptorSource};
use crate::settings::{load_rules, Config, RulesSource, Secret};
use crate::telemetry::Telemetry;

/// Reloads of the rules and descriptor files: on SIGHUP, and when the descriptor files change.
/// One task reloads the descriptor files, on a change or when SIGHUP asks
/// it to, so two reloads never race to apply an older read last.
pub(super) fn spawn_reloads(config: &Config, parts: &Parts) {
    let hangup = Arc::new(Notify::new());
    actix_web::rt::spawn(reload_on_hangup(
        config.rules.clone(),
        config.descriptors.as_ref().map(|_| Arc::clone(&hangup)),
        Arc::clone(&parts.policy),
        Arc::clone(&parts.telemetry),
    ));
    let secrets: Vec<Secret> = [&config.admin_token, &config.http.decision_token]
        .into_iter()
        .flatten()
        .filter(|secret| secret.file_setting().is_some())
        .cloned()
        .collect();
    if !secrets.is_empty() {
        actix_web::rt::spawn(reload_secrets_on_hangup(secrets));
    }
    if let Some(source) = config.descriptors.clone() {
        actix_web::rt::spawn(watch_descriptors(
            source,
            hangup,
            Arc::clone(&parts.policy),
            Arc::clone(&parts.telemetry),
        ));
    }
}

/// Reads the rules file and the descriptor files again on every SIGHUP: a
/// valid file replaces what it configures (live changes stay on top); an
/// invalid one is refused and logged, and what is in effect stays.
async fn reload_on_hangup(
    rules: Option<RulesSource>,
    descriptors: Option<Arc<Notify>>,
    policy: Arc<Policy>,
    telemetry: Arc<Telemetry>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    if rules.is_none() && descriptors.is_none() {
        return;
    }
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; the rules file will not be reloaded");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        if let Some(source) = &rules {
            reload_rules(source, &policy, &telemetry).await;
        }
        if let Some(descriptors) = &descriptors {
            descriptors.notify_one();
        }
    }
}

/// Reads the token files again on every SIGHUP, so rotating a token needs no
/// restart (the clones every check holds share the new value). Listens only
/// when a token comes from a file: otherwise SIGHUP keeps its meaning.
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

async fn reload_rules(source: &RulesSource, policy: &Policy, telemetry: &Telemetry) {
    let apply = |rules| policy.replace_file(rules);
    if let Some(applied) = reload("rules file", &source.path, load_rules, apply).await {
        telemetry.rules_reload(applied);
    }
}

async fn reload_descriptors(source: &DescriptorSource, policy: &Policy, telemetry: &Telemetry) {
    let apply = |set| policy.replace_descriptors(Arc::new(set));
    let domains = source.domains;
    let load = move |path: &std::path::Path| load_descriptors(path, domains);
    if let Some(applied) = reload("descriptor files", &source.path, load, apply).await {
        telemetry.rls_config_reload(applied);
    }
}

/// Reads `path` again with `load`, off the actix thread: a valid result is
/// applied, an invalid one refused and logged (what is in effect stays).
/// Whether it applied; `None` if the read did not finish.
async fn reload<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    what: &'static str,
    path: &std::path::Path,
    load: impl FnOnce(&std::path::Path) -> Result<T, E> + Send + 'static,
    apply: impl FnOnce(T),
) -> Option<bool> {
    let owned = path.to_path_buf();
    match actix_web::rt::task::spawn_blocking(move || load(&owned)).await {
        Ok(Ok(loaded)) => {
            apply(loaded);
            tracing::info!(path = %path.display(), "reloaded the {what}");
            Some(true)
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "refused the reloaded {what}; what is in effect stays");
            Some(false)
        }
        Err(error) => {
            tracing::error!(%error, "the reload of the {what} stopped");
            None
        }
    }
}

/// Reloads the descriptor files when they change (as envoyproxy/ratelimit
/// watches its runtime directory), checking every second.
async fn watch_descriptors(
    source: DescriptorSource,
    hangup: Arc<Notify>,
    policy: Arc<Policy>,
    telemetry: Arc<Telemetry>,
) {
    let stamp = |path: std::path::PathBuf| {
        actix_web::rt::task::spawn_blocking(move || descriptor_stamp(&path))
    };
    let mut seen = source.stamp.clone();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let asked = tokio::select! {
            _ = tick.tick() => false,
            () = hangup.notified() => true,
        };
        let Ok(now) = stamp(source.path.clone()).await else {
            return;
        };
        if asked || now != seen {
            // Stamped before reading: a write during the read is seen next time.
            seen = now;
            reload_descriptors(&source, &policy, &telemetry).await;
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

/// Keeps the gateway's JWKS fresh (one task per JWKS source) and reloads the
/// gateway file on every SIGHUP; runs until aborted.
pub(super) async fn keep_gateway(live: Arc<LiveGateway>, telemetry: Arc<Telemetry>) {
    use tokio::signal::unix::{signal, SignalKind};
    let refresh =
        |jwks: Option<Arc<Jwks>>| jwks.map(|j| AbortOnDrop(actix_web::rt::spawn(j.run())));
    let mut refresher = refresh(live.peek().jwks());
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP; the gateway file will not be reloaded");
            // The refresher still runs, for as long as this task does.
            return std::future::pending().await;
        }
    };
    while hangups.recv().await.is_some() {
        match live.reload().await {
            Ok(keys) => {
                if let KeysAfterReload::Replaced(jwks) = keys {
                    // The old refresher stops as it is dropped.
                    refresher = refresh(jwks);
                }
                tracing::info!("reloaded the gateway file");
                telemetry.gateway_reload(true);
            }
            Err(error) => {
                tracing::error!(%error, "refused the reloaded gateway file; what is in effect stays");
                telemetry.gateway_reload(false);
            }
        }
    }
    drop(refresher);
}

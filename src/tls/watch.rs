//! Reloads of the listeners' TLS files: when what a file resolves to changes
//! (device, inode, modification time or size: cert-manager and the like
//! rewrite them in place or swap a symlink), checked every [`POLL`], and on
//! SIGHUP. A refused reload is
//! logged and counted, and the certificate in use stays.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::ListenerTls;
use crate::config_files::stamp;
use crate::telemetry::Telemetry;

/// How often the files are looked at.
pub const POLL: Duration = Duration::from_secs(2);

/// Watches `tls`'s files until the task is dropped (see the module).
pub async fn watch(tls: Arc<ListenerTls>, telemetry: Arc<Telemetry>) {
    use tokio::signal::unix::{signal, SignalKind};
    let files = tls.files();
    let paths: Vec<PathBuf> = [
        Some(&files.cert),
        Some(&files.key),
        files.client_ca.as_ref(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    // Without SIGHUP the files are still polled.
    let mut hangups = signal(SignalKind::hangup()).ok();
    let mut seen = stamp(&paths);
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let asked = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { hangups.as_mut()?.recv().await } => true,
        };
        let now = stamp(&paths);
        if asked || now != seen {
            // Stamped before reading: a write during the read is seen next time.
            seen = now;
            reload(&tls, &telemetry);
        }
    }
}

fn reload(tls: &ListenerTls, telemetry: &Telemetry) {
    match tls.reload() {
        Ok(()) => {
            tracing::info!(listener = tls.listener, "reloaded the TLS certificate");
            telemetry.tls_reload(tls.listener, true);
        }
        Err(error) => {
            tracing::error!(
                listener = tls.listener,
                setting = error.setting,
                %error,
                "refused the reloaded TLS files; the certificate in use stays"
            );
            telemetry.tls_reload(tls.listener, false);
        }
    }
}

//! The `crdt-limiter` binary: parse settings, set up logging, serve until SIGTERM or SIGINT.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use crdt_limiter::clock::SystemClock;
use crdt_limiter::settings::{Config, LoadError, LogFormat};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

fn main() -> ExitCode {
    let config = match Config::load_from(std::env::args_os()) {
        Ok(config) => config,
        Err(LoadError::Cli(e)) => {
            // --help and --version print and exit 0; a malformed flag exits 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
        Err(LoadError::Invalid(e)) => {
            eprintln!("crdt-limiter: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = match EnvFilter::try_new(&config.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("crdt-limiter: invalid setting `log` (--log / LIMITER_LOG): {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(log_layer(config.log_format))
        .init();

    let listener = match std::net::TcpListener::bind(config.listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "crdt-limiter: cannot listen on {} (--listen / LIMITER_LISTEN): {e}",
                config.listen
            );
            return ExitCode::from(1);
        }
    };
    let clock = match config.clock_start {
        Some(start) => {
            tracing::warn!(
                start_ns = start.as_unix_nanos(),
                "the clock starts at --clock-start, not the wall clock: for tests and drills only"
            );
            SystemClock::starting_at(start)
        }
        None => SystemClock::new(),
    };
    let served = actix_web::rt::System::new().block_on(crdt_limiter::run(
        listener,
        config,
        Arc::new(clock),
        shutdown_signal(),
    ));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::from(1)
        }
    }
}

/// The layer writing log lines to stdout in `format`: text (coloured on a
/// terminal) or one JSON object per line (`timestamp`, `level`, `target`,
/// `fields` with `message`, and the spans the line was logged in).
fn log_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let layer = tracing_subscriber::fmt::layer();
    match format {
        LogFormat::Text => layer.with_ansi(std::io::stdout().is_terminal()).boxed(),
        LogFormat::Json => layer.json().with_ansi(false).boxed(),
    }
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops the node");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

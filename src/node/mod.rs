//! The composition root: builds a node from its settings — store, policy,
//! replication or the file log, the HTTP server — runs it until shutdown, and
//! does the periodic work beside it (housekeeping; reloads in `reload.rs`,
//! watching the configuration files in `watch.rs`).

use std::future::Future;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_web::{middleware, web, App};

use crate::clock::Clock;
use crate::gateway::live::LiveGateway;
use crate::http_api::server::connection::Limits;
use crate::http_api::server::ServerSettings;
use crate::http_api::wire::tokens::DecisionAccess;
use crate::http_api::{self, Admin, AppState};
use crate::limiter::{node_key, Store};
use crate::policy::descriptors::yaml::LoadOptions;
use crate::policy::{Policy, RuleSet};
use crate::policy_log::{open_ledger, Cleared, FileLog, Ledger, PolicyLog};
use crate::replication::Replication;
use crate::rls::RlsServer;
use crate::settings::Config;
use crate::telemetry::traces::Traces;
use crate::telemetry::Telemetry;
use crate::tls::{Alpn, ListenerTls};
use reload::{spawn_secret_reloads, Reloader};

mod grpc;
mod reload;
mod watch;

/// The parts of a running node that outlive start-up.
struct Parts {
    store: Arc<Store>,
    policy: Arc<Policy>,
    telemetry: Arc<Telemetry>,
    ready: Arc<AtomicBool>,
    replication: Option<Replication>,
    admin: Option<Admin>,
    traces: Option<Arc<Traces>>,
}

/// Runs a node on `listener` until `shutdown` completes, then stops accepting,
/// lets requests in flight finish, and returns. Must run inside an actix system
/// (`actix_web::rt::System`).
pub async fn run(
    listener: TcpListener,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + 'static,
) -> std::io::Result<()> {
    let [http_tls, grpc_tls] = listener_tls(&config)?;
    let watched = watch::watched(&config);
    let mut parts = build(&config, &clock)?;
    spawn_secret_reloads(&config);
    let gateway = config
        .gateway
        .clone()
        .map(|g| Arc::new(LiveGateway::new(g)));
    let state = app_state(&config, &mut parts, &clock, gateway.clone());
    let rls = grpc::start_rls(&config, &parts, &clock, grpc_tls.clone())?;
    let addr = listener.local_addr()?;
    let settings = server_settings(&config, &parts, http_tls.clone());
    let server = http_api::server::serve(listener, settings, move || {
        let app = App::new().app_data(state.clone());
        // Each worker its own client: its own pool of upstream connections.
        let app = match &state.gateway {
            Some(gateway) => app.app_data(web::Data::new(
                http_api::gateway::forward::Clients::new(gateway.peek().upstream_tls()),
            )),
            None => app,
        };
        app.wrap(middleware::from_fn(http_api::record_request))
            .configure(http_api::routes)
    })?;
    let handle = server.handle();
    let stop_rls = rls.as_ref().map(RlsServer::stopper);
    actix_web::rt::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        // Both servers drain at once, so the node stops within one grace period.
        if let Some(stop_rls) = stop_rls {
            stop_rls();
        }
        handle.stop(true).await;
    });
    let mut periodic = Vec::from(spawn_periodic(&config, &parts, clock));
    let descriptors = descriptor_options(&config);
    let reloader = Reloader::new(&parts, gateway, descriptors, config.algorithms);
    periodic.push(watch::spawn(watched, reloader, config.config_poll));
    periodic.extend(watch_tls([http_tls, grpc_tls], &parts.telemetry));
    log_serving(&config, addr);
    let result = server.await;
    periodic.iter().for_each(|task| task.abort());
    if let Some(rls) = rls {
        let _ = actix_web::rt::task::spawn_blocking(move || rls.stop()).await;
    }
    if let Some(replication) = parts.replication {
        // After the last request: publish what changed so peers and restarts see it.
        let _ = actix_web::rt::task::spawn_blocking(move || replication.shutdown()).await;
    }
    result
}

/// How the descriptor files are read, for their reloads.
fn descriptor_options(config: &Config) -> LoadOptions {
    config
        .descriptors
        .as_ref()
        .map(|d| d.options)
        .unwrap_or_default()
}

/// TLS of the HTTP and gRPC listeners, each `None` when plaintext; a
/// handshake has as long as a request head.
fn listener_tls(config: &Config) -> std::io::Result<[Option<Arc<ListenerTls>>; 2]> {
    let load = |listener, files: &Option<crate::tls::TlsFiles>, alpn| {
        files
            .clone()
            .map(|files| ListenerTls::load(listener, files, alpn, config.http.head_timeout))
            .transpose()
            .map_err(|e| std::io::Error::other(format!("--{}: {e}", e.setting)))
    };
    Ok([
        load("http", &config.tls.http, Alpn::Http1)?,
        load("grpc", &config.tls.grpc, Alpn::H2)?,
    ])
}

/// A task per TLS listener reloading its files when they change.
fn watch_tls(
    tls: [Option<Arc<ListenerTls>>; 2],
    telemetry: &Arc<Telemetry>,
) -> impl Iterator<Item = actix_web::rt::task::JoinHandle<()>> + '_ {
    tls.into_iter()
        .flatten()
        .map(|tls| actix_web::rt::spawn(crate::tls::watch::watch(tls, Arc::clone(telemetry))))
}

/// The HTTP server's workers and the bounds on what clients owe.
fn server_settings(
    config: &Config,
    parts: &Parts,
    tls: Option<Arc<ListenerTls>>,
) -> ServerSettings {
    let http = &config.http;
    ServerSettings {
        workers: config.workers.get(),
        limits: Arc::new(Limits::new(
            http.max_connections.get(),
            http.head_timeout,
            config.forward_auth_user_header.clone(),
            Arc::clone(&parts.telemetry),
        )),
        max_connections: http.max_connections.get(),
        head_timeout: http.head_timeout,
        shutdown_timeout: 10,
        tls,
    }
}

/// What every request handler shares (the admin API moves into it).
fn app_state(
    config: &Config,
    parts: &mut Parts,
    clock: &Arc<dyn Clock>,
    gateway: Option<Arc<LiveGateway>>,
) -> web::Data<AppState> {
    let gateway_mode = gateway.is_some();
    web::Data::new(AppState {
        store: Arc::clone(&parts.store),
        policy: Arc::clone(&parts.policy),
        clock: Arc::clone(clock),
        telemetry: Arc::clone(&parts.telemetry),
        ready: Arc::clone(&parts.ready),
        admin: parts.admin.take(),
        forward_auth_user_header: config.forward_auth_user_header.clone(),
        cluster: parts.replication.as_ref().map(Replication::cluster),
        refusals: Default::default(),
        gateway,
        node_id: config.node_id.clone(),
        decision: DecisionAccess::new(config.http.decision_token.clone(), gateway_mode),
        body_timeout: config.http.body_timeout,
        traces: parts.traces.clone(),
    })
}

fn log_serving(config: &Config, addr: std::net::SocketAddr) {
    match &config.rules {
        Some(source) => tracing::info!(%addr, rules = %source.path.display(), "serving"),
        None => {
            tracing::info!(%addr, capacity = config.limit.capacity(), interval = ?config.limit.interval(), "serving")
        }
    }
}

/// The store, the rules, replication (which bootstraps in the background) or
/// the file log, and the admin API if it has a token and a log.
fn build(config: &Config, clock: &Arc<dyn Clock>) -> std::io::Result<Parts> {
    let store = Arc::new(store(config, clock));
    let telemetry = Arc::new(Telemetry::new());
    let traces = config.traces.as_ref().map(|t| Traces::start(t, &telemetry));
    let traces = traces.transpose().map_err(std::io::Error::other)?;
    let policy = policy(config);
    // With --data-dir, the changes stored there are applied before serving;
    // a Kafka node keeps its copy to put back into a config topic that lost them.
    let (node_id, cleared) = match &config.replication {
        Some(r) => (r.node_id.as_str(), Cleared::Keep),
        None => ("standalone", Cleared::Drop),
    };
    let ledger = open_ledger(
        Arc::clone(&policy),
        node_id,
        config.data_dir.as_deref(),
        cleared,
        &telemetry,
    )?;
    let ready = Arc::new(AtomicBool::new(false));
    let replication = match &config.replication {
        Some(settings) => Some(
            Replication::start(
                settings.clone(),
                Arc::clone(&store),
                Arc::clone(&ledger),
                Arc::clone(clock),
                Arc::clone(&telemetry),
                Arc::clone(&ready),
            )
            .map_err(std::io::Error::other)?,
        ),
        // Standalone: this node's own buckets are the whole truth, so it is ready at once.
        None => {
            ready.store(true, Ordering::Release);
            None
        }
    };
    let log = policy_log(config, replication.as_ref(), ledger, clock, &telemetry);
    let admin = match (config.admin_token.clone(), log) {
        (Some(token), Some(log)) => Some(Admin::new(token, log, config.algorithms.time_zone)),
        _ => None,
    };
    Ok(Parts {
        store,
        policy,
        telemetry,
        ready,
        replication,
        admin,
        traces: traces.map(Arc::new),
    })
}

/// The buckets: replicated (and quiet as configured) with Kafka.
fn store(config: &Config, clock: &Arc<dyn Clock>) -> Store {
    match &config.replication {
        // Keyed by ID and start, so a restart under the same ID never reuses
        // the counter entries of its previous life.
        Some(r) => Store::replicated(
            config.limit,
            config.max_keys,
            r.merge,
            node_key(&format!("{}@{}", r.node_id, clock.now().as_unix_nanos())),
        )
        .with_quiet(r.quiet),
        None => Store::new(config.limit, config.max_keys),
    }
}

/// Where admin changes are committed: the config topic, or with no Kafka
/// the `--data-dir` file; none without either.
fn policy_log(
    config: &Config,
    replication: Option<&Replication>,
    ledger: Arc<Ledger>,
    clock: &Arc<dyn Clock>,
    telemetry: &Arc<Telemetry>,
) -> Option<Arc<dyn PolicyLog>> {
    match (replication, &config.data_dir) {
        (Some(replication), _) => Some(replication.policy_topic()),
        (None, Some(_)) => Some(Arc::new(FileLog::new(
            ledger,
            Arc::clone(clock),
            Arc::clone(telemetry),
        ))),
        (None, None) => None,
    }
}

/// The rules file (or the one per-user limit) and the descriptor files.
fn policy(config: &Config) -> Arc<Policy> {
    let policy = Policy::new(match &config.rules {
        Some(source) => source.rules.clone(),
        None => RuleSet::single(config.limit),
    })
    .with_shadow_all(config.shadow);
    if let Some(source) = &config.descriptors {
        policy.replace_descriptors(Arc::clone(&source.set));
    }
    Arc::new(policy)
}

/// The periodic work beside the server: housekeeping and the per-rule sampler.
fn spawn_periodic(
    config: &Config,
    parts: &Parts,
    clock: Arc<dyn Clock>,
) -> [actix_web::rt::task::JoinHandle<()>; 2] {
    [
        actix_web::rt::spawn(housekeeping(
            Arc::clone(&parts.store),
            clock,
            Arc::clone(&parts.telemetry),
            config.sweep_interval,
        )),
        actix_web::rt::spawn(sample_rules(
            Arc::clone(&parts.policy),
            Arc::clone(&parts.telemetry),
        )),
    ]
}

/// Once a second, every rule's decisions so far into the status page's
/// last-minute series. Seconds of a monotonic clock, not the node's clock
/// (which may be stepped, or moved by hand in tests).
async fn sample_rules(policy: Arc<Policy>, telemetry: Arc<Telemetry>) {
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        telemetry.sample_rules(&policy.rules(), start.elapsed().as_secs());
    }
}

/// Periodic work off the request path: dropping full buckets and folding metric samples.
async fn housekeeping(
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        clock.resync();
        // On a blocking thread: sweeping a big store takes milliseconds, which
        // would hold up everything else on this (the actix system) thread.
        let (swept, now) = (Arc::clone(&store), clock.now());
        let dropped = match actix_web::rt::task::spawn_blocking(move || swept.sweep(now)).await {
            Ok(dropped) => dropped,
            Err(error) => {
                tracing::error!(%error, "the sweep of full buckets failed");
                0
            }
        };
        tracing::trace!(dropped, tracked = store.len(), "swept full buckets");
        telemetry.upkeep();
    }
}

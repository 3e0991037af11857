//! The Envoy Rate Limit Service v3 (`envoy.service.ratelimit.v3.RateLimitService`)
//! over gRPC, on its own port and its own runtime beside the HTTP server.
//!
//! Envoy's `envoy.filters.http.ratelimit` filter (and Istio, Contour, Gloo…)
//! call `ShouldRateLimit` with a domain and descriptors; the limits come from
//! envoyproxy/ratelimit's YAML files ([`crate::policy::descriptors`]) and are
//! ordinary buckets of this node's store, replicated like every other key.
//! The files are read (at start-up and on a reload) by [`files`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::RateLimitServiceServer;
use futures_util::FutureExt;
use tokio::sync::watch;
use tonic::transport::server::TcpIncoming;

use crate::tls::ListenerTls;

pub use response::{Answers, HeaderNames};
pub use service::{DecisionToken, Limiter};

pub mod files;
mod metadata;
mod response;
mod service;
mod tls;

/// A running rate-limit service; stopped by [`RlsServer::stop`].
pub struct RlsServer {
    addr: SocketAddr,
    stop: Arc<watch::Sender<bool>>,
    thread: JoinHandle<()>,
}

impl RlsServer {
    /// Serves `limiter` on `listener` with `workers` threads of its own,
    /// over `tls` if given.
    pub fn start(
        listener: std::net::TcpListener,
        limiter: Limiter,
        workers: usize,
        tls: Option<Arc<ListenerTls>>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let over_tls = tls.is_some();
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("rls")
            .enable_all()
            .build()?;
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("rls-server".into())
            .spawn(move || {
                runtime.block_on(serve(listener, limiter, tls, stopped));
                // Calls still running after the grace period are dropped.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        tracing::info!(grpc = %addr, tls = over_tls, "serving the Envoy rate-limit service");
        Ok(Self {
            addr,
            stop: Arc::new(stop),
            thread,
        })
    }

    /// Where it serves.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Something that starts the stop ([`RlsServer::stop`] then waits for it),
    /// for the task that sees the node's shutdown first.
    pub fn stopper(&self) -> impl FnOnce() + Send + 'static {
        let stop = Arc::clone(&self.stop);
        move || {
            let _ = stop.send(true);
        }
    }

    /// Stops accepting, lets calls in flight finish (for at most
    /// [`GRACE`]), and waits for the threads.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.thread.join();
    }
}

/// How long calls in flight may take to finish once the node stops. A
/// graceful HTTP/2 close waits for the client to answer a ping, and a client
/// that never does must not hold the node up.
pub const GRACE: Duration = Duration::from_secs(10);

async fn serve(
    listener: std::net::TcpListener,
    limiter: Limiter,
    tls: Option<Arc<ListenerTls>>,
    stopped: watch::Receiver<bool>,
) {
    let incoming = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => TcpIncoming::from(listener).with_nodelay(Some(true)),
        Err(error) => {
            tracing::error!(%error, "the rate-limit service cannot listen");
            return;
        }
    };
    let stop_signal = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let service = RateLimitServiceServer::new(limiter);
    let server = tonic::transport::Server::builder();
    let served = match tls {
        None => server
            .serve_with_incoming_shutdown(service, incoming, stop_signal(stopped.clone()))
            .boxed(),
        Some(tls) => server
            .serve_with_incoming_shutdown(
                service,
                tls::incoming(incoming, tls),
                stop_signal(stopped.clone()),
            )
            .boxed(),
    };
    let deadline = async {
        stop_signal(stopped).await;
        tokio::time::sleep(GRACE).await;
    };
    tokio::select! {
        served = served => {
            if let Err(error) = served {
                tracing::error!(%error, "the rate-limit service stopped");
            }
        }
        () = deadline => tracing::warn!("calls to the rate-limit service were still open at shutdown; closed"),
    }
}

/// The limiter of a node, for the service; with `token`, only callers
/// sending it (metadata `x-limiter-token`, or `authorization: Bearer`) are answered.
pub fn limiter(
    store: Arc<crate::limiter::Store>,
    policy: Arc<crate::policy::Policy>,
    clock: Arc<dyn crate::clock::Clock>,
    telemetry: Arc<crate::telemetry::Telemetry>,
    token: Option<Box<dyn DecisionToken>>,
    traces: Option<Arc<crate::telemetry::traces::Traces>>,
) -> Limiter {
    Limiter {
        store,
        policy,
        clock,
        metrics: crate::telemetry::RlsMetrics::new(telemetry),
        token,
        response_metadata: false,
        answers: Answers::default(),
        counting: Default::default(),
        traces,
    }
}

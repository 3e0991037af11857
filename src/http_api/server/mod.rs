//! The HTTP server of a node: actix-web's app over connections of our own
//! ([`Connection`](connection::Connection)), so the node caps its
//! connections, bounds every request head in time and answers the parser's
//! refusals as JSON. This is what
//! `actix_web::HttpServer::listen` builds, with our connection in place of
//! the bare TCP stream, which `HttpServer` offers no way to wrap.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{HttpService, KeepAlive, Protocol, Request, Response};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::dev::{AppConfig, Server, Service};
use actix_web::rt::net::TcpStream;

pub mod connection;
pub mod head_refusal;

use connection::{Connection, Limits};
use tokio_rustls::server::TlsStream;

use crate::tls::ListenerTls;

/// Connections past the cap a worker holds at once while it refuses them.
const REFUSED_AT_ONCE: usize = 1024;

/// How the server runs.
pub struct ServerSettings {
    /// Worker threads.
    pub workers: usize,
    /// The connection cap, head timeout and what explains a refusal.
    pub limits: Arc<Limits>,
    /// Most connections (the limits' cap).
    pub max_connections: usize,
    /// Time a client has to send a connection's first head.
    pub head_timeout: Duration,
    /// Seconds requests in flight have to finish once the server stops.
    pub shutdown_timeout: u64,
    /// HTTPS; `None`: plaintext.
    pub tls: Option<Arc<ListenerTls>>,
}

fn past_cap() -> DispatchError {
    DispatchError::Io(std::io::Error::other("past --max-connections"))
}

/// A TLS connection: its place under the cap first (so handshakes count
/// against it too; one past it is closed, as no plaintext answer can be
/// read by a TLS client), then the handshake, within the head timeout.
async fn accept_tls(
    limits: Arc<Limits>,
    tls: Arc<ListenerTls>,
    io: TcpStream,
) -> Result<
    (
        Connection<TlsStream<TcpStream>>,
        Protocol,
        Option<SocketAddr>,
    ),
    DispatchError,
> {
    let seat = limits.seat().ok_or_else(past_cap)?;
    let peer = io.peer_addr().ok();
    match tls.accept(io).await {
        Ok(stream) => Ok((Connection::new(stream, seat), Protocol::Http1, peer)),
        Err(error) => {
            tracing::debug!(%error, ?peer, "TLS handshake failed");
            Err(DispatchError::Io(error))
        }
    }
}

/// Listens with the HTTP service of one worker over the connections
/// `$accept` makes: a macro, as the service's type (generic over the
/// transport) cannot be named.
macro_rules! listen {
    ($builder:ident, $listener:ident, [$shutdown:ident, $head_timeout:ident, $addr:ident, $factory:ident], $accept:expr) => {
        $builder.listen("crdt-limiter-http", $listener, move || {
            let shutdown = $shutdown.clone();
            let http = HttpService::build()
                // As HttpServer does: idle kept-alive connections close at once on stop.
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .keep_alive(KeepAlive::default())
                .client_request_timeout($head_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr($addr)
                .finish(map_config(
                    $factory()
                        .into_factory()
                        .map_err(|err| err.into().error_response()),
                    move |_| AppConfig::default(),
                ));
            fn_service($accept).and_then(http)
        })?
    };
}

/// Serves the app `factory` makes (one per worker) on `listener`, until
/// the returned server is stopped.
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    settings: ServerSettings,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let builder = actix_server::Server::build()
        .workers(settings.workers)
        // Each worker's own bound is above ours, so ours binds first and a
        // connection past it is answered; past this one it waits in the backlog.
        .max_concurrent_connections(settings.max_connections.saturating_add(REFUSED_AT_ONCE))
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout);
    let shutdown = builder.graceful_shutdown_signal();
    let (limits, head_timeout) = (settings.limits, settings.head_timeout);
    let builder = match settings.tls {
        None => listen!(
            builder,
            listener,
            [shutdown, head_timeout, addr, factory],
            {
                let limits = Arc::clone(&limits);
                move |io: TcpStream| {
                    let admitted = limits.admit(io).map(|(c, peer)| (c, Protocol::Http1, peer));
                    std::future::ready(admitted.ok_or_else(past_cap))
                }
            }
        ),
        Some(tls) => listen!(
            builder,
            listener,
            [shutdown, head_timeout, addr, factory],
            {
                let (limits, tls) = (Arc::clone(&limits), Arc::clone(&tls));
                move |io: TcpStream| accept_tls(Arc::clone(&limits), Arc::clone(&tls), io)
            }
        ),
    };
    Ok(builder.run())
}

//! The rate-limit service over TLS: TCP connections accepted, each
//! handshake done in a task of its own (one slow client holds up no other),
//! and the TLS streams handed to tonic as its incoming connections.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

use crate::tls::ListenerTls;

/// Handshakes done and not yet taken by tonic.
const READY: usize = 64;

/// Handshakes in progress at once: each is bounded in time (the head
/// timeout), and this bounds how many a flood of connections can hold open.
const HANDSHAKES: usize = 1024;

/// The pause after a failed accept (too many open files, say), so the loop
/// waits for the condition to pass instead of spinning.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

/// A TLS connection as tonic takes one (it knows TLS streams only with its
/// own TLS feature, which would bring a second TLS stack).
pub(super) struct TlsConnection(TlsStream<TcpStream>);

impl Connected for TlsConnection {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.0.get_ref().0.connect_info()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

/// The TLS connections of `incoming`, for as long as the runtime runs.
pub(super) fn incoming(
    mut incoming: TcpIncoming,
    tls: Arc<ListenerTls>,
) -> impl Stream<Item = io::Result<TlsConnection>> {
    let (ready, taken) = mpsc::channel(READY);
    let handshakes = Arc::new(Semaphore::new(HANDSHAKES));
    tokio::spawn(async move {
        while let Some(accepted) = incoming.next().await {
            let Ok(tcp) = accepted else {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            };
            let Ok(seat) = Arc::clone(&handshakes).acquire_owned().await else {
                return;
            };
            let (tls, ready) = (Arc::clone(&tls), ready.clone());
            tokio::spawn(async move {
                let handshake = tls.accept(tcp).await;
                drop(seat);
                match handshake {
                    Ok(stream) => {
                        let _ = ready.send(Ok(TlsConnection(stream))).await;
                    }
                    Err(error) => {
                        tracing::debug!(%error, "TLS handshake on the gRPC listener failed")
                    }
                }
            });
        }
    });
    futures_util::stream::unfold(taken, |mut taken| async move {
        taken.recv().await.map(|connection| (connection, taken))
    })
}

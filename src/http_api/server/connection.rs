//! One client connection as the HTTP server reads and writes it. It counts
//! against `--max-connections` (one more is answered 503 and closed), every
//! request head on it has `--head-timeout-ms` (actix-http times only a
//! connection's first; a kept-alive connection could trickle the next head
//! for ever), and the parser's own empty-bodied refusals are answered as
//! the JSON error ([`head_refusal`](super::head_refusal)), which needs the
//! start of each request as read: the first [`WINDOW`] bytes are kept.
//!
//! A connection is generic over its transport ([`Transport`]): a plain TCP
//! stream, or TLS over one, so the plaintext server pays nothing for TLS.

use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::header::HeaderName;
use actix_web::rt::net::TcpStream;
use actix_web::rt::time::{sleep_until, Instant, Sleep};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::head_refusal::{answer, canned, date_of, explain, Canned, Explain};
use crate::http_api::wire::error::ApiError;
use crate::telemetry::{Refusal, Telemetry};

/// Bytes of a request's start kept to explain a refusal: a header past
/// them is refused as well, but not named.
pub const WINDOW: usize = 16 * 1024;

/// The interim answer to `Expect: 100-continue`: not the end of a request.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What every connection shares: the count of open ones and the settings.
pub struct Limits {
    open: AtomicUsize,
    max: usize,
    head_timeout: Duration,
    forward_auth_user: HeaderName,
    telemetry: Arc<Telemetry>,
}

impl Limits {
    /// At most `max` connections, each head within `head_timeout`.
    pub fn new(
        max: usize,
        head_timeout: Duration,
        forward_auth_user: HeaderName,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        Self {
            open: AtomicUsize::new(0),
            max,
            head_timeout,
            forward_auth_user,
            telemetry,
        }
    }

    /// A place under the cap, held until the [`Seat`] is dropped; `None`
    /// past the cap (counted as refused).
    pub fn seat(self: &Arc<Self>) -> Option<Seat> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.telemetry.http_refusal(Refusal::ConnectionCap);
            return None;
        }
        Some(Seat(Arc::clone(self)))
    }

    /// `io` as a connection, with its peer; `None` past the cap, when it is
    /// answered 503 (if its socket takes the answer at once) and closed.
    pub fn admit(self: &Arc<Self>, io: TcpStream) -> Option<(Connection, Option<SocketAddr>)> {
        let Some(seat) = self.seat() else {
            let busy = ApiError::TooManyConnections { max: self.max };
            // Best effort, never waiting: the point is to spend nothing on
            // it. Straight to the socket (tokio would wait for it to be
            // reported writable first); a fresh socket takes a small answer.
            if let Ok(mut socket) = io.into_std() {
                let _ = socket.write(&answer(&busy, None));
                let _ = socket.shutdown(std::net::Shutdown::Write);
            }
            return None;
        };
        let peer = io.peer_addr().ok();
        Some((Connection::new(io, seat), peer))
    }
}

/// A connection's place under `--max-connections`, given back when dropped.
pub struct Seat(Arc<Limits>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a connection is carried over.
pub trait Transport: AsyncRead + AsyncWrite + Unpin {
    /// Writes `bytes` if the transport takes them at once, never waiting:
    /// a last answer before the connection is closed.
    fn try_answer(&mut self, bytes: &[u8]);
}

impl Transport for TcpStream {
    fn try_answer(&mut self, bytes: &[u8]) {
        let _ = self.try_write(bytes);
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    /// Into the session and on to the socket as far as it takes it now; a
    /// no-op waker, as the connection ends right after and nothing waits.
    fn try_answer(&mut self, bytes: &[u8]) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if let Poll::Ready(Ok(_)) = Pin::new(&mut *self).poll_write(&mut cx, bytes) {
            let _ = Pin::new(self).poll_flush(&mut cx);
        }
    }
}

impl<IO: Transport> Connection<IO> {
    /// `io` as a connection holding `seat`.
    pub fn new(io: IO, seat: Seat) -> Self {
        Connection {
            io,
            seat,
            window: Vec::new(),
            phase: Phase::Between,
            first: true,
            timer: None,
            flushed: true,
            replacing: None,
        }
    }
}

/// Where the connection is in its current request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The next byte read starts a request.
    Between,
    /// Reading a head; `newline` is how far the bytes so far go into its
    /// end (`\n` then `\n`, or `\n\r\n`): 0, 1 after `\n`, 2 after `\n\r`.
    Head { newline: u8 },
    /// The head is in; a body may follow, then the answer.
    Rest,
}

/// A client connection (see the module).
pub struct Connection<IO = TcpStream> {
    io: IO,
    /// Its place under the cap, and the settings every connection shares.
    seat: Seat,
    /// The first [`WINDOW`] bytes of the request being read.
    window: Vec<u8>,
    phase: Phase,
    /// On the connection's first request, which actix-http times itself
    /// (with its 408, which goes out as JSON).
    first: bool,
    /// The head's deadline, made once and reset for each head.
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the last write took all it was given: nothing of an answer
    /// is waiting to go out, so one of ours cannot cut into it.
    flushed: bool,
    /// The JSON error going out in place of a canned refusal.
    replacing: Option<Replacement>,
}

struct Replacement {
    bytes: Vec<u8>,
    sent: usize,
    /// Bytes of the canned answer it stands for.
    replaces: usize,
}

impl<IO: Transport> Connection<IO> {
    /// Follows the request through `bytes`, just read.
    fn read(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Between {
            self.window.clear();
            self.phase = Phase::Head { newline: 0 };
            if !self.first {
                self.arm_timer();
            }
        }
        let Phase::Head { mut newline } = self.phase else {
            return;
        };
        let room = WINDOW.saturating_sub(self.window.len());
        self.window
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
        if head_ends(&mut newline, bytes) {
            self.phase = Phase::Rest;
            self.first = false;
        } else {
            self.phase = Phase::Head { newline };
        }
    }

    fn arm_timer(&mut self) {
        let deadline = Instant::now() + self.seat.0.head_timeout;
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(sleep_until(deadline))),
        }
    }

    /// While a head (not the first) is being read: past its deadline, a
    /// 408 if nothing else is on its way out, and the connection ends.
    fn poll_head_timer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let timing = matches!(self.phase, Phase::Head { .. }) && !self.first;
        let Some(timer) = self.timer.as_mut().filter(|_| timing) else {
            return Poll::Pending;
        };
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.seat.0.telemetry.http_refusal(Refusal::HeadTimeout);
        if self.flushed {
            let late = ApiError::HeadTimeout {
                timeout_ms: u64::try_from(self.seat.0.head_timeout.as_millis()).unwrap_or(u64::MAX),
            };
            self.io.try_answer(&answer(&late, None));
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the request head was not sent in time",
        )))
    }

    /// The JSON error for the canned answer `kind`, if the request as read
    /// shows the parser's refusal (and not an upstream's bare answer).
    fn replacement(&self, kind: Canned, date: &[u8]) -> Option<Vec<u8>> {
        let ctx = Explain {
            forward_auth_user: &self.seat.0.forward_auth_user,
            head_timeout: self.seat.0.head_timeout,
        };
        let error = explain(kind, &self.window, &ctx)?;
        let telemetry = &self.seat.0.telemetry;
        telemetry.http_refusal(match kind {
            Canned::Malformed => Refusal::MalformedHead,
            Canned::TooLarge => Refusal::HeadTooLarge,
            Canned::Timeout => Refusal::HeadTimeout,
        });
        if kind == Canned::Malformed {
            telemetry.bad_request(error.code());
        }
        Some(answer(&error, Some(date)))
    }

    /// Writes the replacement; done, it stands for all it replaces.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some(replacing) = &mut self.replacing {
            let rest = &replacing.bytes[replacing.sent..];
            if rest.is_empty() {
                let replaced = replacing.replaces;
                self.replacing = None;
                return Poll::Ready(Ok(replaced));
            }
            match Pin::new(&mut self.io).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => replacing.sent += n,
                other => return other,
            }
        }
        Poll::Ready(Ok(0))
    }

    /// Writes `buf` as it is; an answer ends the request being followed.
    fn poll_plain_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.flushed = matches!(written, Poll::Ready(Ok(n)) if n == buf.len());
        if self.phase == Phase::Rest && buf != CONTINUE {
            self.phase = Phase::Between;
        }
        written
    }
}

/// Whether a head ends in `bytes` (a blank line: `\n\n` or `\n\r\n`),
/// given how far into such an end the bytes before went (`newline`, see
/// [`Phase::Head`], brought up to date). Jumps from one `\n` to the next.
fn head_ends(newline: &mut u8, mut bytes: &[u8]) -> bool {
    loop {
        while *newline > 0 {
            match (bytes.first(), *newline) {
                (None, _) => return false,
                (Some(b'\n'), _) => return true,
                (Some(b'\r'), 1) => *newline = 2,
                _ => *newline = 0,
            }
            bytes = &bytes[1..];
        }
        match memchr::memchr(b'\n', bytes) {
            Some(at) => {
                *newline = 1;
                bytes = &bytes[at + 1..];
            }
            None => return false,
        }
    }
}

impl<IO: Transport> AsyncRead for Connection<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.read(&buf.filled()[before..]);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => this.poll_head_timer(cx),
            failed => failed,
        }
    }
}

impl<IO: Transport> AsyncWrite for Connection<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_some() {
            return this.poll_replacement(cx);
        }
        if let Some((start, kind)) = canned(buf) {
            if start > 0 {
                // What goes before it first: the caller comes back with the rest.
                return this.poll_plain_write(cx, &buf[..start]);
            }
            if let Some(bytes) = this.replacement(kind, date_of(buf)) {
                this.replacing = Some(Replacement {
                    bytes,
                    sent: 0,
                    replaces: buf.len(),
                });
                return this.poll_replacement(cx);
            }
        }
        this.poll_plain_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;

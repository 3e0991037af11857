//! Time in gateway forwarding, so that nothing a client or an upstream owes
//! holds a connection longer than its route allows: the client's body as
//! it streams upstream pauses at most `idle_timeout_ms` ([`UploadBody`],
//! [`watch`]), the upstream answers within `timeout_ms` of the request
//! being sent, and its answer streams back pausing at most
//! `idle_timeout_ms`, or the client's connection is cut ([`IdleBody`]).
//! Nothing bounds a body's whole time: a large one streams as long as it
//! moves.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::error::PayloadError;
use actix_web::rt::time::{sleep_until, Instant, Sleep};
use actix_web::web::{self, Bytes};
use futures_util::Stream;

use crate::gateway::Gateway;
use crate::telemetry::{Refusal, Telemetry};

/// How an upload goes, shared by its body and [`watch`].
pub(super) struct Upload {
    /// When the current wait began: for the upstream to take more (since
    /// the last piece moved, or the exchange began), or for the client to
    /// send more (since the body first found nothing to read). A wait is
    /// timed from its own start, so neither side is blamed for the other's.
    since: Cell<Instant>,
    /// Whether the body waits for the client (else for the upstream to take more).
    awaiting_client: Cell<bool>,
    /// When the request was all sent: the upstream's time to answer runs from then.
    sent: Cell<Option<Instant>>,
    /// Whether the body grew past the route's bound.
    pub too_large: Cell<bool>,
}

impl Upload {
    /// An exchange beginning now; without a body the request counts as sent.
    pub fn new(has_body: bool) -> Rc<Self> {
        let now = Instant::now();
        Rc::new(Self {
            since: Cell::new(now),
            awaiting_client: Cell::new(false),
            sent: Cell::new((!has_body).then_some(now)),
            too_large: Cell::new(false),
        })
    }
}

/// What ended the wait for an upstream's answer, other than the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stall {
    /// The client paused its body longer than the route's idle timeout.
    Client,
    /// The upstream took no more of the body for as long.
    Upstream,
    /// The request was sent and no answer came within the route's timeout.
    NoAnswer,
}

/// Resolves when the exchange stalls (see [`Stall`]); never, while it moves.
pub(super) async fn watch(upload: &Upload, idle: Duration, timeout: Duration) -> Stall {
    loop {
        let (deadline, stall) = match upload.sent.get() {
            Some(sent) => (sent + timeout, Stall::NoAnswer),
            None if upload.awaiting_client.get() => (upload.since.get() + idle, Stall::Client),
            None => (upload.since.get() + idle, Stall::Upstream),
        };
        if Instant::now() >= deadline {
            return stall;
        }
        // Woken at the deadline as it stood; it may have moved since.
        sleep_until(deadline).await;
    }
}

/// The client's body on its way upstream: cut off with an error (and
/// `too_large` set) past `max` bytes, counted as it streams, so a body
/// without a declared length is bounded too; its progress noted.
pub(super) struct UploadBody {
    payload: web::Payload,
    seen: u64,
    max: u64,
    upload: Rc<Upload>,
}

impl UploadBody {
    pub fn new(payload: web::Payload, max: u64, upload: Rc<Upload>) -> Self {
        Self {
            payload,
            seen: 0,
            max,
            upload,
        }
    }
}

impl Stream for UploadBody {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.payload).poll_next(cx);
        let upload = &this.upload;
        if polled.is_pending() != upload.awaiting_client.get() {
            upload.since.set(Instant::now());
            upload.awaiting_client.set(polled.is_pending());
        }
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                this.seen += chunk.len() as u64;
                if this.seen > this.max {
                    upload.too_large.set(true);
                    let error = actix_web::error::ErrorPayloadTooLarge("body too large");
                    return Poll::Ready(Some(Err(error)));
                }
                upload.since.set(Instant::now());
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                upload.sent.set(Some(Instant::now()));
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error.into()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An upstream's answer body on its way to the client, ended with an
/// error (which cuts the client's connection) when it pauses longer than
/// its route's idle timeout. The timer is made only if the body pauses.
pub(super) struct IdleBody<S> {
    inner: S,
    /// Since when the body has waited for the upstream (asked and found
    /// nothing), if it does: a client slow to read does not count.
    waiting: Option<Instant>,
    timer: Option<Pin<Box<Sleep>>>,
    gateway: Arc<Gateway>,
    route: usize,
    telemetry: Arc<Telemetry>,
}

impl<S> IdleBody<S> {
    /// `inner`, the answer of route `route` of `gateway`.
    pub fn new(inner: S, gateway: Arc<Gateway>, route: usize, telemetry: Arc<Telemetry>) -> Self {
        Self {
            inner,
            waiting: None,
            timer: None,
            gateway,
            route,
            telemetry,
        }
    }

    /// Whether the wait for the upstream has gone on too long.
    fn stalled(&mut self, cx: &mut Context<'_>) -> bool {
        let route = self.gateway.route(self.route);
        let since = *self.waiting.get_or_insert_with(Instant::now);
        let deadline = since + route.idle_timeout;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        if timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.telemetry.http_refusal(Refusal::UpstreamIdle);
        tracing::warn!(
            route = %route.name,
            idle_ms = route.idle_timeout.as_millis() as u64,
            "the upstream's answer paused past the route's idle timeout; the client's connection is cut"
        );
        true
    }
}

impl<S: Stream<Item = Result<Bytes, PayloadError>> + Unpin> Stream for IdleBody<S> {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending if this.stalled(cx) => {
                let error = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the upstream's answer paused too long",
                );
                Poll::Ready(Some(Err(PayloadError::Io(error))))
            }
            Poll::Pending => Poll::Pending,
            Poll::Ready(item) => {
                this.waiting = None;
                Poll::Ready(item)
            }
        }
    }
}

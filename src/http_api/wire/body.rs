//! The body of a JSON API request, read whole within bounds of size and
//! time: a declared length past the bound is refused unread (413), a body
//! that grows past it is cut off (413), and one not all sent within
//! `--body-timeout-ms` of its request is refused (408) and its connection
//! closed, so a client trickling bytes holds a connection for seconds, not
//! for ever. Both answers are the JSON error and are counted.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::http::StatusCode;
use actix_web::rt::time::{sleep_until, Instant, Sleep};
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures_util::Stream;

use super::error::ApiError;
use crate::http_api::AppState;
use crate::telemetry::Refusal;

/// Largest body of a JSON API request unless its resource says otherwise
/// (actix's own default for a body read whole).
pub const DEFAULT_MAX_BODY: usize = 256 * 1024;

/// The largest body a resource takes: its app data, when not [`DEFAULT_MAX_BODY`].
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// A request's whole body, read within its bounds.
pub struct JsonBody(pub Bytes);

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = ReadBody;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> ReadBody {
        let limit = req
            .app_data::<BodyLimit>()
            .map_or(DEFAULT_MAX_BODY, |l| l.0);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let timeout = state
            .as_ref()
            // Lazily: the default is made from the flags' declarations, and
            // only a handler without the node's state (a unit test) needs it.
            .map_or_else(
                || crate::settings::HttpSettings::default().body_timeout,
                |s| s.body_timeout,
            );
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let refused = declared
            .filter(|n| *n > limit as u64)
            .map(|_| ApiError::BodyTooLarge {
                limit: limit as u64,
            });
        ReadBody {
            payload: payload.take(),
            first: None,
            rest: BytesMut::new(),
            limit,
            deadline: Instant::now() + timeout,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            sleep: None,
            state,
            refused,
        }
    }
}

/// The read in progress. A body that comes in one piece (most do) is kept
/// as that piece, with no copy; the timer is made only if the body is not
/// all there on the first look.
pub struct ReadBody {
    payload: Payload,
    first: Option<Bytes>,
    rest: BytesMut,
    limit: usize,
    deadline: Instant,
    timeout_ms: u64,
    sleep: Option<Pin<Box<Sleep>>>,
    state: Option<web::Data<AppState>>,
    /// Known before any byte is read: a declared length past the bound.
    refused: Option<ApiError>,
}

impl ReadBody {
    /// Ends the read with `error`, counting it as a refusal.
    fn refuse(&mut self, error: ApiError, reason: Refusal) -> Poll<Result<JsonBody, ApiError>> {
        if let Some(state) = &self.state {
            state.telemetry.http_refusal(reason);
        }
        Poll::Ready(Err(error))
    }

    /// Takes `chunk`; false if the body is then past its bound.
    fn take(&mut self, chunk: Bytes) -> bool {
        let held = self.first.as_ref().map_or(0, Bytes::len) + self.rest.len();
        if held + chunk.len() > self.limit {
            return false;
        }
        match self.first.take() {
            None if self.rest.is_empty() => self.first = Some(chunk),
            first => {
                if let Some(first) = first {
                    self.rest.extend_from_slice(&first);
                }
                self.rest.extend_from_slice(&chunk);
            }
        }
        true
    }

    fn whole(&mut self) -> JsonBody {
        JsonBody(match self.first.take() {
            Some(first) => first,
            None => self.rest.split().freeze(),
        })
    }
}

impl Future for ReadBody {
    type Output = Result<JsonBody, ApiError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(refused) = this.refused.take() {
            return this.refuse(refused, Refusal::BodyTooLarge);
        }
        loop {
            match Pin::new(&mut this.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if !this.take(chunk) {
                        let limit = this.limit as u64;
                        return this
                            .refuse(ApiError::BodyTooLarge { limit }, Refusal::BodyTooLarge);
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    return Poll::Ready(Err(ApiError::Http {
                        status: StatusCode::BAD_REQUEST,
                        detail: format!("the request body could not be read: {error}"),
                    }))
                }
                Poll::Ready(None) => return Poll::Ready(Ok(this.whole())),
                Poll::Pending => break,
            }
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            let timeout_ms = this.timeout_ms;
            return this.refuse(ApiError::BodyTimeout { timeout_ms }, Refusal::BodyTimeout);
        }
        Poll::Pending
    }
}

//! Writing decision responses into one buffer: the numbers a verdict is
//! reported with, rounded up so a client never retries too early, and JSON
//! written straight into bytes rather than built as a tree.

use std::io;
use std::time::Duration;

use actix_web::web::BytesMut;
use serde::Serialize;

use crate::limiter::Decision;

/// The decision's remaining tokens, time to full, and wait (zero if allowed).
pub fn numbers(decision: &Decision) -> (u64, Duration, Duration) {
    match *decision {
        Decision::Allowed { remaining, reset } => (remaining, reset, Duration::ZERO),
        Decision::Limited {
            remaining,
            retry_after,
            reset,
        } => (remaining, reset, retry_after),
    }
}

/// Whole seconds, rounded up.
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Whole milliseconds, rounded up.
pub fn ceil_millis(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// Appends `n` in decimal.
pub fn write_int(buf: &mut BytesMut, n: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `value` as JSON.
pub fn write_json<T: Serialize + ?Sized>(buf: &mut BytesMut, value: &T) {
    serde_json::to_writer(Sink(buf), value)
        .expect("plain structs of numbers and strings serialize");
}

/// `io::Write` into a `BytesMut`, which cannot fail.
struct Sink<'a>(&'a mut BytesMut);

impl io::Write for Sink<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[path = "response_tests.rs"]
mod tests;

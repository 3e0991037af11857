//! Spreading a route's requests over its upstreams: round-robin, skipping an
//! upstream that refused a connection (or failed its TLS handshake) for a
//! while (passive health: no probes, the requests themselves tell).
//! Lock-free; time is an argument.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How long an upstream that refused a connection is skipped.
pub const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(10);

/// The upstreams of one route, by position in the route's list.
#[derive(Debug)]
pub struct Balancer {
    next: AtomicUsize,
    /// Per upstream, until when (ms on the caller's clock) it is skipped.
    down_until: Vec<AtomicU64>,
    cool_down: Duration,
}

impl Balancer {
    /// A balancer over `count` upstreams.
    pub fn new(count: usize, cool_down: Duration) -> Self {
        Self {
            next: AtomicUsize::new(0),
            down_until: (0..count).map(|_| AtomicU64::new(0)).collect(),
            cool_down,
        }
    }

    /// The upstreams to try for one request, in order, at `now_ms`: the next
    /// one in turn that is up first, then the others that are up; if none is
    /// up, every one (a down mark is a guess, and the alternative is a `502`
    /// without trying).
    pub fn order(&self, now_ms: u64) -> impl Iterator<Item = usize> + '_ {
        let count = self.down_until.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count.max(1);
        let up = move |i: &usize| self.down_until[*i].load(Ordering::Relaxed) <= now_ms;
        let any_up = (0..count).any(|i| up(&i));
        (0..count)
            .map(move |k| (start + k) % count)
            .filter(move |i| !any_up || up(i))
    }

    /// `upstream` refused a connection (or a TLS handshake) at `now_ms`:
    /// skip it for the cool-down.
    pub fn mark_down(&self, upstream: usize, now_ms: u64) {
        let until = now_ms.saturating_add(self.cool_down.as_millis() as u64);
        self.down_until[upstream].store(until, Ordering::Relaxed);
    }

    /// `upstream` answered: it is up again.
    pub fn mark_up(&self, upstream: usize) {
        // Only a store when it was down: a load is cheaper than a write on a
        // line every worker reads.
        if self.down_until[upstream].load(Ordering::Relaxed) != 0 {
            self.down_until[upstream].store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
#[path = "balance_tests.rs"]
mod tests;

//! One peer's recent traffic as this node read it, in fixed-size memory: when
//! it was last heard, its records per second over the last ten whole seconds
//! (a ring of per-second counts), and the lag of its last 256 records (now −
//! their `sent_at`), from which p50 and p99 are read. Pure: time passed in.
//! A peer heard for less than the window is averaged over the whole seconds
//! since it was first heard, so a newcomer's rate is not diluted.

/// Whole seconds the rates are averaged over (the second in progress is left out).
pub const RATE_WINDOW_SECS: u64 = 10;

/// Lags kept per peer: the percentiles are over its last this many records.
pub const LAG_SAMPLES: usize = 256;

/// The window and the second in progress.
const SLOTS: usize = RATE_WINDOW_SECS as usize + 1;

/// What a record was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A bucket state (or a counted one).
    State,
    /// A heartbeat.
    Heartbeat,
}

/// Lag percentiles, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lag {
    /// Median.
    pub p50: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
}

/// One peer's recent traffic: about 1.1 KiB, whatever it sends.
#[derive(Clone, Debug)]
pub struct PeerStats {
    /// Latest `sent_at` of its records, never later than when it was read (unix ms).
    last_heard_ms: u64,
    /// The unix second it was first heard in: rates are not averaged over time before it.
    since: u64,
    /// The unix second the rings end at.
    second: u64,
    /// State records per second, at `second % SLOTS`.
    states: [u32; SLOTS],
    /// Heartbeats per second, likewise.
    heartbeats: [u32; SLOTS],
    /// The last lags in ms, a ring: `lags[..lag_len]` are filled, `lag_next` is overwritten next.
    lags: [u32; LAG_SAMPLES],
    lag_len: usize,
    lag_next: usize,
}

impl PeerStats {
    /// A peer first heard at `now_ms`, nothing counted yet.
    pub fn new(now_ms: u64) -> Self {
        Self {
            last_heard_ms: 0,
            since: now_ms / 1000,
            second: now_ms / 1000,
            states: [0; SLOTS],
            heartbeats: [0; SLOTS],
            lags: [0; LAG_SAMPLES],
            lag_len: 0,
            lag_next: 0,
        }
    }

    /// Takes in a record sent at `sent_at_ms` (the sender's clock) and read at
    /// `now_ms`. With `sample`, it counts towards the rate and the lag (not for
    /// records read at bootstrap, whose lag is their age).
    pub fn heard(&mut self, kind: Kind, sent_at_ms: u64, now_ms: u64, sample: bool) {
        // A sender whose clock runs ahead cannot look fresher than now.
        self.last_heard_ms = self.last_heard_ms.max(sent_at_ms.min(now_ms));
        if !sample {
            return;
        }
        self.advance(now_ms / 1000);
        let slot = (self.second % SLOTS as u64) as usize;
        let counts = match kind {
            Kind::State => &mut self.states,
            Kind::Heartbeat => &mut self.heartbeats,
        };
        counts[slot] = counts[slot].saturating_add(1);
        let lag = u32::try_from(now_ms.saturating_sub(sent_at_ms)).unwrap_or(u32::MAX);
        self.lags[self.lag_next] = lag;
        self.lag_next = (self.lag_next + 1) % LAG_SAMPLES;
        self.lag_len = (self.lag_len + 1).min(LAG_SAMPLES);
    }

    /// Moves the rings' end to `second`, clearing the seconds skipped. A
    /// second before the end (the wall clock stepped back) counts in the last.
    fn advance(&mut self, second: u64) {
        if second <= self.second {
            return;
        }
        let skipped = (second - self.second).min(SLOTS as u64);
        for s in (second + 1 - skipped)..=second {
            let slot = (s % SLOTS as u64) as usize;
            self.states[slot] = 0;
            self.heartbeats[slot] = 0;
        }
        self.second = second;
    }

    /// When it was last heard (unix ms; 0: only from records too old to date).
    pub fn last_heard_ms(&self) -> u64 {
        self.last_heard_ms
    }

    /// Records of `kind` per second over the [`RATE_WINDOW_SECS`] whole
    /// seconds before `now_ms` (fewer if first heard since; 0 before a whole second).
    pub fn per_sec(&self, kind: Kind, now_ms: u64) -> f64 {
        let counts = match kind {
            Kind::State => &self.states,
            Kind::Heartbeat => &self.heartbeats,
        };
        let now = now_ms / 1000;
        let from = now.saturating_sub(RATE_WINDOW_SECS).max(self.since);
        if from >= now {
            return 0.0;
        }
        let total: u64 = (from..now)
            // Only seconds the ring still holds: not after its end, not wrapped over.
            .filter(|s| *s <= self.second && self.second - s < SLOTS as u64)
            .map(|s| u64::from(counts[(s % SLOTS as u64) as usize]))
            .sum();
        total as f64 / (now - from) as f64
    }

    /// p50 and p99 of the last lags; `None` before any was sampled.
    pub fn lag(&self) -> Option<Lag> {
        if self.lag_len == 0 {
            return None;
        }
        let mut lags = self.lags;
        let lags = &mut lags[..self.lag_len];
        lags.sort_unstable();
        Some(Lag {
            p50: u64::from(nearest_rank(lags, 50)),
            p99: u64::from(nearest_rank(lags, 99)),
        })
    }
}

/// The `pct`th percentile of sorted, non-empty `values`, by nearest rank.
fn nearest_rank(values: &[u32], pct: usize) -> u32 {
    let rank = (pct * values.len()).div_ceil(100).max(1);
    values[rank - 1]
}

#[cfg(test)]
#[path = "peer_stats_tests.rs"]
mod tests;

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
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn percentiles_are_nearest_rank_of_the_last_samples() {
        let mut p = PeerStats::new(T0);
        assert_eq!(p.lag(), None);
        // Lags 1..=100 ms.
        for lag in 1..=100 {
            p.heard(Kind::State, T0 - lag, T0, true);
        }
        assert_eq!(p.lag(), Some(Lag { p50: 50, p99: 99 }));
        // 256 more at 7 ms push every earlier sample out of the ring.
        for _ in 0..LAG_SAMPLES {
            p.heard(Kind::Heartbeat, T0 - 7, T0, true);
        }
        assert_eq!(p.lag(), Some(Lag { p50: 7, p99: 7 }));
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let mut p = PeerStats::new(T0);
        p.heard(Kind::State, T0 - 12, T0, true);
        assert_eq!(p.lag(), Some(Lag { p50: 12, p99: 12 }));
    }

    #[test]
    fn a_sender_ahead_has_no_lag_and_is_not_heard_in_the_future() {
        let mut p = PeerStats::new(T0);
        p.heard(Kind::State, T0 + 5_000, T0, true);
        assert_eq!(p.lag(), Some(Lag { p50: 0, p99: 0 }));
        assert_eq!(p.last_heard_ms(), T0);
    }

    #[test]
    fn the_rate_is_over_the_last_ten_whole_seconds() {
        let mut p = PeerStats::new(T0);
        // 20 states a second for 15 s, and 4 heartbeats a second.
        for s in 0..15 {
            for i in 0..20 {
                let now = T0 + s * 1000 + i * 50;
                p.heard(Kind::State, now - 3, now, true);
                if i % 5 == 0 {
                    p.heard(Kind::Heartbeat, now - 3, now, true);
                }
            }
        }
        let now = T0 + 15_000;
        assert_eq!(p.per_sec(Kind::State, now), 20.0);
        assert_eq!(p.per_sec(Kind::Heartbeat, now), 4.0);
        // The second in progress does not count yet.
        p.heard(Kind::State, now, now + 10, true);
        assert_eq!(p.per_sec(Kind::State, now + 10), 20.0);
        // Silent since: the window drains a tenth a second, then is empty
        // (five full seconds and the one record of second 15 left).
        assert_eq!(p.per_sec(Kind::State, now + 5_000), 10.1);
        assert_eq!(p.per_sec(Kind::State, now + 60_000), 0.0);
    }

    #[test]
    fn a_long_silence_clears_the_ring() {
        let mut p = PeerStats::new(T0);
        for i in 0..50 {
            p.heard(Kind::State, T0 + i, T0 + i, true);
        }
        // Back 100 s later (a multiple of the ring's length away): the old
        // counts must not show up in the new window.
        let later = T0 + 110_000;
        p.heard(Kind::State, later, later, true);
        assert_eq!(p.per_sec(Kind::State, later + 1_000), 0.1);
    }

    #[test]
    fn records_read_at_bootstrap_date_the_peer_but_are_not_sampled() {
        let mut p = PeerStats::new(T0);
        p.heard(Kind::State, T0 - 60_000, T0, false);
        assert_eq!(p.last_heard_ms(), T0 - 60_000);
        assert_eq!(p.lag(), None);
        assert_eq!(p.per_sec(Kind::State, T0 + 1_000), 0.0);
    }

    #[test]
    fn a_clock_stepping_back_counts_in_the_latest_second() {
        let mut p = PeerStats::new(T0);
        p.heard(Kind::State, T0 + 5_000, T0 + 5_000, true);
        p.heard(Kind::State, T0, T0, true);
        assert_eq!(p.per_sec(Kind::State, T0 + 10_000), 0.2);
    }

    #[test]
    fn a_newcomer_is_averaged_over_the_seconds_since_first_heard() {
        let mut p = PeerStats::new(T0 + 300);
        for i in 0..20 {
            let now = T0 + 300 + i * 80;
            p.heard(Kind::State, now, now, true);
        }
        // Seconds 0 and 1: 9 and 11 records; second 2 is still in progress.
        assert_eq!(p.per_sec(Kind::State, T0 + 2_500), 10.0);
        assert_eq!(p.per_sec(Kind::State, T0 + 900), 0.0);
    }
}

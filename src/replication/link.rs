//! Whether this node hears the cluster, judged from its own heartbeats coming
//! back through Kafka, with hysteresis so that a starved CPU does not flap it.
//!
//! On a machine short of CPU a heartbeat's round trip through the broker
//! stalls now and then for longer than `after` (measured: 500–800 ms at a
//! load of 15 on two cores, then back to 100 ms), and nothing at the moment
//! of a stall tells it from the start of a partition. What tells them apart
//! is history, and each echo carries its own send time, so its round trip is
//! known. Hence:
//!
//! - **Going cut off** takes silence beyond the *patience*: `after`, or
//!   twice the slowest round trip of the last [`LATENCY_MEMORY`] or so if
//!   that is longer, at most `4 × after`. Silence is counted on the
//!   consumer's own clock: a stretch between two of its looks counts at most
//!   [`Link::awake_gap`], so a consumer thread that was not scheduled for a
//!   while — and then reads a backlog of echoes at once — is not taken for a
//!   partition either.
//! - **Coming back** takes hearing steadily: [`HEAL_ECHOES`] or more echoes in
//!   a row over at least `after`, each back within the patience and within
//!   half of it after the one before — not one echo, nor a burst of a frozen
//!   broker's backlog.
//!
//! Time is an argument everywhere, so the rules are tested without Kafka.

use std::time::{Duration, Instant};

/// Echoes in a row that end a cut-off, over at least `after`: a period's
/// worth of heartbeats (four are sent per `after`).
pub(super) const HEAL_ECHOES: u32 = 4;

/// How long a slow round trip is remembered: at least this, at most twice.
pub(super) const LATENCY_MEMORY: Duration = Duration::from_secs(10);

/// A change of the link's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change {
    /// Silent beyond the patience.
    CutOff,
    /// Heard steadily again.
    Healed,
}

/// The link to the cluster as this node's consumer sees it.
#[derive(Debug)]
pub(super) struct Link {
    after: Duration,
    cut_off: bool,
    /// An echo ever came back: before that the node knows of no cluster.
    heard: bool,
    /// Silence since the last echo, on the consumer's clock (see the module doc).
    silence: Duration,
    last_look: Option<Instant>,
    /// Timely echoes in a row, each soon after the one before, and for how
    /// long (consumer's clock) they have been coming.
    steady: u32,
    run: Duration,
    /// The slowest round trip of this stretch of [`LATENCY_MEMORY`] and of the one before.
    slowest: [Duration; 2],
    stretch_began: Option<Instant>,
}

impl Link {
    /// A link that has heard nothing yet; `after` is `--partition-after-ms`.
    pub(super) fn new(after: Duration) -> Self {
        Self {
            after,
            cut_off: false,
            heard: false,
            silence: Duration::ZERO,
            last_look: None,
            steady: 0,
            run: Duration::ZERO,
            slowest: [Duration::ZERO; 2],
            stretch_began: None,
        }
    }

    /// Whether the node is cut off.
    pub(super) fn is_cut_off(&self) -> bool {
        self.cut_off
    }

    /// Silence so far, as counted towards a cut-off.
    pub(super) fn silence(&self) -> Duration {
        self.silence
    }

    /// The silence that makes a cut-off now: `after`, or twice the slowest
    /// round trip remembered if longer, at most `4 × after`.
    pub(super) fn patience(&self) -> Duration {
        let slowest = self.slowest[0].max(self.slowest[1]);
        slowest
            .saturating_mul(2)
            .clamp(self.after, self.after.saturating_mul(4))
    }

    /// The longest stretch between two looks that counts whole: the
    /// consumer looks at least every poll (100 ms) and at most eight times
    /// per `after`, so anything longer is time it was not running.
    pub(super) fn awake_gap(&self) -> Duration {
        self.after / 4 + Duration::from_millis(100)
    }

    /// This node's own heartbeat came back at `now`, `latency` after it was sent.
    pub(super) fn echo(&mut self, latency: Duration, now: Instant) {
        self.pass(now);
        let patience = self.patience();
        let timely = latency <= patience;
        let soon = self.steady > 0 && self.silence <= patience / 2;
        match (timely, soon) {
            (true, true) => self.steady = self.steady.saturating_add(1),
            (true, false) => (self.steady, self.run) = (1, Duration::ZERO),
            (false, _) => (self.steady, self.run) = (0, Duration::ZERO),
        }
        self.slowest[0] = self.slowest[0].max(latency);
        self.silence = Duration::ZERO;
        self.heard = true;
    }

    /// Looks at the link at `now`; returns the change, if any.
    pub(super) fn tick(&mut self, now: Instant) -> Option<Change> {
        self.pass(now);
        let change = if self.cut_off {
            let steady = self.steady >= HEAL_ECHOES && self.run >= self.after;
            steady.then_some(Change::Healed)
        } else {
            (self.heard && self.silence > self.patience()).then_some(Change::CutOff)
        };
        if change.is_some() {
            self.cut_off = !self.cut_off;
            (self.steady, self.run) = (0, Duration::ZERO);
        }
        change
    }

    /// Counts the time since the last look, at most [`Link::awake_gap`] of
    /// it, and moves the latency memory on.
    fn pass(&mut self, now: Instant) {
        if let Some(last) = self.last_look {
            let gap = now.saturating_duration_since(last).min(self.awake_gap());
            self.silence = self.silence.saturating_add(gap);
            if self.steady > 0 {
                self.run = self.run.saturating_add(gap);
            }
        }
        self.last_look = Some(self.last_look.map_or(now, |last| last.max(now)));
        let began = *self.stretch_began.get_or_insert(now);
        let stretches = now.saturating_duration_since(began).as_nanos() / LATENCY_MEMORY.as_nanos();
        if stretches > 0 {
            self.slowest = match stretches {
                1 => [Duration::ZERO, self.slowest[0]],
                _ => [Duration::ZERO; 2],
            };
            self.stretch_began = Some(now);
        }
    }
}

#[cfg(test)]
#[path = "link_tests.rs"]
mod tests;

//! Counted mode's record of who spent what on one key: a bounded, grow-only
//! counter per *node generation*, with the rule that keeps joins and restarts
//! from re-charging a key's history.
//!
//! Each time a node starts tracking a key (first request, first record, or
//! again after eviction) it counts its own spending under a fresh generation
//! key, stamped with when that generation began. A receiver debits the growth
//! of entries it already knows. An entry it has never seen is new spending only
//! if its generation began after the receiver started tracking the key; an
//! older one is history that the sender's level (merged with min) already
//! carries, so it is adopted as a baseline and not debited. That is what makes
//! a joining or restarted node take the cluster's level instead of the level
//! minus everything ever spent, and what makes forgetting an entry safe: when
//! it comes back it is history, never a second charge.
//!
//! At most [`MAX_ENTRIES`] entries are kept, the most recently grown first, so
//! a key's state stays bounded however many node IDs have ever spent on it.

use super::bucket::Stamp;

/// Entries kept per key (this node's own included): room for every node of
/// a large cluster spending on one hot key. Even more nodes than this
/// spending on one key at once lose some debits (the oldest entries are
/// forgotten and re-adopted as history), never re-charge.
pub const MAX_ENTRIES: usize = 512;

/// Entries a record carries: its sender's own, and the most recently grown
/// others it knows, so a record stays small whatever the cluster's size
/// (every node hears each spender's own records; the others only speed up
/// what a node that met the key late learns).
pub const PUBLISHED_ENTRIES: usize = 8;

/// Largest count accepted from the wire: far beyond any real key's spending
/// (10⁶ tokens a second for 140 years), small enough that sums cannot overflow.
pub const MAX_COUNT: u64 = 1 << 62;

/// One node generation's spending on a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The generation: unique per node, process and start of tracking.
    pub node: u64,
    /// Tokens spent by that generation (only grows).
    pub count: u64,
    /// When the generation began (the spender's clock).
    pub since: Stamp,
}

/// The per-key spending record of the counted mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spent {
    /// When this node started tracking the key.
    baseline: Stamp,
    /// This node's own generation, once it has spent on the key.
    own: Option<Entry>,
    /// Other generations, most recently grown first; at most `MAX_ENTRIES - 1`.
    others: Vec<Entry>,
    /// The bucket's latest reset: generations begun before it grow only by
    /// spending the reset forgave (their nodes start a new one on hearing of it).
    reset: Stamp,
}

impl Spent {
    /// An empty record for a key this node starts tracking at `baseline`.
    pub fn new(baseline: Stamp) -> Self {
        Self {
            baseline,
            own: None,
            others: Vec::new(),
            reset: Stamp::default(),
        }
    }

    /// The bucket was reset to full at `reset`: what any generation begun
    /// before it spent is forgiven, as far as this node has seen it and as
    /// far as it grows later (a node that spent before it heard of the reset
    /// reports that late). This node's own generation ends here, so what it
    /// spends from now on is counted under a new one that peers debit.
    pub fn forgive_before(&mut self, reset: Stamp) {
        self.reset = self.reset.max(reset);
        self.baseline = self.baseline.max(reset);
        self.retire_own();
    }

    /// Records that this node spent `tokens` at `now`; `generation` names its
    /// own entry if it has none yet (called only then, so the caller can draw
    /// a fresh one), which begins now: peers that started tracking the key
    /// before count all of it.
    pub fn record(&mut self, tokens: u32, now: Stamp, generation: impl FnOnce() -> u64) {
        let own = self.own.get_or_insert_with(|| Entry {
            node: generation(),
            count: 0,
            since: now,
        });
        own.count = own.count.saturating_add(u64::from(tokens));
    }

    /// [`Spent::record`] for a window limit whose window began at `window`'s
    /// first stamp, the one before it at its second (`None`: not a window): a
    /// window's spending is counted under a generation of its own.
    pub fn record_in(
        &mut self,
        window: Option<(Stamp, Stamp)>,
        tokens: u32,
        now: Stamp,
        generation: impl FnOnce() -> u64,
    ) {
        if let Some((start, previous)) = window {
            self.end_own_before(start, previous);
        }
        self.record(tokens, now, generation);
    }

    /// Takes back `tokens` this node recorded a moment ago (the request was
    /// refused by another rule after all). A peer that already saw the higher
    /// count keeps it, and so skips exactly that many of our later tokens: no
    /// token given back is ever debited for good.
    pub fn unrecord(&mut self, tokens: u32) {
        if let Some(own) = &mut self.own {
            own.count = own.count.saturating_sub(u64::from(tokens));
        }
    }

    /// Folds a peer's entries in; returns the tokens that are new spending by
    /// others (to debit), at most `budget`. A count is taken only as far as it
    /// was debited: growth beyond the budget stays news, so later records
    /// debit it (a legitimate burst is paid over several records, and a
    /// hostile count cannot mask a generation's real growth). `own` entries
    /// echoed back by peers are ignored: this node knows its own count best.
    pub fn absorb(&mut self, remote: &[Entry], budget: u64) -> u64 {
        let epoch = Stamp::default();
        self.absorb_windows(remote, budget, epoch, epoch).0
    }

    /// [`Spent::absorb`] for a window limit, whose nodes begin a generation
    /// in each window they spend in (see [`Spent::end_own_before`]): a
    /// generation's spending all falls in the window it began in. Returns the
    /// new spending of generations begun at or after `current` (this
    /// window's) and of those begun at or after `previous` (the window
    /// before); older generations' growth is taken as known, not news: their
    /// window is over.
    pub fn absorb_windows(
        &mut self,
        remote: &[Entry],
        budget: u64,
        previous: Stamp,
        current: Stamp,
    ) -> (u64, u64) {
        let mut new = [0u64; 3];
        for entry in remote {
            if self.own.is_some_and(|own| own.node == entry.node) {
                continue;
            }
            let room = budget - new[0] - new[1];
            let window = if entry.since >= current {
                0
            } else if entry.since >= previous {
                1
            } else {
                2
            };
            match self.others.iter().position(|e| e.node == entry.node) {
                Some(i) => {
                    let known = self.others[i].count;
                    if entry.count > known {
                        // Growth of a generation from before the reset was
                        // forgiven, and of one whose window is over is known.
                        let forgiven = entry.since < self.reset || window == 2;
                        let taken = if forgiven {
                            entry.count - known
                        } else {
                            (entry.count - known).min(room)
                        };
                        new[window] += if forgiven { 0 } else { taken };
                        self.others[i].count = known + taken;
                        self.others[..=i].rotate_right(1);
                    }
                }
                None => {
                    // Begun after we started tracking the key: all of it is news.
                    let mut adopted = *entry;
                    if entry.since >= self.baseline && window < 2 {
                        let taken = entry.count.min(room);
                        new[window] += taken;
                        adopted.count = taken;
                    }
                    self.others.insert(0, adopted);
                    if self.others.len() >= MAX_ENTRIES {
                        self.forget_oldest();
                    }
                }
            }
        }
        (new[0], new[1])
    }

    /// Ends this node's own generation if it began before `start` (a window
    /// limit's new window): what it spends from now on is counted under a
    /// new one, so each generation's spending falls in one window. Entries
    /// of windows before `previous` (the window before this one) are dropped
    /// and become history: no window still counting can be debited for them,
    /// and a key's record stays a few entries instead of filling up to
    /// [`MAX_ENTRIES`] one window after another.
    pub fn end_own_before(&mut self, start: Stamp, previous: Stamp) {
        if self.own.is_some_and(|own| own.since < start) {
            self.others.retain(|entry| entry.since >= previous);
            self.baseline = self.baseline.max(previous);
            self.retire_own();
        }
    }

    /// Moves this node's own generation among the others: it grows no more.
    fn retire_own(&mut self) {
        if let Some(own) = self.own.take() {
            self.others.insert(0, own);
            if self.others.len() >= MAX_ENTRIES {
                self.forget_oldest();
            }
        }
    }

    /// Drops the least recently grown entry. Should it come back, it must be
    /// history, not news: so the baseline moves past its generation's start.
    fn forget_oldest(&mut self) {
        if let Some(dropped) = self.others.pop() {
            let after = Stamp::from_unix_nanos(dropped.since.as_unix_nanos().saturating_add(1));
            self.baseline = self.baseline.max(after);
        }
    }

    /// Every entry, this node's first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.own.iter().chain(&self.others)
    }

    /// What a record carries: this node's entry first, then the most
    /// recently grown others, [`PUBLISHED_ENTRIES`] in all.
    pub fn published_entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries().take(PUBLISHED_ENTRIES)
    }

    /// This node's own count (0 before it spent anything).
    pub fn own_count(&self) -> u64 {
        self.own.map_or(0, |own| own.count)
    }
}

#[cfg(test)]
#[path = "spent_tests.rs"]
mod tests;

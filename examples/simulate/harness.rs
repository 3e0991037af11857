//! A simulated cluster run with the real code: N in-process stores making
//! the real decisions (`Store::check_with`), publishing what the real
//! flusher would (`Store::take_changes`, encoded with the real codec) every
//! sync interval, and merging every peer's records (`Store::merge_remote`)
//! after a simulated topic's delay. Deterministic: time is simulated and
//! traffic drawn from a seeded generator, so a run repeats exactly.

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::time::Duration;

use crdt_limiter::limiter::{Limit, MergeMode, Quiet, Replicated, Stamp, Store};
use crdt_limiter::replication::codec::{self, Envelope};

/// The cluster and how it replicates.
#[derive(Clone, Debug)]
pub struct Setup {
    pub nodes: usize,
    pub mode: MergeMode,
    pub quiet: Quiet,
    pub sync_interval: Duration,
    /// From a record's publishing to its delivery to every other node.
    pub delay: Duration,
    pub limit: Limit,
    pub seconds: u32,
}

/// Who asks, how often, and where.
#[derive(Clone, Copy, Debug)]
pub enum Traffic {
    /// `rate` requests a second in all, each for a user drawn at random
    /// among `users`, to a node drawn at random.
    Uniform { users: u32, rate: u32 },
    /// One user, `rate` requests a second, round-robin over the nodes.
    Hot { rate: u32 },
}

/// What a run measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    pub requests: u64,
    pub admitted: u64,
    /// Records published (states and tombstones).
    pub records: u64,
    /// Records merged, over all nodes (each record reaches every other node).
    pub merges: u64,
    /// What the limit allows one user over the run: a full bucket and the refill.
    pub allowed: f64,
}

impl Report {
    pub fn records_per_admitted(&self) -> f64 {
        self.records as f64 / self.admitted.max(1) as f64
    }

    /// Records a node merges for each request it serves itself.
    pub fn merges_per_own_request(&self) -> f64 {
        self.merges as f64 / self.requests.max(1) as f64
    }

    pub fn admitted_over_allowed(&self) -> f64 {
        self.admitted as f64 / self.allowed
    }
}

/// A record on its way: when it arrives, who sent it, its key and bytes.
struct InFlight {
    due: Stamp,
    from: usize,
    key: String,
    value: Option<Vec<u8>>,
}

const START_NS: u64 = 1_800_000_000_000_000_000;
const MS: u64 = 1_000_000;

/// Runs `traffic` on a cluster set up as `setup`.
pub fn run(setup: &Setup, traffic: Traffic) -> Report {
    let max_keys = NonZeroUsize::new(4_000_000).expect("non-zero");
    let stores: Vec<Store> = (0..setup.nodes)
        .map(|i| {
            let store = Store::replicated(setup.limit, max_keys, setup.mode, 1 + i as u64)
                .with_quiet(setup.quiet);
            store.set_nodes(setup.nodes as u32);
            store
        })
        .collect();
    let ids: Vec<String> = (0..setup.nodes).map(|i| format!("n{i}")).collect();
    let mut dice = fastrand::Rng::with_seed(0x9e37_79b9_7f4a_7c15);
    let mut report = Report {
        allowed: f64::from(setup.limit.capacity())
            + f64::from(setup.seconds) / setup.limit.interval().as_secs_f64(),
        ..Report::default()
    };
    let mut topic: VecDeque<InFlight> = VecDeque::new();
    let sync_ms = (setup.sync_interval.as_millis() as u64).max(1);
    let mut owed = 0u64; // requests due, in thousandths, carried from ms to ms
    let mut next_node = 0;
    for ms in 0..u64::from(setup.seconds) * 1000 {
        let now = Stamp::from_unix_nanos(START_NS + ms * MS);
        // This millisecond's requests.
        let rate = match traffic {
            Traffic::Uniform { rate, .. } | Traffic::Hot { rate } => u64::from(rate),
        };
        owed += rate;
        while owed >= 1000 {
            owed -= 1000;
            let (node, user) = match traffic {
                Traffic::Uniform { users, .. } => (
                    dice.u64(..setup.nodes as u64) as usize,
                    format!("u{}", dice.u64(..u64::from(users))),
                ),
                Traffic::Hot { .. } => {
                    next_node = (next_node + 1) % setup.nodes;
                    (next_node, "hot".to_string())
                }
            };
            report.requests += 1;
            if stores[node]
                .check_with(&user, &setup.limit, 1, now)
                .is_allowed()
            {
                report.admitted += 1;
            }
        }
        // Each node's flusher, staggered over the interval.
        for (i, store) in stores.iter().enumerate() {
            if (ms + i as u64).is_multiple_of(sync_ms) {
                for (key, change) in store.take_changes(now) {
                    report.records += 1;
                    let value = change.map(|r| envelope(&ids[i], now, r));
                    topic.push_back(InFlight {
                        due: now.saturating_add(setup.delay),
                        from: i,
                        key: key.to_string(),
                        value,
                    });
                }
            }
        }
        // Records that arrive now, merged by every other node.
        while topic.front().is_some_and(|r| r.due <= now) {
            let record = topic.pop_front().expect("a record is due");
            let Some(value) = record.value else { continue };
            let envelope = codec::decode(&value).expect("the codec reads what it wrote");
            let remote = Replicated {
                limit: envelope.limit,
                state: envelope.state,
                spent: envelope.spent,
                reset: envelope.reset,
            };
            for (j, store) in stores.iter().enumerate().filter(|(j, _)| *j != record.from) {
                let _ = j;
                store.merge_remote(&record.key, &remote, &setup.limit, now);
                report.merges += 1;
            }
        }
        // The housekeeping sweep, once a simulated second: full buckets go.
        if ms % 1000 == 999 {
            for store in &stores {
                store.sweep(now);
            }
        }
    }
    report
}

fn envelope(node_id: &str, now: Stamp, replicated: Replicated) -> Vec<u8> {
    codec::encode(&Envelope {
        node_id: node_id.to_string(),
        sent_at: now,
        limit: replicated.limit,
        state: replicated.state,
        spent: replicated.spent,
        reset: replicated.reset,
    })
}

//! The bucket store: a concurrent map of keys to bucket states, the decision fast
//! path, and the eviction that keeps memory bounded under any key flood.
//!
//! Memory bound: at most `max_keys` buckets are ever tracked. A full bucket holds
//! no information (an unseen key starts full), so full buckets are what eviction
//! removes. An insert at the cap evicts that way (see the `evict` module);
//! only when [`EVICTION_SAMPLE`] keys in a row are all mid-refill (more keys
//! active at once than the cap allows) does it drop the fullest of them. That
//! is counted as a *pressure* eviction, so operators can raise the cap, and
//! what the bucket still owed is kept in a fixed-size sketch (the `debts`
//! module), so its user comes back to that, never to a fresh bucket. A
//! periodic [`Store::sweep`] walks every shard so idle buckets leave memory
//! even below the cap.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use compact_str::CompactString;

use super::bucket::{BucketState, Decision, Limit, Stamp};
use super::merge::{rescale, MergeMode};
use super::quiet::Quiet;
use super::spent::{self, Spent};

mod debts;
mod evict;
mod publish;
mod remote;
mod reset;
mod shards;
mod share;
mod take;

use debts::Debts;
use publish::Changes;
use reset::Resets;
pub use reset::{live_reset, reset_hold};
use shards::Shards;

/// Keys looked at before an insert at the cap gives up on finding a full
/// bucket: enough that a full one is almost always found, few enough to keep
/// the insert cheap.
pub const EVICTION_SAMPLE: usize = 32;

/// Shards in the map: more than cores, so threads working on different keys
/// rarely wait on the same lock.
const SHARDS: usize = 64;

/// Counts of evictions since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evictions {
    /// Full buckets dropped: no information lost.
    pub idle: u64,
    /// Buckets dropped before they were full because the store was at its cap.
    pub pressure: u64,
}

/// A bucket and its replication bookkeeping.
#[derive(Clone, Debug)]
struct Slot {
    /// The limit the state is kept under. A request that brings another limit
    /// (the rule or the user's plan changed) converts the state first: tokens
    /// kept, clipped to the new capacity.
    limit: Limit,
    state: BucketState,
    /// Counted mode only: tokens spent on this key per node generation; boxed
    /// so the other modes pay one pointer for it.
    spent: Option<Box<Spent>>,
    /// Tokens charged beyond this node's own spending while it was cut off
    /// (its share of the limit): other nodes' spending in that time is
    /// debited from this first, and what is left is given back once healed.
    reserve: u32,
    /// To be handed to replication at the next sync: local spending peers
    /// should hear of (see [`Quiet`]), or news of another kind.
    dirty: bool,
    /// Tokens this node spent on the key since it last published it
    /// (saturating: a full count is always published). Narrow, so a bucket
    /// stays 48 bytes.
    unpublished: u16,
    /// A non-full state of this node's is on the topic, so dropping the bucket
    /// should publish a tombstone.
    published: bool,
}

/// A bucket's latest state for replication to publish; `None` is a tombstone
/// (the bucket is full or gone: nothing worth keeping on the topic).
pub type Change = (CompactString, Option<Replicated>);

/// A bucket as nodes exchange it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replicated {
    /// The limit the state is kept under; a receiver with another limit for
    /// the key converts it (tokens kept, clipped to its capacity).
    pub limit: Limit,
    /// The level and stamp.
    pub state: BucketState,
    /// Counted mode: tokens spent per node generation. `None` from a min-max node.
    pub spent: Option<Vec<spent::Entry>>,
    /// The latest reset of the bucket the state follows, if still live; zero otherwise.
    pub reset: Stamp,
}

/// All buckets of one node.
pub struct Store {
    map: Shards<Slot>,
    /// What replication should publish next; `None` when replication is off,
    /// so nothing accumulates.
    changed: Option<Changes>,
    /// Live resets by key (see the `reset` module).
    resets: Resets,
    /// What buckets evicted before they were full still owe (see the `debts` module).
    debts: Debts,
    mode: MergeMode,
    /// This node's key (ID and start-up), from which its generation keys are drawn.
    me: u64,
    /// Generations drawn so far: each start of tracking a key gets a new one.
    generations: AtomicU64,
    /// How many nodes share each key's limit while this one is cut off from
    /// them: each token admitted then costs this many. 1 when connected.
    share: AtomicU32,
    /// When local spending may stay unpublished.
    quiet: Quiet,
    /// Nodes in the cluster, this one included, as last heard.
    nodes: AtomicU32,
    /// The shard an insert at the cap starts looking for a bucket to evict in.
    victims: AtomicUsize,
    /// The limit of [`Store::check`], for callers with one limit for every key.
    default_limit: Limit,
    max_keys: usize,
    /// Tracked keys plus slots reserved by inserts under way; kept beside the
    /// map because counting the map locks every shard.
    len: AtomicUsize,
    evicted_idle: AtomicU64,
    evicted_pressure: AtomicU64,
}

impl Store {
    /// An empty store tracking at most `max_keys` keys; `limit` is what
    /// [`Store::check`] uses (each bucket keeps the limit it was last checked with).
    pub fn new(limit: Limit, max_keys: NonZeroUsize) -> Self {
        Self::build(limit, max_keys, None)
    }

    /// A store that also records which keys changed, for replication to
    /// publish, and merges peers' states by `mode`; `me` is this node's key.
    pub fn replicated(limit: Limit, max_keys: NonZeroUsize, mode: MergeMode, me: u64) -> Self {
        Self::build(limit, max_keys, Some((mode, me)))
    }

    fn build(limit: Limit, max_keys: NonZeroUsize, replication: Option<(MergeMode, u64)>) -> Self {
        let (mode, me) = replication.unwrap_or_default();
        Self {
            map: Shards::new(SHARDS),
            changed: replication.map(|_| Changes::new(max_keys.get())),
            resets: Resets::default(),
            debts: Debts::new(),
            mode,
            me,
            generations: AtomicU64::new(0),
            share: AtomicU32::new(1),
            quiet: Quiet::LOUD,
            nodes: AtomicU32::new(1),
            victims: AtomicUsize::new(0),
            default_limit: limit,
            max_keys: max_keys.get(),
            len: AtomicUsize::new(0),
            evicted_idle: AtomicU64::new(0),
            evicted_pressure: AtomicU64::new(0),
        }
    }

    /// The same store, keeping local spending quiet by `quiet` (stores are
    /// [`Quiet::LOUD`] unless told otherwise: every spending published).
    pub fn with_quiet(self, quiet: Quiet) -> Self {
        Self { quiet, ..self }
    }

    /// How many nodes the cluster has now, this one included (membership
    /// tells): the quiet rule's share of the headroom.
    pub fn set_nodes(&self, nodes: u32) {
        self.nodes.store(nodes.max(1), Ordering::Relaxed);
    }

    /// The limit [`Store::check`] applies.
    pub fn default_limit(&self) -> &Limit {
        &self.default_limit
    }

    /// Decides a request of `cost` tokens for `key` at `now` under the default limit.
    pub fn check(&self, key: &str, cost: u32, now: Stamp) -> Decision {
        self.check_with(key, &self.default_limit, cost, now)
    }

    /// What [`Store::check_with`] would decide, without taking anything or
    /// tracking the key: how a request under several limits is decided
    /// before any bucket is touched. A tracked bucket kept under another
    /// limit is converted now, so the new limit counts from this request on.
    pub fn peek(&self, key: &str, limit: &Limit, cost: u32, now: Stamp) -> Decision {
        let mut state = match self.map.get_mut(key) {
            Some(mut slot) => {
                slot.convert_to(limit, now);
                slot.state
            }
            None => self.fresh_state(key, limit, now),
        };
        state.take(limit, cost, now)
    }

    /// Runs `update` on `key`'s slot, creating a bucket of `limit` first if
    /// the key is new: full, or what it owed if it was evicted before it was.
    fn with_slot<R>(
        &self,
        key: &str,
        limit: &Limit,
        now: Stamp,
        update: impl FnOnce(&mut Slot) -> R,
    ) -> R {
        if let Some(mut slot) = self.map.get_mut(key) {
            return update(&mut slot);
        }
        self.reserve_slot(now);
        let (mut slot, inserted) = self.map.get_or_insert_with(key, || Slot {
            limit: *limit,
            state: self.fresh_state(key, limit, now),
            spent: None,
            reserve: 0,
            dirty: false,
            unpublished: 0,
            published: false,
        });
        if !inserted {
            // Another thread inserted the key meanwhile: give the slot back.
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        update(&mut slot)
    }

    /// The state of `key` as this node sees it, if tracked.
    pub fn get(&self, key: &str) -> Option<BucketState> {
        self.map.get(key).map(|slot| slot.state)
    }

    /// The state of `key` at `now` as a bucket of `limit`, if tracked.
    pub fn view(&self, key: &str, limit: &Limit, now: Stamp) -> Option<BucketState> {
        self.map
            .get(key)
            .map(|slot| convert(slot.state, &slot.limit, limit, now).refilled_to(limit, now))
    }

    /// Keys tracked now.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed).min(self.max_keys)
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cap on tracked keys.
    pub fn max_keys(&self) -> usize {
        self.max_keys
    }

    /// Evictions since start.
    pub fn evictions(&self) -> Evictions {
        Evictions {
            idle: self.evicted_idle.load(Ordering::Relaxed),
            pressure: self.evicted_pressure.load(Ordering::Relaxed),
        }
    }
}

impl Slot {
    /// Whether the spending this node has not published may stay quiet, the
    /// bucket being at `level` (a saturated count never does).
    fn keeps_quiet(&self, quiet: &Quiet, limit: &Limit, level: i64, nodes: u32) -> bool {
        self.unpublished < u16::MAX && quiet.holds(limit, level, u32::from(self.unpublished), nodes)
    }

    /// The counted mode's spending record, started now if this is the first.
    fn spent(&mut self, now: Stamp) -> &mut Spent {
        self.spent.get_or_insert_with(|| Box::new(Spent::new(now)))
    }

    /// The spending record a local decision counts in. Started by this
    /// decision, the bucket's level is this node's alone (full, or what it
    /// owed when evicted): no peer's record has been merged into it, so
    /// none of their spending is history it already carries. Any spending
    /// of theirs within the last refill window is news, and is debited
    /// when heard — the nodes that meet a key at once debit each other.
    fn own_spent(&mut self, limit: &Limit, now: Stamp) -> &mut Spent {
        let window = u64::try_from(limit.window().as_nanos()).unwrap_or(u64::MAX);
        let since = Stamp::from_unix_nanos(now.as_unix_nanos().saturating_sub(window));
        self.spent
            .get_or_insert_with(|| Box::new(Spent::new(since)))
    }

    /// Moves the bucket to `limit` if it was kept under another one.
    fn convert_to(&mut self, limit: &Limit, now: Stamp) {
        if self.limit != *limit {
            self.state = convert(self.state, &self.limit, limit, now);
            self.limit = *limit;
        }
    }
}

/// `state`, kept under `from`, as a bucket of `to`: refilled to `now` at the
/// old rate, then the same tokens, clipped to the new capacity. A full bucket
/// stays full (it carries no information: had it been evicted, as full
/// buckets are, it would come back full under `to` anyway).
fn convert(state: BucketState, from: &Limit, to: &Limit, now: Stamp) -> BucketState {
    if from == to {
        return state;
    }
    if state.is_full_at(from, now) {
        return BucketState::full(to, now.max(state.stamp()));
    }
    rescale(state.refilled_to(from, now), from, to)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "store_replication_tests.rs"]
mod replication_tests;

#[cfg(test)]
#[path = "store_memory_tests.rs"]
mod memory_tests;

#[cfg(test)]
#[path = "store_reset_tests.rs"]
mod reset_tests;

#[cfg(test)]
#[path = "store_debt_tests.rs"]
mod debt_tests;

#[cfg(test)]
#[path = "store_quiet_tests.rs"]
mod quiet_tests;

//! Unit tests of the store: decisions, the key cap, and what eviction may lose.

use super::*;
use crate::limiter::merge::MergeMode;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

fn store(capacity: u32, per_sec: u64, max_keys: usize) -> Store {
    let limit = Limit::new(
        NonZeroU32::new(capacity).unwrap(),
        Duration::from_nanos(SEC / per_sec),
    )
    .unwrap();
    Store::new(limit, NonZeroUsize::new(max_keys).unwrap())
}

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

/// A cheap deterministic stream of pseudo-random user IDs.
fn random_ids(seed: u64) -> impl Iterator<Item = String> {
    let mut x = seed;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        format!("user-{x:016x}")
    })
}

#[test]
fn tracks_a_key_per_user_and_limits_each_separately() {
    let s = store(2, 1, 100);
    assert!(s.check("a", 1, at(T0)).is_allowed());
    assert!(s.check("a", 1, at(T0)).is_allowed());
    assert!(!s.check("a", 1, at(T0)).is_allowed());
    assert!(s.check("b", 1, at(T0)).is_allowed());
    assert_eq!(s.len(), 2);
    assert!(s.check("a", 1, at(T0 + SEC)).is_allowed());
}

#[test]
fn sweep_drops_only_full_buckets() {
    let s = store(10, 1, 100);
    s.check("once", 1, at(T0));
    for _ in 0..10 {
        s.check("drained", 1, at(T0));
    }
    assert_eq!(s.sweep(at(T0 + SEC - 1)), 0);
    assert_eq!(s.sweep(at(T0 + SEC)), 1);
    assert!(s.get("once").is_none());
    assert!(s.get("drained").is_some());
    assert_eq!(s.len(), 1);
    assert_eq!(
        s.evictions(),
        Evictions {
            idle: 1,
            pressure: 0
        }
    );
}

/// A flood of 1,000,000 distinct IDs (plus a few real users that get limited)
/// through a store capped at 10,000 keys: the store never exceeds the cap, and
/// every decision is exactly the one an unbounded store makes, so eviction lost
/// nothing: every evicted bucket was full.
#[test]
fn a_million_distinct_ids_stay_under_the_cap_and_lose_nothing() {
    const FLOOD: usize = 1_000_000;
    const CAP: usize = 10_000;
    let capped = store(5, 1_000, CAP);
    let unbounded = store(5, 1_000, 2 * FLOOD);
    let mut now = T0;
    for (i, id) in random_ids(0x9e37_79b9_7f4a_7c15).take(FLOOD).enumerate() {
        // 2 µs per request: 2 s of traffic at 500,000 new IDs per second.
        now += 2_000;
        let key = if i % 7 == 0 {
            ["alice", "bob", "carol"][i % 3]
        } else {
            &id
        };
        let expected = unbounded.check(key, 1, at(now));
        assert_eq!(
            capped.check(key, 1, at(now)),
            expected,
            "request {i} for {key}"
        );
        assert!(capped.len() <= CAP);
    }
    let evictions = capped.evictions();
    assert_eq!(evictions.pressure, 0);
    // Six requests in seven are distinct IDs; all but the last CAP were evicted.
    assert!(
        evictions.idle >= (FLOOD * 6 / 7 - CAP) as u64,
        "{evictions:?}"
    );
    // The real users were limited along the way and still are.
    assert!(!capped.check("alice", 1, at(now)).is_allowed());
    assert_eq!(capped.get("alice"), unbounded.get("alice"));
}

#[test]
fn at_the_cap_with_nothing_full_the_fullest_sampled_bucket_goes() {
    let s = store(10, 1, 100);
    for _ in 0..10 {
        s.check("attacked-user", 1, at(T0));
    }
    // No time passes, so nothing refills and every eviction is under pressure.
    for id in random_ids(7).take(1_000) {
        assert!(s.check(&id, 1, at(T0)).is_allowed());
        assert!(s.len() <= 100);
    }
    assert_eq!(s.len(), 100);
    let evictions = s.evictions();
    assert_eq!(evictions.pressure, 901);
    assert_eq!(evictions.idle, 0);
    // The drained bucket was never the fullest, so it is still tracked and limited.
    assert!(!s.check("attacked-user", 1, at(T0)).is_allowed());
}

#[test]
fn concurrent_requests_for_one_key_take_exactly_the_capacity() {
    let s = Arc::new(store(1_000, 1, 10));
    let allowed: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                scope.spawn(move || {
                    (0..1_000)
                        .filter(|_| s.check("hot", 1, at(T0)).is_allowed())
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(allowed, 1_000);
}

#[test]
fn concurrent_inserts_never_exceed_the_cap() {
    let s = Arc::new(store(10, 1, 64));
    std::thread::scope(|scope| {
        for seed in 1..=4u64 {
            let s = Arc::clone(&s);
            scope.spawn(move || {
                for id in random_ids(seed).take(5_000) {
                    s.check(&id, 1, at(T0));
                    assert!(s.len() <= 64);
                }
            });
        }
    });
    assert!(s.map.len() <= 64);
    assert_eq!(s.map.len(), s.len());
}

/// Whole tokens in a published change (panics on a tombstone).
fn tokens_in(change: &Change, s: &Store, now: Stamp) -> u64 {
    change
        .1
        .as_ref()
        .expect("a state, not a tombstone")
        .state
        .tokens_at(s.default_limit(), now)
}

fn replicated(capacity: u32, per_sec: u64, max_keys: usize) -> Store {
    let s = store(capacity, per_sec, max_keys);
    Store::replicated(
        s.default_limit,
        NonZeroUsize::new(max_keys).unwrap(),
        MergeMode::MinMax,
        1,
    )
}

#[test]
fn a_key_is_handed_to_replication_once_per_change_period_with_its_latest_state() {
    let s = replicated(10, 1, 100);
    for _ in 0..5 {
        s.check("alice", 1, at(T0));
    }
    assert_eq!(s.pending_changes(), 1);
    let changes = s.take_changes(at(T0));
    assert_eq!(s.pending_changes(), 0);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, "alice");
    assert_eq!(tokens_in(&changes[0], &s, at(T0)), 5);
    assert!(s.take_changes(at(T0)).is_empty());
    s.check("alice", 1, at(T0));
    assert_eq!(s.take_changes(at(T0)).len(), 1);
}

#[test]
fn a_standalone_store_records_no_changes() {
    let s = store(10, 1, 100);
    s.check("alice", 1, at(T0));
    assert!(s.take_changes(at(T0)).is_empty());
}

#[test]
fn remote_states_lower_local_buckets_and_neither_they_nor_refusals_are_republished() {
    let s = replicated(10, 1, 100);
    let drained = Replicated {
        limit: s.default_limit,
        state: BucketState::from_parts(0, at(T0)),
        spent: None,
        reset: Stamp::default(),
    };
    s.merge_remote("bob", &drained, &s.default_limit, at(T0));
    assert!(!s.check("bob", 1, at(T0)).is_allowed());
    s.merge_remote("carol", &drained, &s.default_limit, at(T0));
    // A refusal took nothing and a merge is the peers' news: nothing to publish.
    assert!(s.take_changes(at(T0)).is_empty());
    // An allowed decision is (a loud store publishes every spending).
    assert!(s.check("dave", 1, at(T0)).is_allowed());
    let changes = s.take_changes(at(T0));
    assert_eq!(
        changes.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["dave"]
    );
}

#[test]
fn a_full_remote_state_of_an_unknown_key_is_not_stored() {
    let s = replicated(10, 1, 100);
    let full = Replicated {
        limit: s.default_limit,
        state: BucketState::full(s.default_limit(), at(T0)),
        spent: None,
        reset: Stamp::default(),
    };
    s.merge_remote("dave", &full, &s.default_limit, at(T0));
    assert!(s.get("dave").is_none());
}

#[test]
fn a_published_bucket_that_goes_idle_becomes_a_tombstone() {
    let s = replicated(10, 1, 100);
    s.check("erin", 1, at(T0));
    assert!(s.take_changes(at(T0))[0].1.is_some());
    assert_eq!(s.sweep(at(T0 + SEC)), 1);
    assert_eq!(s.take_changes(at(T0 + SEC)), vec![("erin".into(), None)]);
}

#[test]
fn a_failed_publish_is_retried_with_the_latest_state() {
    let s = replicated(10, 1, 100);
    s.check("frank", 1, at(T0));
    s.take_changes(at(T0));
    s.check("frank", 1, at(T0));
    s.mark_dirty("frank");
    let changes = s.take_changes(at(T0));
    assert_eq!(changes.len(), 1);
    assert_eq!(tokens_in(&changes[0], &s, at(T0)), 8);
}

#[test]
fn a_flood_of_peer_states_respects_the_key_cap() {
    let s = replicated(10, 1, 100);
    for (i, id) in random_ids(11).take(5_000).enumerate() {
        let drained = Replicated {
            limit: s.default_limit,
            state: BucketState::from_parts(0, at(T0)),
            spent: None,
            reset: Stamp::default(),
        };
        s.merge_remote(&id, &drained, &s.default_limit, at(T0 + i as u64));
        assert!(s.len() <= 100);
    }
    assert_eq!(s.len(), 100);
    // Merges never mark keys for publishing: nothing echoes back to the topic.
    assert_eq!(s.pending_changes(), 0);
}

#[test]
fn a_bucket_evicted_before_it_was_ever_published_leaves_no_tombstone() {
    let s = replicated(10, 1, 100);
    s.check("grace", 1, at(T0));
    // Refilled and swept before the first flush: nothing of it is on the topic.
    assert_eq!(s.sweep(at(T0 + SEC)), 1);
    assert!(s.take_changes(at(T0 + SEC)).is_empty());
}

#[test]
fn a_pressure_eviction_publishes_no_tombstone() {
    // A tombstone for a bucket that was not full would let compaction erase
    // peers' records of a user who is still limited.
    let s = replicated(10, 1, 1);
    s.check("heidi", 1, at(T0));
    s.take_changes(at(T0));
    // Spent again, so queued for publishing, then pushed out by a new user.
    s.check("heidi", 1, at(T0));
    s.check("ivan", 1, at(T0));
    assert_eq!(s.evictions().pressure, 1);
    let changes = s.take_changes(at(T0));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, "ivan");
    assert!(changes[0].1.is_some());
}

#[test]
fn during_an_outage_pending_changes_stay_bounded_and_no_live_key_is_lost() {
    let s = replicated(10, 1000, 100);
    // No flush for a long time (broker away) while thousands of keys come and
    // go: each refills 1 ms after its request and is evicted to make room.
    for (i, id) in random_ids(21).take(20_000).enumerate() {
        s.check(&id, 1, at(T0 + i as u64 * 2 * 1_000_000));
        assert!(s.pending_changes() <= 200);
    }
    // A key spent just before the broker returns is still published.
    let now = at(T0 + 20_000 * 2 * 1_000_000);
    s.check("judy", 1, now);
    let changes = s.take_changes(now);
    assert!(changes
        .iter()
        .any(|(k, state)| k == "judy" && state.is_some()));
}

#[test]
fn a_new_limit_keeps_the_tokens_clipped_to_the_new_capacity() {
    let s = store(10, 1, 100);
    let small = Limit::new(NonZeroU32::new(4).unwrap(), Duration::from_secs(1)).unwrap();
    let big = Limit::new(NonZeroU32::new(100).unwrap(), Duration::from_millis(10)).unwrap();
    for _ in 0..7 {
        s.check("u", 1, at(T0));
    }
    // 3 tokens left under 10/s: a bigger limit keeps 3, not a fresh 100.
    assert_eq!(
        s.check_with("u", &big, 1, at(T0)),
        Decision::Allowed {
            remaining: 2,
            reset: Duration::from_millis(980)
        }
    );
    // 2 tokens under a capacity of 4 stay 2; 50 would be clipped to 4.
    assert!(matches!(
        s.check_with("u", &small, 1, at(T0)),
        Decision::Allowed { remaining: 1, .. }
    ));
    let t = at(T0 + 60 * SEC);
    s.check_with("v", &big, 1, t);
    assert!(matches!(
        s.check_with("v", &small, 1, t),
        Decision::Allowed { remaining: 3, .. }
    ));
    // A full bucket is full under any limit, as an evicted one would be.
    s.check_with("w", &small, 1, t);
    let later = at(T0 + 61 * SEC);
    assert!(matches!(
        s.check_with("w", &big, 1, later),
        Decision::Allowed { remaining: 99, .. }
    ));
}

#[test]
fn peek_takes_nothing_and_refund_gives_back() {
    let s = store(2, 1, 100);
    let limit = *s.default_limit();
    assert!(s.peek("w", &limit, 1, at(T0)).is_allowed());
    assert!(s.is_empty(), "a peek does not track the key");
    s.check("w", 1, at(T0));
    s.check("w", 1, at(T0));
    assert!(!s.peek("w", &limit, 1, at(T0)).is_allowed());
    s.refund("w", &limit, 1);
    assert!(s.check("w", 1, at(T0)).is_allowed());
    s.refund("w", &limit, 5);
    assert_eq!(
        s.get("w").unwrap().tokens_at(&limit, at(T0)),
        2,
        "never past full"
    );
}

#[test]
fn a_changed_key_that_finds_the_list_full_is_still_published() {
    let s = replicated(10, 1000, 1);
    // "kate" is listed, refills, and leaves (never published: no tombstone);
    // her stale entry fills the list, so "leo" does not fit in it.
    s.check("kate", 1, at(T0));
    s.check("leo", 1, at(T0 + SEC));
    assert_eq!(s.get("kate"), None);
    let changes = s.take_changes(at(T0 + SEC));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].0, "leo");
    assert!(changes[0].1.is_some());
    assert!(s.take_changes(at(T0 + SEC)).is_empty(), "published once");
}

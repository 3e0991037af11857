//! Unit tests of spending that need not be held (`Store::spend`): what a
//! bucket short of tokens is debited, the debt floor, fixed windows counted
//! past their limit, and the replication accounting it shares with a take.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use crate::limiter::{Algorithm, Decision, Limit, MergeMode, Stamp, Store, Unit};

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_040 * SEC;

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

/// `capacity` tokens, one a second.
fn per_sec(capacity: u32) -> Limit {
    Limit::new(NonZeroU32::new(capacity).unwrap(), Duration::from_secs(1)).unwrap()
}

/// `capacity` requests in each fixed minute.
fn per_minute_window(capacity: u32) -> Limit {
    Limit::windowed(
        NonZeroU32::new(capacity).unwrap(),
        Algorithm::FixedWindow(Unit::Minute),
    )
    .unwrap()
}

fn standalone(limit: Limit) -> Store {
    Store::new(limit, NonZeroUsize::new(100).unwrap())
}

fn counted(limit: Limit, me: u64) -> Store {
    Store::replicated(
        limit,
        NonZeroUsize::new(100).unwrap(),
        MergeMode::Counted,
        me,
    )
}

fn level(store: &Store, key: &str) -> i64 {
    store.get(key).expect("tracked").level()
}

#[test]
fn a_spend_the_bucket_holds_is_a_take() {
    let (limit, now) = (per_sec(3), at(T0));
    let (taken, spent) = (standalone(limit), standalone(limit));
    for _ in 0..3 {
        assert_eq!(
            spent.spend("alice", &limit, 1, now),
            taken.check_with("alice", &limit, 1, now)
        );
    }
    assert_eq!(spent.get("alice"), taken.get("alice"));
}

#[test]
fn a_bucket_short_of_tokens_is_debited_anyway_and_reports_over() {
    let (limit, now) = (per_sec(2), at(T0));
    let store = standalone(limit);
    assert!(store.spend("alice", &limit, 2, now).is_allowed());
    let over = store.spend("alice", &limit, 1, now);
    assert!(matches!(over, Decision::Limited { remaining: 0, .. }));
    assert_eq!(
        level(&store, "alice"),
        -limit.level_of(1),
        "one token of debt"
    );
    // The refusal says when the next token is there: after the debt is paid.
    assert!(
        matches!(over, Decision::Limited { retry_after, .. } if retry_after == Duration::from_secs(2))
    );
    // A check of 0 hits is over while the bucket is in debt, within once paid.
    assert!(!store.spend("alice", &limit, 0, now).is_allowed());
    assert!(store.spend("alice", &limit, 0, at(T0 + SEC)).is_allowed());
    assert!(!store
        .check_with("alice", &limit, 1, at(T0 + SEC))
        .is_allowed());
}

#[test]
fn a_take_that_is_refused_still_takes_nothing() {
    let (limit, now) = (per_sec(2), at(T0));
    let store = standalone(limit);
    store.check_with("alice", &limit, 2, now);
    assert!(!store.check_with("alice", &limit, 1, now).is_allowed());
    assert_eq!(level(&store, "alice"), 0);
}

#[test]
fn spending_past_the_limit_stops_at_the_debt_floor() {
    let (limit, now) = (per_sec(2), at(T0));
    let store = standalone(limit);
    for _ in 0..100 {
        store.spend("alice", &limit, 1, now);
    }
    assert_eq!(level(&store, "alice"), limit.floor_level());
    assert!(!store.spend("alice", &limit, 5, now).is_allowed());
    assert_eq!(level(&store, "alice"), limit.floor_level());
}

/// Upstream's counting: over iff count + hits > limit, so with 2 a minute
/// the third hit is over, and a 0-hit check is over once the count passed 2.
#[test]
fn a_fixed_window_counts_past_its_limit_until_the_window_ends() {
    let (limit, now) = (per_minute_window(2), at(T0));
    let store = standalone(limit);
    assert!(store.spend("svc", &limit, 0, now).is_allowed());
    assert!(store.spend("svc", &limit, 1, now).is_allowed());
    assert!(store.spend("svc", &limit, 1, now).is_allowed());
    // Count 2 of 2: a check still passes (2 + 0 is not over 2) ...
    assert!(store.spend("svc", &limit, 0, now).is_allowed());
    // ... a third hit is over, and counted: now a check is over too.
    assert!(!store.spend("svc", &limit, 1, now).is_allowed());
    assert!(!store.spend("svc", &limit, 0, now).is_allowed());
    assert_eq!(level(&store, "svc"), -1, "a count of 3");
    let next = at(T0 + 60 * SEC);
    assert!(store.spend("svc", &limit, 0, next).is_allowed());
    assert!(store.spend("svc", &limit, 2, next).is_allowed());
}

#[test]
fn spending_past_the_limit_is_published_and_debited_by_peers() {
    let (limit, now) = (per_sec(5), at(T0));
    let (n1, n2) = (counted(limit, 1), counted(limit, 2));
    for _ in 0..7 {
        n1.spend("alice", &limit, 1, now);
    }
    assert_eq!(level(&n1, "alice"), -limit.level_of(2));
    for (key, change) in n1.take_changes(now) {
        let state = change.expect("a state, not a tombstone");
        let spent: u64 = state.spent.iter().flatten().map(|e| e.count).sum();
        assert_eq!(spent, 7, "every token spent is on record, over or not");
        n2.merge_remote(&key, &state, &limit, now);
    }
    assert!(!n2.check_with("alice", &limit, 1, now).is_allowed());
    assert!(
        n2.view("alice", &limit, now).unwrap().level() < 0,
        "the peer is in debt too"
    );
}

#[test]
fn a_partition_charge_past_the_limit_stops_at_the_debt_floor() {
    let (limit, now) = (per_sec(2), at(T0));
    let store = counted(limit, 1);
    store.set_share(3);
    for _ in 0..100 {
        store.spend("alice", &limit, 1, now);
    }
    assert_eq!(level(&store, "alice"), limit.floor_level());
    // Healed: the charges no peer's spending used are given back.
    store.release_reserves();
    assert!(level(&store, "alice") > limit.floor_level());
}

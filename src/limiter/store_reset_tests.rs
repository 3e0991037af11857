//! Unit tests of resets: a reset beats older states on every node in any
//! order of arrival, is published though full, is held while live, and
//! forgives spending across it without losing spending after it.

use super::*;
use crate::limiter::merge::MergeMode;
use std::num::NonZeroU32;
use std::time::Duration;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

/// Capacity 5, one token a second.
fn limit() -> Limit {
    Limit::new(NonZeroU32::new(5).unwrap(), Duration::from_secs(1)).unwrap()
}

fn node(mode: MergeMode, me: u64) -> Store {
    Store::replicated(limit(), NonZeroUsize::new(100).unwrap(), mode, me)
}

fn drain(store: &Store, key: &str, now: Stamp) {
    while store.check(key, 1, now).is_allowed() {}
}

fn tokens(store: &Store, key: &str, now: Stamp) -> Option<u64> {
    store
        .view(key, &limit(), now)
        .map(|s| s.tokens_at(&limit(), now))
}

/// What `store` would publish now for `key` (its latest state).
fn published(store: &Store, key: &str, now: Stamp) -> Replicated {
    store.mark_dirty(key);
    let changes = store.take_changes(now);
    let (_, change) = changes.into_iter().find(|(k, _)| k == key).unwrap();
    change.expect("a record, not a tombstone")
}

#[test]
fn a_reset_fills_the_bucket_and_is_published_though_full() {
    let n = node(MergeMode::MinMax, 1);
    drain(&n, "alice", at(T0));
    n.take_changes(at(T0));
    let reset = n.reset("alice", &limit(), at(T0 + 1));
    assert_eq!(reset, at(T0 + 1));
    assert_eq!(tokens(&n, "alice", at(T0 + 1)), Some(5));
    let changes = n.take_changes(at(T0 + 2));
    let [(key, Some(change))] = changes.as_slice() else {
        panic!("expected one record, got {changes:?}");
    };
    assert_eq!(key, "alice");
    assert_eq!(change.reset, reset);
    assert!(change.state.is_full_at(&limit(), at(T0 + 2)));
}

#[test]
fn a_reset_of_an_untracked_key_tracks_and_publishes_it() {
    let n = node(MergeMode::MinMax, 1);
    n.reset("bob", &limit(), at(T0));
    assert_eq!(published(&n, "bob", at(T0)).reset, at(T0));
}

#[test]
fn states_from_before_the_reset_are_turned_away_and_later_ones_merge() {
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        let (a, b) = (node(mode, 1), node(mode, 2));
        drain(&b, "alice", at(T0));
        let stale = published(&b, "alice", at(T0));
        a.reset("alice", &limit(), at(T0 + 10));
        // b's drained state from before it heard of the reset: turned away.
        a.merge_remote("alice", &stale, &limit(), at(T0 + 20));
        assert_eq!(tokens(&a, "alice", at(T0 + 20)), Some(5), "{mode:?}");
        // b hears of the reset, adopts it, spends 2: a sees those 2.
        b.merge_remote(
            "alice",
            &published(&a, "alice", at(T0 + 30)),
            &limit(),
            at(T0 + 30),
        );
        assert_eq!(tokens(&b, "alice", at(T0 + 30)), Some(5), "{mode:?}");
        b.check("alice", 1, at(T0 + 40));
        b.check("alice", 1, at(T0 + 40));
        a.merge_remote(
            "alice",
            &published(&b, "alice", at(T0 + 50)),
            &limit(),
            at(T0 + 50),
        );
        assert_eq!(tokens(&a, "alice", at(T0 + 50)), Some(3), "{mode:?}");
    }
}

#[test]
fn every_order_of_arrival_ends_in_the_same_state() {
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        let (a, b, c) = (node(mode, 1), node(mode, 2), node(mode, 3));
        drain(&b, "k", at(T0));
        let before = published(&b, "k", at(T0));
        a.reset("k", &limit(), at(T0 + SEC));
        let reset = published(&a, "k", at(T0 + SEC));
        c.merge_remote("k", &reset, &limit(), at(T0 + SEC));
        c.check("k", 2, at(T0 + SEC));
        let after = published(&c, "k", at(T0 + SEC));
        let records = [before, reset, after];
        let now = at(T0 + 2 * SEC);
        let mut outcomes = Vec::new();
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let fresh = node(mode, 9);
            for i in order {
                fresh.merge_remote("k", &records[i], &limit(), now);
            }
            outcomes.push(fresh.view("k", &limit(), now));
        }
        assert!(
            outcomes.windows(2).all(|w| w[0] == w[1]),
            "{mode:?}: {outcomes:?}"
        );
        // The reset, less c's 2 tokens after it; b's drain before it is gone.
        let tokens = outcomes[0].unwrap().tokens_at(&limit(), now);
        assert_eq!(tokens, 4, "{mode:?}");
    }
}

#[test]
fn spending_seen_across_a_reset_is_forgiven_but_later_spending_is_debited() {
    let (a, b) = (node(MergeMode::Counted, 1), node(MergeMode::Counted, 2));
    b.check("alice", 1, at(T0));
    a.merge_remote("alice", &published(&b, "alice", at(T0)), &limit(), at(T0));
    drain(&b, "alice", at(T0));
    let stale = published(&b, "alice", at(T0));
    a.reset("alice", &limit(), at(T0 + 1));
    b.merge_remote(
        "alice",
        &published(&a, "alice", at(T0 + 1)),
        &limit(),
        at(T0 + 1),
    );
    // b's counter grew by 4 before the reset: not debited after it, in any order.
    a.merge_remote("alice", &stale, &limit(), at(T0 + 2));
    a.merge_remote(
        "alice",
        &published(&b, "alice", at(T0 + 2)),
        &limit(),
        at(T0 + 2),
    );
    assert_eq!(tokens(&a, "alice", at(T0 + 2)), Some(5));
    b.check("alice", 1, at(T0 + 3));
    a.merge_remote(
        "alice",
        &published(&b, "alice", at(T0 + 3)),
        &limit(),
        at(T0 + 3),
    );
    assert_eq!(tokens(&a, "alice", at(T0 + 3)), Some(4));
}

#[test]
fn a_reset_is_held_while_live_and_orders_nothing_after() {
    let (a, b) = (node(MergeMode::MinMax, 1), node(MergeMode::MinMax, 2));
    a.reset("alice", &limit(), at(T0));
    let live = at(T0 + RESET_HOLD.as_nanos() as u64 - 1);
    assert_eq!(a.sweep(live), 0, "held: it turns older states away");
    let over = at(T0 + RESET_HOLD.as_nanos() as u64);
    // A node that tracked the key afresh publishes without the reset: heard.
    drain(&b, "alice", over);
    a.merge_remote("alice", &published(&b, "alice", over), &limit(), over);
    assert_eq!(tokens(&a, "alice", over), Some(0));
    assert_eq!(published(&a, "alice", over).reset, Stamp::default());
    let c = node(MergeMode::MinMax, 3);
    c.reset("carol", &limit(), at(T0));
    assert_eq!(
        c.sweep(over),
        1,
        "no longer live: a full bucket like any other"
    );
}

#[test]
fn a_later_reset_wins_even_after_one_from_a_fast_clock() {
    let (a, b) = (node(MergeMode::MinMax, 1), node(MergeMode::MinMax, 2));
    b.reset("alice", &limit(), at(T0 + SEC));
    a.merge_remote("alice", &published(&b, "alice", at(T0)), &limit(), at(T0));
    drain(&a, "alice", at(T0));
    let again = a.reset("alice", &limit(), at(T0));
    assert!(again > at(T0 + SEC));
    b.check("alice", 1, at(T0 + SEC));
    b.merge_remote(
        "alice",
        &published(&a, "alice", at(T0)),
        &limit(),
        at(T0 + SEC),
    );
    assert_eq!(tokens(&b, "alice", at(T0 + SEC)), Some(5));
}

#[test]
fn held_resets_give_way_to_new_keys_at_the_cap() {
    let n = Store::replicated(limit(), NonZeroUsize::new(2).unwrap(), MergeMode::MinMax, 1);
    n.reset("a", &limit(), at(T0));
    n.reset("b", &limit(), at(T0));
    assert!(n.check("c", 1, at(T0)).is_allowed());
    assert_eq!(n.len(), 2);
    assert!(n.get("c").is_some());
}

#[test]
fn a_flood_of_reset_records_keeps_the_table_bounded() {
    let n = node(MergeMode::MinMax, 1);
    for i in 0..1_000u64 {
        let hostile = Replicated {
            limit: limit(),
            state: BucketState::full(&limit(), at(T0)),
            spent: None,
            reset: at(T0 + i),
        };
        n.merge_remote(&format!("random-{i}"), &hostile, &limit(), at(T0 + i));
        assert!(n.resets.len() <= 64);
    }
    // The newest are remembered; the store's own cap holds the buckets.
    assert_eq!(n.resets.of("random-999", at(T0 + 999)), at(T0 + 999));
    assert!(n.len() <= 100);
}

#[test]
fn keys_are_found_by_prefix_up_to_a_bound() {
    let n = node(MergeMode::MinMax, 1);
    for key in ["r alice /a", "r alice /b", "r alicia /a", "q alice"] {
        n.check(key, 1, at(T0));
    }
    let mut found = n.keys_with_prefix("r alice ", 10);
    found.sort();
    assert_eq!(found, ["r alice /a", "r alice /b"]);
    assert_eq!(n.keys_with_prefix("r ", 1).len(), 1);
}

#[test]
fn resets_cost_a_bucket_nothing() {
    // Live resets sit in a table beside the map: a bucket stays 48 bytes.
    assert_eq!(std::mem::size_of::<Slot>(), 48);
}

//! Unit tests of resets: a reset beats older states on every node in any
//! order of arrival, is published though full, is held while live, and
//! forgives spending across it without losing spending after it.

use super::replication_tests::{at, limit, node, tokens, SEC, T0};
use super::*;
use crate::limiter::merge::MergeMode;
use std::num::NonZeroU32;
use std::time::Duration;

fn drain(store: &Store, key: &str, now: Stamp) {
    while store.check(key, 1, now).is_allowed() {}
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
fn every_order_of_arrival_ends_in_the_same_state_at_any_later_time() {
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
        // Before the hold ends (70 s), just after, and long after.
        for later in [2, 69, 71, 1000] {
            let now = at(T0 + later * SEC);
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
                outcomes.push(tokens(&fresh, "k", now));
            }
            // The reset less c's 2 tokens after it (refilling since);
            // b's drain before the reset is gone.
            let expected = Some((3 + later - 1).min(5));
            assert!(
                outcomes
                    .iter()
                    .all(|t| *t == expected || (later > 2 && t.is_none())),
                "{mode:?} at {later} s: {outcomes:?}"
            );
        }
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
fn a_reset_orders_states_until_older_ones_have_refilled_then_nothing() {
    let (a, b) = (node(MergeMode::MinMax, 1), node(MergeMode::MinMax, 2));
    a.reset("alice", &limit(), at(T0));
    // A minute plus two refill windows (5 s each) of capacity 5 at 1/s.
    let hold = reset_hold(&limit()).as_nanos() as u64;
    assert_eq!(hold, 70 * SEC);
    let live = at(T0 + hold - 1);
    assert_eq!(published(&a, "alice", live).reset, at(T0));
    let over = at(T0 + hold);
    // A node that tracked the key afresh publishes without the reset: heard.
    drain(&b, "alice", over);
    a.merge_remote("alice", &published(&b, "alice", over), &limit(), over);
    assert_eq!(tokens(&a, "alice", over), Some(0));
    assert_eq!(published(&a, "alice", over).reset, Stamp::default());
    a.sweep(over);
    assert_eq!(a.resets.len(), 0, "forgotten once no longer live");
}

#[test]
fn a_node_reading_the_topic_long_after_a_reset_reaches_the_same_level() {
    // One token an hour: the hold is a minute and ten hours.
    let slow = Limit::new(NonZeroU32::new(5).unwrap(), Duration::from_secs(3600)).unwrap();
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        let mk = |me| Store::replicated(slow, NonZeroUsize::new(100).unwrap(), mode, me);
        let (a, b) = (mk(1), mk(2));
        while b.check_with("k", &slow, 1, at(T0)).is_allowed() {}
        b.mark_dirty("k");
        let (_, stale) = b.take_changes(at(T0)).pop().unwrap();
        a.reset("k", &slow, at(T0 + SEC));
        let (_, reset) = a.take_changes(at(T0 + SEC)).pop().unwrap();
        // The topic holds both, in that order; a node reads them much later.
        for later in [61 * SEC, 3600 * SEC, 10 * 3600 * SEC] {
            let now = at(T0 + later);
            let c = mk(3);
            c.merge_remote("k", stale.as_ref().unwrap(), &slow, now);
            c.merge_remote("k", reset.as_ref().unwrap(), &slow, now);
            let tokens = c.view("k", &slow, now).map(|s| s.tokens_at(&slow, now));
            assert_eq!(tokens, Some(5), "{mode:?} after {later} ns");
        }
    }
}

#[test]
fn a_node_that_had_published_before_the_reset_publishes_again_on_adopting_it() {
    let (a, b) = (node(MergeMode::MinMax, 1), node(MergeMode::MinMax, 2));
    drain(&b, "k", at(T0));
    b.take_changes(at(T0));
    a.reset("k", &limit(), at(T0 + 1));
    b.merge_remote("k", &published(&a, "k", at(T0 + 1)), &limit(), at(T0 + 1));
    // So the topic's latest record of b's is from after the reset.
    let changes = b.take_changes(at(T0 + 2));
    let [(_, Some(change))] = changes.as_slice() else {
        panic!("expected b's record, got {changes:?}");
    };
    assert_eq!(change.reset, at(T0 + 1));
}

#[test]
fn an_unpublished_reset_is_not_evicted_at_the_cap() {
    let n = Store::replicated(limit(), NonZeroUsize::new(2).unwrap(), MergeMode::MinMax, 1);
    drain(&n, "busy", at(T0));
    n.take_changes(at(T0));
    n.reset("r", &limit(), at(T0));
    n.check("new", 1, at(T0));
    let changes = n.take_changes(at(T0));
    assert!(changes.iter().any(|(k, _)| k == "r"), "{changes:?}");
    // Once published it is an ordinary full bucket; the reset is remembered.
    n.check("newer", 1, at(T0));
    assert!(n.get("r").is_none());
    assert_eq!(n.resets.of("r", at(T0)), at(T0));
}

#[test]
fn counted_spending_before_hearing_of_a_reset_is_forgiven_on_every_node() {
    let (a, b) = (node(MergeMode::Counted, 1), node(MergeMode::Counted, 2));
    a.check("k", 1, at(T0));
    b.merge_remote("k", &published(&a, "k", at(T0)), &limit(), at(T0));
    // b spends 3 before the reset and has not published yet.
    for _ in 0..3 {
        b.check("k", 1, at(T0 + SEC));
    }
    let now = at(T0 + 2 * SEC);
    a.reset("k", &limit(), now);
    b.merge_remote("k", &published(&a, "k", now), &limit(), now);
    a.merge_remote("k", &published(&b, "k", now), &limit(), now);
    assert_eq!(tokens(&a, "k", now), Some(5));
    assert_eq!(tokens(&b, "k", now), Some(5));
    // Spending after the reset on both: each node's is news to the other.
    a.check("k", 2, now);
    b.check("k", 2, now);
    a.merge_remote("k", &published(&b, "k", now), &limit(), now);
    b.merge_remote("k", &published(&a, "k", now), &limit(), now);
    assert_eq!(tokens(&a, "k", now), Some(1));
    assert_eq!(tokens(&b, "k", now), Some(1));
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
fn unpublished_resets_give_way_to_new_keys_when_nothing_else_can() {
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
    assert!(n.resets.of("random-0", at(T0 + 999)) == Stamp::default());
    assert!(n.len() <= 100);
}

#[test]
fn keys_are_found_by_a_predicate_up_to_a_bound() {
    let n = node(MergeMode::MinMax, 1);
    for key in ["r alice /a", "r alice /b", "r alicia /a", "q alice"] {
        n.check(key, 1, at(T0));
    }
    let mut found = n.keys_where(|k| k.starts_with("r alice "), 10);
    found.sort();
    assert_eq!(found, ["r alice /a", "r alice /b"]);
    assert_eq!(n.keys_where(|k| k.starts_with("r "), 1).len(), 1);
}

#[test]
fn resets_cost_a_bucket_nothing() {
    // Live resets sit in a table beside the map: a bucket stays 56 bytes
    // (48 before sliding windows, whose previous count every state carries).
    assert_eq!(std::mem::size_of::<Slot>(), 56);
}

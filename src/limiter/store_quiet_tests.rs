//! Quiet replication in the store: what a decision, a refusal and a merge
//! hand to replication, and what a record carries.

use super::replication_tests::{at, T0};
use super::*;
use crate::limiter::merge::MergeMode;
use std::num::NonZeroU32;
use std::time::Duration;

const SEC: u64 = 1_000_000_000;

/// Capacity 10, one token a second.
fn ten() -> Limit {
    Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap()
}

fn quiet_node(mode: MergeMode, me: u64, nodes: u32) -> Store {
    let store = Store::replicated(ten(), NonZeroUsize::new(1000).unwrap(), mode, me)
        .with_quiet(Quiet::new(0.5).unwrap());
    store.set_nodes(nodes);
    store
}

fn published(store: &Store, now: Stamp) -> Vec<CompactString> {
    store
        .take_changes(now)
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

#[test]
fn a_user_far_from_the_limit_costs_no_record_not_even_a_tombstone() {
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        let store = quiet_node(mode, 1, 3);
        assert!(store.check("alice", 1, at(T0)).is_allowed());
        assert!(published(&store, at(T0)).is_empty(), "{mode:?}");
        // Refilled and swept: gone without a word.
        assert_eq!(store.sweep(at(T0 + 2 * SEC)), 1);
        assert!(published(&store, at(T0 + 2 * SEC)).is_empty(), "{mode:?}");
    }
}

#[test]
fn spending_past_its_share_of_the_headroom_is_published_and_a_refusal_never() {
    let store = quiet_node(MergeMode::Counted, 1, 2);
    // Headroom above the watermark: 5 tokens, 2.5 each for two nodes.
    for _ in 0..2 {
        store.check("bob", 1, at(T0));
    }
    assert!(published(&store, at(T0)).is_empty());
    store.check("bob", 1, at(T0));
    assert_eq!(published(&store, at(T0)), ["bob"]);
    // Below the watermark every spending goes out.
    for _ in 0..4 {
        store.check("bob", 1, at(T0));
    }
    assert_eq!(published(&store, at(T0)), ["bob"]);
    for _ in 0..3 {
        store.check("bob", 1, at(T0));
    }
    assert_eq!(published(&store, at(T0)), ["bob"]);
    // Empty now: refusals take nothing and publish nothing.
    for _ in 0..5 {
        assert!(!store.check("bob", 1, at(T0)).is_allowed());
    }
    assert!(published(&store, at(T0)).is_empty());
}

#[test]
fn quiet_spending_goes_out_once_a_peers_record_brings_the_level_down() {
    let (a, b) = (
        quiet_node(MergeMode::Counted, 1, 2),
        quiet_node(MergeMode::Counted, 2, 2),
    );
    assert!(a.check("carol", 1, at(T0)).is_allowed());
    assert!(published(&a, at(T0)).is_empty());
    // b spends 6 and publishes; a hears it: level 3, below the watermark.
    for _ in 0..6 {
        b.check("carol", 1, at(T0));
    }
    for (key, change) in b.take_changes(at(T0)) {
        a.merge_remote(&key, &change.unwrap(), &ten(), at(T0));
    }
    let changes = a.take_changes(at(T0));
    assert_eq!(changes.len(), 1, "a's quiet token matters now");
    let spent = changes[0].1.as_ref().unwrap().spent.as_ref().unwrap();
    assert_eq!(
        spent[0].count, 1,
        "a's own entry first, with what it kept quiet"
    );
}

#[test]
fn a_stopping_node_publishes_what_it_kept_quiet() {
    let store = quiet_node(MergeMode::Counted, 1, 3);
    store.check("dave", 1, at(T0));
    store.check("erin", 1, at(T0));
    assert!(published(&store, at(T0)).is_empty());
    assert_eq!(store.publish_quiet_spending(), 2);
    let mut keys = published(&store, at(T0));
    keys.sort();
    assert_eq!(keys, ["dave", "erin"]);
    assert_eq!(store.publish_quiet_spending(), 0, "nothing quiet is left");
}

#[test]
fn a_record_carries_a_bounded_number_of_entries_its_senders_first() {
    let store = quiet_node(MergeMode::Counted, 1, 100).with_quiet(Quiet::LOUD);
    let peer = |node: u64| crate::limiter::spent::Entry {
        node,
        count: 5,
        since: at(T0 + 1),
    };
    store.check("frank", 1, at(T0));
    // 100 peers spend on the key, each heard once.
    for node in 1000..1100 {
        let remote = Replicated {
            limit: ten(),
            state: BucketState::full(&ten(), at(T0)),
            spent: Some(vec![peer(node)]),
            reset: Stamp::default(),
        };
        store.merge_remote("frank", &remote, &ten(), at(T0 + 1));
    }
    let changes = store.take_changes(at(T0 + 2));
    let spent = changes[0].1.as_ref().unwrap().spent.clone().unwrap();
    assert_eq!(spent.len(), crate::limiter::spent::PUBLISHED_ENTRIES);
    assert_eq!(spent[0].count, 1, "the sender's own entry leads");
    assert!(spent[1..].iter().all(|e| e.count == 5));
}

#[test]
fn a_hundred_nodes_spending_on_one_key_are_all_debited() {
    // One node hears 100 peers spend one token each, in turn: every one is
    // debited (the old bound of 32 entries forgot most of them).
    let limit = Limit::new(NonZeroU32::new(1000).unwrap(), Duration::from_secs(3600)).unwrap();
    let store = Store::replicated(limit, NonZeroUsize::new(10).unwrap(), MergeMode::Counted, 1);
    store.check_with("grace", &limit, 1, at(T0));
    for round in 1..=3u64 {
        for node in 0..100u64 {
            let remote = Replicated {
                limit,
                state: BucketState::full(&limit, at(T0)),
                spent: Some(vec![crate::limiter::spent::Entry {
                    node: 5000 + node,
                    count: round,
                    since: at(T0 + 1),
                }]),
                reset: Stamp::default(),
            };
            store.merge_remote("grace", &remote, &limit, at(T0 + 2));
        }
    }
    let left = store.view("grace", &limit, at(T0 + 2)).unwrap();
    assert_eq!(left.tokens_at(&limit, at(T0 + 2)), 1000 - 1 - 300);
}

#[test]
fn nodes_that_meet_a_key_at_once_debit_each_others_spending() {
    // b spends first, a a moment later: neither has merged anything, so
    // neither level carries the other's spending, whoever began first.
    let (a, b) = (
        quiet_node(MergeMode::Counted, 1, 2),
        quiet_node(MergeMode::Counted, 2, 2),
    );
    for _ in 0..5 {
        b.check("heidi", 1, at(T0));
        a.check("heidi", 1, at(T0 + 1_000_000));
    }
    let now = at(T0 + 2_000_000);
    let (from_a, from_b) = (a.take_changes(now), b.take_changes(now));
    for (key, change) in from_b {
        a.merge_remote(&key, &change.unwrap(), &ten(), now);
    }
    for (key, change) in from_a {
        b.merge_remote(&key, &change.unwrap(), &ten(), now);
    }
    for store in [&a, &b] {
        let left = store.view("heidi", &ten(), now).unwrap();
        assert_eq!(
            left.tokens_at(&ten(), now),
            0,
            "10 of 10 spent between them"
        );
    }
}

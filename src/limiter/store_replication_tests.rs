//! Unit tests of the store as a replica: joins and restarts in counted mode,
//! partition shares, refunds and tombstones.

use super::*;
use crate::limiter::merge::MergeMode;
use std::num::NonZeroU32;
use std::time::Duration;

pub(super) const SEC: u64 = 1_000_000_000;
pub(super) const T0: u64 = 1_700_000_000 * SEC;

pub(super) fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

/// Capacity 5, one token a second: the reproduction.
pub(super) fn limit() -> Limit {
    Limit::new(NonZeroU32::new(5).unwrap(), Duration::from_secs(1)).unwrap()
}

pub(super) fn node(mode: MergeMode, me: u64) -> Store {
    Store::replicated(limit(), NonZeroUsize::new(100).unwrap(), mode, me)
}

/// Publishes everything `from` changed into each of `to`.
fn sync(from: &Store, to: &[&Store], now: Stamp) {
    for (key, change) in from.take_changes(now) {
        let Some(state) = change else { continue };
        for store in to {
            store.merge_remote(&key, &state, &limit(), now);
        }
    }
}

pub(super) fn tokens(store: &Store, key: &str, now: Stamp) -> Option<u64> {
    store
        .view(key, &limit(), now)
        .map(|s| s.tokens_at(&limit(), now))
}

/// `store` serves `key` at 2 requests a second for `seconds`; returns the end.
fn busy_user(store: &Store, key: &str, seconds: u64, peers: &[&Store]) -> Stamp {
    let mut now = at(T0);
    for half in 0..2 * seconds {
        now = at(T0 + half * SEC / 2);
        store.check(key, 1, now);
        sync(store, peers, now);
    }
    now
}

#[test]
fn a_node_that_joins_in_either_mode_takes_the_level_the_cluster_has() {
    for mode in [MergeMode::Counted, MergeMode::MinMax] {
        let first = node(mode, 1);
        let end = busy_user(&first, "alice", 30, &[]);
        // The new node reads the topic: the first node's latest state.
        let joined = node(mode, 2);
        first.mark_dirty("alice");
        sync(&first, &[&joined], end);
        for later in [0, SEC / 2, 3 * SEC, 10 * SEC] {
            let t = at(end.as_unix_nanos() + later);
            assert_eq!(
                tokens(&joined, "alice", t),
                tokens(&first, "alice", t),
                "{mode:?} +{later} ns"
            );
        }
    }
}

#[test]
fn a_node_restarted_under_a_new_key_is_not_charged_its_own_history() {
    // Two nodes; the user's traffic is on node 1, which is then restarted
    // (a new store: its counter entries are a previous life's).
    let (n1, n2) = (node(MergeMode::Counted, 1), node(MergeMode::Counted, 2));
    let end = busy_user(&n1, "alice", 30, &[&n2]);
    let again = node(MergeMode::Counted, 3);
    n2.mark_dirty("alice");
    sync(&n2, &[&again], end);
    assert_eq!(tokens(&again, "alice", end), tokens(&n1, "alice", end));
    // Spending on the restarted node reaches the others once, as news.
    let t = at(end.as_unix_nanos() + 3 * SEC);
    assert!(again.check("alice", 1, t).is_allowed());
    sync(&again, &[&n2], t);
    assert_eq!(tokens(&n2, "alice", t), tokens(&again, "alice", t));
}

#[test]
fn while_cut_off_each_admitted_token_costs_the_share_and_healing_gives_back_the_rest() {
    for mode in [MergeMode::Counted, MergeMode::MinMax] {
        let s = node(mode, 1);
        s.set_share(3);
        // Full bucket (5): the first request is charged 3, the second 3 more (debt 1).
        let admitted = (0..5)
            .filter(|_| s.check("bob", 1, at(T0)).is_allowed())
            .count();
        assert_eq!(admitted, 2, "{mode:?}");
        // Over the next 30 s it earns 30 tokens: a third of them are admitted.
        let admitted = (1..=60)
            .filter(|i| s.check("bob", 1, at(T0 + i * SEC / 2)).is_allowed())
            .count();
        assert!((9..=11).contains(&admitted), "{mode:?}: {admitted}");
        // Healed: nobody else spent, so the charges come back.
        s.set_share(1);
        let now = at(T0 + 30 * SEC);
        let before = tokens(&s, "bob", now).unwrap();
        assert_eq!(s.release_reserves(), 1);
        assert!(tokens(&s, "bob", now).unwrap() > before);
    }
}

#[test]
fn peers_see_real_spending_not_the_partition_charge() {
    let (a, b) = (node(MergeMode::Counted, 1), node(MergeMode::Counted, 2));
    a.set_share(3);
    assert!(a.check("gina", 1, at(T0)).is_allowed());
    // Locally 3 tokens are gone (1 spent, 2 held for the others)...
    assert_eq!(tokens(&a, "gina", at(T0)), Some(2));
    // ...but the record says what was spent: 1.
    sync(&a, &[&b], at(T0));
    assert_eq!(tokens(&b, "gina", at(T0)), Some(4));
}

#[test]
fn spending_by_others_during_a_cut_is_paid_from_the_reserve_not_twice() {
    let (a, b) = (node(MergeMode::Counted, 1), node(MergeMode::Counted, 2));
    // Both know the user, then the link is cut.
    a.check("carol", 1, at(T0));
    sync(&a, &[&b], at(T0));
    a.set_share(2);
    b.set_share(2);
    for n in [&a, &b] {
        assert!(n.check("carol", 1, at(T0)).is_allowed());
    }
    // Each admitted one and charged two. Healed: each learns the other's one
    // token, which its reserve already paid for.
    let now = at(T0);
    let before = (tokens(&a, "carol", now), tokens(&b, "carol", now));
    a.set_share(1);
    b.set_share(1);
    sync(&a, &[&b], now);
    sync(&b, &[&a], now);
    assert_eq!((tokens(&a, "carol", now), tokens(&b, "carol", now)), before);
    assert_eq!(a.release_reserves() + b.release_reserves(), 0);
    // 3 of 5 tokens spent in all, and that is what both hold back.
    assert_eq!(tokens(&a, "carol", now), Some(2));
}

#[test]
fn a_refund_in_counted_mode_takes_back_the_count_peers_would_debit() {
    let (a, b) = (node(MergeMode::Counted, 1), node(MergeMode::Counted, 2));
    a.check("dave", 1, at(T0));
    sync(&a, &[&b], at(T0));
    a.check("dave", 2, at(T0));
    a.refund("dave", &limit(), 2);
    sync(&a, &[&b], at(T0));
    assert_eq!(tokens(&a, "dave", at(T0)), Some(4));
    assert_eq!(
        tokens(&b, "dave", at(T0)),
        Some(4),
        "b debited given-back tokens"
    );
}

#[test]
fn a_failed_tombstone_is_sent_again() {
    let s = node(MergeMode::MinMax, 1);
    s.retry_tombstone("erin");
    assert_eq!(s.take_changes(at(T0)), vec![("erin".into(), None)]);
    // Full and still in memory when its tombstone failed: sent when it leaves.
    s.check("frank", 1, at(T0));
    s.take_changes(at(T0));
    s.retry_tombstone("frank");
    assert!(s.take_changes(at(T0)).is_empty());
    assert_eq!(s.sweep(at(T0 + SEC)), 1);
    assert_eq!(s.take_changes(at(T0 + SEC)), vec![("frank".into(), None)]);
}

#[test]
fn a_window_spent_across_its_boundary_is_debited_on_peers_only_for_the_new_window() {
    use crate::limiter::{Algorithm, Quiet, Unit};
    let minute = Algorithm::FixedWindow(Unit::Minute);
    let window = Limit::windowed(NonZeroU32::new(10).unwrap(), minute).unwrap();
    let store = |me| {
        Store::replicated(
            window,
            NonZeroUsize::new(100).unwrap(),
            MergeMode::Counted,
            me,
        )
        .with_quiet(Quiet::new(0.5).unwrap())
    };
    let (a, b) = (store(1), store(2));
    // T0 + 40 s is a minute boundary. a spends 3 just before it, kept quiet
    // (far from the quota), then 6 just after, and publishes once (the
    // window's level fell below the watermark).
    let edge = T0 + 40 * SEC;
    for _ in 0..3 {
        assert!(a.check("k", 1, at(edge - SEC)).is_allowed());
    }
    for _ in 0..6 {
        assert!(a.check("k", 1, at(edge + SEC)).is_allowed());
    }
    b.check("k", 1, at(edge + SEC));
    for (key, change) in a.take_changes(at(edge + 2 * SEC)) {
        let state = change.unwrap();
        b.merge_remote(&key, &state, &window, at(edge + 2 * SEC));
    }
    // b: its own 1 and a's 6 of this window; a's 3 were the last window's.
    let left = b.view("k", &window, at(edge + 2 * SEC)).unwrap();
    assert_eq!(left.tokens_at(&window, at(edge + 2 * SEC)), 3);
}

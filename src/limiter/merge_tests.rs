//! Tests of the merge rule: one per behaviour, plus semilattice properties.

use super::*;
use proptest::prelude::*;
use std::num::NonZeroU32;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

fn limit() -> Limit {
    Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap()
}

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

fn state(tokens: i64, stamp: u64) -> BucketState {
    BucketState::from_parts(tokens * SEC as i64, at(stamp))
}

#[test]
fn merge_keeps_the_fewer_tokens_at_the_later_stamp() {
    let l = limit();
    // a: 2 tokens at T0; b: 5 tokens at T0+1s. At T0+1s a has refilled to 3.
    let merged = merge(&l, state(2, T0), state(5, T0 + SEC));
    assert_eq!(merged, state(3, T0 + SEC));
}

#[test]
fn merge_compares_levels_at_the_same_instant() {
    let l = limit();
    // An older, emptier view has refilled past a newer one: the newer wins.
    let merged = merge(&l, state(0, T0), state(4, T0 + 9 * SEC));
    assert_eq!(merged, state(4, T0 + 9 * SEC));
}

#[test]
fn merging_a_full_bucket_changes_nothing() {
    let l = limit();
    let local = state(3, T0 + SEC);
    assert_eq!(merge(&l, local, BucketState::full(&l, at(T0))), local);
}

#[test]
fn merge_is_symmetric_and_idempotent_on_an_example() {
    let l = limit();
    let (a, b) = (state(1, T0), state(7, T0 + 2 * SEC));
    assert_eq!(merge(&l, a, b), merge(&l, b, a));
    assert_eq!(merge(&l, a, a), a);
}

#[test]
fn future_stamps_beyond_the_tolerance_are_clamped() {
    let now = at(T0);
    let tolerance = Duration::from_secs(1);
    let ahead = state(0, T0 + 3600 * SEC);
    let (clamped, was) = clamp_future(ahead, now, tolerance);
    assert!(was);
    assert_eq!(clamped, state(0, T0 + SEC));
    let near = state(0, T0 + SEC / 2);
    assert_eq!(clamp_future(near, now, tolerance), (near, false));
}

#[test]
fn rescale_keeps_tokens_and_clips_to_capacity() {
    let from = limit();
    let to = Limit::new(NonZeroU32::new(4).unwrap(), Duration::from_millis(500)).unwrap();
    assert_eq!(rescale(state(3, T0), &from, &to).tokens_at(&to, at(T0)), 3);
    assert_eq!(rescale(state(9, T0), &from, &to).tokens_at(&to, at(T0)), 4);
}

#[test]
fn cvrdt_merge_refuses_a_limit_mismatch_in_validation() {
    let l = limit();
    let other = Limit::new(NonZeroU32::new(5).unwrap(), Duration::from_secs(1)).unwrap();
    let a = Replica {
        limit: l,
        state: state(5, T0),
    };
    let b = Replica {
        limit: other,
        state: state(1, T0),
    };
    assert!(a.validate_merge(&b).is_err());
    let mut merged = a;
    merged.merge(Replica {
        limit: l,
        state: state(1, T0),
    });
    assert_eq!(merged.state, state(1, T0));
}

fn arb_state() -> impl Strategy<Value = BucketState> {
    (-10 * SEC as i64..=10 * SEC as i64, 0..100 * SEC)
        .prop_map(|(level, offset)| BucketState::from_parts(level, at(T0 + offset)))
}

proptest! {
    #[test]
    fn merge_is_commutative(a in arb_state(), b in arb_state()) {
        prop_assert_eq!(merge(&limit(), a, b), merge(&limit(), b, a));
    }

    #[test]
    fn merge_is_associative(a in arb_state(), b in arb_state(), c in arb_state()) {
        let l = limit();
        prop_assert_eq!(merge(&l, merge(&l, a, b), c), merge(&l, a, merge(&l, b, c)));
    }

    #[test]
    fn merge_is_idempotent(a in arb_state(), b in arb_state()) {
        let l = limit();
        let once = merge(&l, a, b);
        prop_assert_eq!(merge(&l, once, b), once);
        prop_assert_eq!(merge(&l, a, a).level_at(&l, a.stamp()), a.level_at(&l, a.stamp()));
    }

    /// What a node admits after a merge is never more than before, at any later instant.
    #[test]
    fn merge_never_raises_a_level(a in arb_state(), b in arb_state(), later in 0..100 * SEC) {
        let l = limit();
        let merged = merge(&l, a, b);
        let t = at(merged.stamp().as_unix_nanos() + later);
        prop_assert!(merged.level_at(&l, t) <= a.level_at(&l, t));
        prop_assert!(merged.level_at(&l, t) <= b.level_at(&l, t));
        prop_assert_eq!(merged.level_at(&l, t), a.level_at(&l, t).min(b.level_at(&l, t)));
    }

    #[test]
    fn cvrdt_merge_agrees_with_merge(a in arb_state(), b in arb_state()) {
        let l = limit();
        let mut replica = Replica { limit: l, state: a };
        replica.merge(Replica { limit: l, state: b });
        prop_assert_eq!(replica.state, merge(&l, a, b));
    }
}

/// A node's view in counted mode: its bucket, its counter, its partition reserve.
#[derive(Clone, Debug, PartialEq)]
struct View {
    state: BucketState,
    spent: Spent,
    reserve: u32,
}

/// A generation's entry: `node` spent `count` since `since`.
fn entry(node: u64, count: u64, since: u64) -> Entry {
    Entry {
        node,
        count,
        since: at(since),
    }
}

/// A view that started tracking the key at `baseline` and holds `tokens` now.
fn view(tokens: i64, baseline: u64) -> View {
    View {
        state: state(tokens, baseline),
        spent: Spent::new(at(baseline)),
        reserve: 0,
    }
}

fn receive(view: &mut View, tokens: i64, stamp: u64, entries: &[Entry]) {
    merge_counted(
        &limit(),
        &mut view.state,
        &mut view.spent,
        state(tokens, stamp),
        entries,
        &mut view.reserve,
    );
}

const B: u64 = 2;
const C: u64 = 3;

#[test]
fn counted_merge_debits_new_spending_by_others() {
    // Local: full (10 tokens) since T0. B began after and says it spent 4, holds 6.
    let mut local = view(10, T0);
    receive(&mut local, 6, T0, &[entry(B, 4, T0 + 1)]);
    assert_eq!(local.state, state(6, T0));
    // C independently spent 3 (C's own bucket says 7): the sum is debited.
    receive(&mut local, 7, T0, &[entry(C, 3, T0 + 2)]);
    assert_eq!(local.state, state(3, T0));
}

#[test]
fn a_joining_node_takes_the_cluster_level_instead_of_recharging_history() {
    // B has served the user for 30 s: 35 tokens spent, 1 left. A node that
    // starts tracking the key now adopts that level; it is not 35 in debt.
    let now = T0 + 30 * SEC;
    let mut joined = view(10, now);
    receive(&mut joined, 1, now, &[entry(B, 35, T0)]);
    assert_eq!(joined.state, state(1, now));
    // From then on B's growth is news.
    receive(&mut joined, 1, now, &[entry(B, 36, T0)]);
    assert_eq!(joined.state, state(0, now));
}

#[test]
fn counted_merge_debits_once_however_often_the_same_state_arrives() {
    let mut local = view(8, T0);
    let remote = [entry(B, 5, T0 + 1)];
    receive(&mut local, 5, T0, &remote);
    let once = local.clone();
    for _ in 0..5 {
        receive(&mut local, 5, T0, &remote);
    }
    assert_eq!(local, once);
    assert_eq!(local.state, state(3, T0));
}

#[test]
fn counted_merge_goes_into_debt_and_pays_it_back_by_waiting() {
    let mut local = view(1, T0);
    receive(&mut local, 0, T0, &[entry(B, 4, T0 + 1)]);
    assert_eq!(local.state, state(-3, T0));
    assert_eq!(local.state.tokens_at(&limit(), at(T0 + 3 * SEC)), 0);
    assert_eq!(local.state.tokens_at(&limit(), at(T0 + 4 * SEC)), 1);
}

#[test]
fn one_record_moves_a_bucket_by_at_most_one_refill_window_and_debt_stops_at_the_floor() {
    let mut local = view(10, T0);
    for (n, expected) in [(1, 0), (2, -10), (3, -20), (4, -30), (5, -40), (6, -40)] {
        receive(&mut local, 10, T0, &[entry(B, n << 40, T0 + 1)]);
        assert_eq!(local.state, state(expected, T0), "record {n}");
    }
}

#[test]
fn a_partition_reserve_covers_the_others_spending_before_any_is_debited() {
    // While cut off this node charged 6 tokens on the others' behalf.
    let mut local = view(2, T0);
    local.reserve = 6;
    receive(&mut local, 10, T0, &[entry(B, 4, T0 + 1)]);
    assert_eq!((local.state, local.reserve), (state(2, T0), 2));
    receive(&mut local, 10, T0, &[entry(C, 5, T0 + 1)]);
    assert_eq!((local.state, local.reserve), (state(-1, T0), 0));
}

fn arb_entries() -> impl Strategy<Value = Vec<Entry>> {
    proptest::collection::vec(
        (
            1u64..=4,
            1u64..40,
            prop_oneof![Just(T0 - SEC), Just(T0 + 1)],
        )
            .prop_map(|(node, count, since)| entry(node, count, since)),
        0..6,
    )
}

proptest! {
    /// Snapshots of two nodes' growing counters, delivered in any order and any
    /// number of times: each node's spending is debited exactly once, in full.
    /// (Remote levels are full here so that only the debit moves the level.)
    #[test]
    fn spending_is_debited_exactly_once_in_any_order(
        b_spends in proptest::collection::vec(1u64..4, 1..4),
        c_spends in proptest::collection::vec(1u64..4, 1..4),
        deliveries in proptest::collection::vec((0usize..2, 0usize..6), 1..20),
    ) {
        let snapshots = |node: u64, spends: &[u64]| -> Vec<Vec<Entry>> {
            (1..=spends.len())
                .map(|n| vec![entry(node, spends[..n].iter().sum(), T0 + 1)])
                .collect()
        };
        let nodes = [snapshots(B, &b_spends), snapshots(C, &c_spends)];
        let mut local = view(10, T0);
        for &(node, i) in &deliveries {
            receive(&mut local, 10, T0, &nodes[node][i % nodes[node].len()]);
        }
        // Finally every node's latest snapshot arrives (perhaps again).
        receive(&mut local, 10, T0, nodes[0].last().unwrap());
        receive(&mut local, 10, T0, nodes[1].last().unwrap());
        let total: u64 = b_spends.iter().chain(&c_spends).sum();
        prop_assert_eq!(local.state, state(10 - total as i64, T0));
    }

    /// A counted merge never raises what a node admits, at any later instant,
    /// and lowers it by at most one full bucket (or to one bucket of debt).
    #[test]
    fn counted_merge_never_raises_a_level_nor_passes_the_floor(
        local_state in arb_state(),
        remote_state in arb_state(),
        local_entries in arb_entries(),
        remote_entries in arb_entries(),
        later in 0..100 * SEC,
    ) {
        let l = limit();
        let mut local = View { state: local_state.bounded(&l), spent: Spent::new(at(T0)), reserve: 0 };
        local.spent.absorb(&local_entries, u64::MAX);
        let before = local.clone();
        merge_counted(&l, &mut local.state, &mut local.spent, remote_state.bounded(&l), &remote_entries, &mut local.reserve);
        let t = at(local.state.stamp().as_unix_nanos() + later);
        prop_assert!(local.state.level_at(&l, t) <= before.state.level_at(&l, t));
        let full = BucketState::full(&l, t).level();
        let before_now = before.state.level_at(&l, local.state.stamp());
        prop_assert!(local.state.level() >= (before_now - full).min(-full));
    }
}

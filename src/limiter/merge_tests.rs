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

/// A node's view in counted mode: its bucket and its counter.
#[derive(Clone, Debug, PartialEq)]
struct View {
    state: BucketState,
    spent: Spent,
}

fn spent_by(entries: &[(u64, u32)]) -> Spent {
    let mut spent = Spent::new();
    for &(node, tokens) in entries {
        record_spend(&mut spent, node, tokens);
    }
    spent
}

fn view(tokens: i64, stamp: u64, spends: &[(u64, u32)]) -> View {
    View {
        state: state(tokens, stamp),
        spent: spent_by(spends),
    }
}

fn receive(me: u64, view: &mut View, remote: &View) {
    merge_counted(
        &limit(),
        me,
        &mut view.state,
        &mut view.spent,
        remote.state,
        &remote.spent,
    );
}

const ME: u64 = 1;
const B: u64 = 2;
const C: u64 = 3;

#[test]
fn counted_merge_debits_new_spending_by_others() {
    // Local: full (10 tokens). B says it spent 4 and holds 6.
    let mut local = view(10, T0, &[]);
    receive(ME, &mut local, &view(6, T0, &[(B, 4)]));
    assert_eq!(local.state, state(6, T0));
    // C independently spent 3 (C's own bucket says 7): the sum is debited.
    receive(ME, &mut local, &view(7, T0, &[(C, 3)]));
    assert_eq!(local.state, state(3, T0));
}

#[test]
fn counted_merge_debits_once_however_often_the_same_state_arrives() {
    let mut local = view(10, T0, &[(ME, 2)]);
    local.state = state(8, T0);
    let remote = view(5, T0, &[(B, 5)]);
    receive(ME, &mut local, &remote);
    let once = local.clone();
    for _ in 0..5 {
        receive(ME, &mut local, &remote);
    }
    assert_eq!(local, once);
    assert_eq!(local.state, state(3, T0));
}

#[test]
fn counted_merge_goes_into_debt_and_pays_it_back_by_waiting() {
    let mut local = view(1, T0, &[]);
    receive(ME, &mut local, &view(0, T0, &[(B, 4)]));
    assert_eq!(local.state, state(-3, T0));
    assert_eq!(local.state.tokens_at(&limit(), at(T0 + 3 * SEC)), 0);
    assert_eq!(local.state.tokens_at(&limit(), at(T0 + 4 * SEC)), 1);
}

#[test]
fn our_own_entry_catching_up_after_a_restart_is_not_debited() {
    // After a restart this node counts from 0; a peer still remembers 9 of ours.
    let mut local = view(10, T0, &[]);
    receive(ME, &mut local, &view(10, T0, &[(ME, 9)]));
    assert_eq!(local.state, state(10, T0));
}

fn arb_spends() -> impl Strategy<Value = Vec<(u64, u32)>> {
    proptest::collection::vec((1u64..=4, 1u32..5), 0..12)
}

proptest! {
    /// Snapshots of two nodes' growing counters, delivered in any order and any
    /// number of times: each node's spending is debited exactly once, in full.
    /// (Remote levels are full here so that only the debit moves the level.)
    #[test]
    fn spending_is_debited_exactly_once_in_any_order(
        b_spends in proptest::collection::vec(1u32..4, 1..6),
        c_spends in proptest::collection::vec(1u32..4, 1..6),
        deliveries in proptest::collection::vec((0usize..2, 0usize..6), 1..20),
    ) {
        let snapshots = |node: u64, spends: &[u32]| -> Vec<View> {
            (1..=spends.len())
                .map(|n| View {
                    state: state(10, T0),
                    spent: spent_by(&spends[..n].iter().map(|&t| (node, t)).collect::<Vec<_>>()),
                })
                .collect()
        };
        let nodes = [snapshots(B, &b_spends), snapshots(C, &c_spends)];
        let mut local = View { state: state(10, T0), spent: Spent::new() };
        for &(node, i) in &deliveries {
            receive(ME, &mut local, &nodes[node][i % nodes[node].len()]);
        }
        // Finally every node's latest snapshot arrives (perhaps again).
        receive(ME, &mut local, nodes[0].last().unwrap());
        receive(ME, &mut local, nodes[1].last().unwrap());
        let total: u32 = b_spends.iter().chain(&c_spends).sum();
        prop_assert_eq!(local.state, state(10 - i64::from(total), T0));
    }

    /// A counted merge never raises what a node admits, at any later instant.
    #[test]
    fn counted_merge_never_raises_a_level(
        local_state in arb_state(),
        remote_state in arb_state(),
        local_spends in arb_spends(),
        remote_spends in arb_spends(),
        later in 0..100 * SEC,
    ) {
        let l = limit();
        let mut view = View { state: local_state, spent: spent_by(&local_spends) };
        let before = view.clone();
        receive(ME, &mut view, &View { state: remote_state, spent: spent_by(&remote_spends) });
        let t = at(view.state.stamp().as_unix_nanos() + later);
        prop_assert!(view.state.level_at(&l, t) <= before.state.level_at(&l, t));
    }
}

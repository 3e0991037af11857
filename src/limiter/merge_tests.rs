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

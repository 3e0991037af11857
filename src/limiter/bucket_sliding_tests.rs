//! Sliding windows: the previous window's count weighted by what the last
//! window length still covers, its timing answers, its merge laws, and
//! counted mode's debit of a peer's previous-window spending.

use std::num::NonZeroU32;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::limiter::merge::{merge, merge_counted};
use crate::limiter::spent::{Entry, Spent};
use crate::limiter::window::Unit;

const SEC: u64 = 1_000_000_000;
/// A minute boundary (1_700_000_040 is a multiple of 60).
const EDGE: u64 = 1_700_000_040 * SEC;

fn sliding(capacity: u32) -> Limit {
    let minute = Algorithm::SlidingWindow(Unit::Minute);
    Limit::windowed(NonZeroU32::new(capacity).unwrap(), minute).unwrap()
}

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

fn admitted(s: &mut BucketState, l: &Limit, tries: u32, now: u64) -> u32 {
    (0..tries)
        .filter(|_| s.take(l, 1, at(now)).is_allowed())
        .count() as u32
}

#[test]
fn the_previous_windows_count_weighs_what_the_window_still_covers() {
    let l = sliding(10);
    let mut s = BucketState::full(&l, at(EDGE - 10 * SEC));
    assert_eq!(admitted(&mut s.clone(), &l, 20, EDGE - 10 * SEC), 10);
    assert_eq!(admitted(&mut s, &l, 10, EDGE - 10 * SEC), 10);
    // 15 s into the next minute 3/4 of the last one counts: ceil(7.5) = 8, so 2 are left.
    assert_eq!(s.tokens_at(&l, at(EDGE + 15 * SEC)), 2);
    assert_eq!(admitted(&mut s, &l, 5, EDGE + 15 * SEC), 2);
    // One more fits once the weight is down to 7: at 18 s (10 × 42/60), not before.
    let refused = s.take(&l, 1, at(EDGE + 15 * SEC));
    let Decision::Limited { retry_after, .. } = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(retry_after, Duration::from_secs(3));
    assert!(!s.clone().take(&l, 1, at(EDGE + 18 * SEC - 1)).is_allowed());
    assert!(s.take(&l, 1, at(EDGE + 18 * SEC)).is_allowed());
}

#[test]
fn a_sliding_window_names_its_length_but_counts_two() {
    let l = sliding(10);
    assert_eq!(l.policy_window(), Duration::from_secs(60));
    assert_eq!(
        l.window(),
        Duration::from_secs(120),
        "the previous window still counts"
    );
}

#[test]
fn a_full_window_waits_into_the_next_for_its_weight_to_fall() {
    let l = sliding(10);
    let mut s = BucketState::full(&l, at(EDGE + SEC));
    assert_eq!(admitted(&mut s, &l, 10, EDGE + SEC), 10);
    let refused = s.take(&l, 1, at(EDGE + SEC));
    // 59 s to the boundary, then 6 s until 10 × 54/60 = 9 leaves one.
    let reset = Duration::from_secs(59 + 60);
    let retry = Duration::from_secs(59 + 6);
    assert_eq!(
        refused,
        Decision::Limited {
            remaining: 0,
            retry_after: retry,
            reset
        }
    );
    assert!(!s.clone().take(&l, 1, at(EDGE + 66 * SEC - 1)).is_allowed());
    assert!(s.take(&l, 1, at(EDGE + 66 * SEC)).is_allowed());
    // Two windows on, nothing counts any more: the state is full and may be forgotten.
    assert!(s.is_full_at(&l, at(EDGE + 180 * SEC)));
    assert!(!s.is_full_at(&l, at(EDGE + 179 * SEC)));
}

#[test]
fn a_sliding_window_never_admits_more_than_its_quota_in_any_window_length() {
    let l = sliding(6);
    let mut s = BucketState::full(&l, at(EDGE));
    let mut times = Vec::new();
    // A request every second for five minutes: the admitted ones never
    // number more than 6 in any 60 s (the rounding up is what keeps it so).
    for t in 0..300 {
        if s.take(&l, 1, at(EDGE + t * SEC)).is_allowed() {
            times.push(t);
        }
    }
    for (i, &t) in times.iter().enumerate() {
        let within = times[i..].iter().take_while(|&&u| u < t + 60).count();
        assert!(within <= 6, "{within} within 60 s of {t}");
    }
    assert!(
        times.len() >= 25,
        "about the quota per minute: {}",
        times.len()
    );
}

fn entry(node: u64, count: u64, since: u64) -> Entry {
    Entry {
        node,
        count,
        since: at(since),
    }
}

#[test]
fn counted_mode_counts_a_peers_previous_window_in_the_previous_count() {
    let l = sliding(10);
    let mut spent = Spent::new(at(EDGE - 400 * SEC));
    let mut reserve = 0;
    let mut local = BucketState::full(&l, at(EDGE + 30 * SEC));
    // A peer spent 6 in the last minute, heard of only now (half its weight left).
    let late = BucketState::from_parts(4, at(EDGE - SEC));
    let last_minute = [entry(7, 6, EDGE - 50 * SEC)];
    merge_counted(&l, &mut local, &mut spent, late, &last_minute, &mut reserve);
    assert_eq!((local.level(), local.prev()), (10, 6));
    assert_eq!(local.tokens_at(&l, at(EDGE + 30 * SEC)), 7);
    // Spending two windows old counts no more.
    let old = BucketState::from_parts(0, at(EDGE - 61 * SEC));
    let two_ago = [entry(8, 10, EDGE - 100 * SEC)];
    merge_counted(&l, &mut local, &mut spent, old, &two_ago, &mut reserve);
    assert_eq!((local.level(), local.prev()), (10, 6));
    // One record with both windows' spending puts each where it fell.
    let both = [entry(9, 2, EDGE + 31 * SEC), entry(10, 1, EDGE - 2 * SEC)];
    let now = BucketState::from_sliding(8, 7, at(EDGE + 32 * SEC));
    merge_counted(&l, &mut local, &mut spent, now, &both, &mut reserve);
    assert_eq!((local.level(), local.prev()), (8, 7));
}

fn arb_state() -> impl Strategy<Value = BucketState> {
    // Counts within bounds, stamps over three one-minute windows.
    (-10i64..=10, 0i64..=10, 0u64..180 * SEC)
        .prop_map(|(level, prev, t)| BucketState::from_sliding(level, prev, at(EDGE + t)))
}

proptest! {
    #[test]
    fn sliding_merge_is_commutative_associative_and_idempotent(
        a in arb_state(), b in arb_state(), c in arb_state()
    ) {
        let l = sliding(10);
        prop_assert_eq!(merge(&l, a, b), merge(&l, b, a));
        prop_assert_eq!(merge(&l, merge(&l, a, b), c), merge(&l, a, merge(&l, b, c)));
        let m = merge(&l, a, b);
        prop_assert_eq!(merge(&l, m, m), m);
        prop_assert_eq!(merge(&l, m, a), m);
    }

    #[test]
    fn sliding_merge_never_raises_what_a_node_admits(
        a in arb_state(), b in arb_state(), later in 0u64..240 * SEC
    ) {
        let l = sliding(10);
        let m = merge(&l, a, b);
        let t = at(EDGE + later).max(m.stamp());
        prop_assert!(m.level_at(&l, t) <= a.level_at(&l, t));
        prop_assert!(m.level_at(&l, t) <= b.level_at(&l, t));
    }
}

/// A sliding window whose quota changes keeps the previous window's count:
/// a new capacity must not forgive what was just spent.
#[test]
fn a_new_capacity_keeps_the_previous_windows_count() {
    let (small, large) = (sliding(10), sliding(20));
    let mut s = BucketState::full(&small, at(EDGE - 10 * SEC));
    assert_eq!(admitted(&mut s, &small, 10, EDGE - 10 * SEC), 10);
    let s = s.refilled_to(&small, at(EDGE + SEC));
    assert_eq!(s.prev(), 10, "the last minute's count: {s:?}");
    let moved = crate::limiter::merge::rescale(s, &small, &large);
    assert_eq!(moved.prev(), 10, "{moved:?}");
}

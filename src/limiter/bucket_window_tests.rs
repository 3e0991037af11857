//! Window limits as bucket states: counts, steps to full at a window's end,
//! timing answers at the window's end, and the merge laws on window states.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono_tz::America;
use proptest::prelude::*;

use super::*;
use crate::limiter::merge::{merge, merge_counted};
use crate::limiter::spent::{Entry, Spent};
use crate::limiter::window::Unit;

const SEC: u64 = 1_000_000_000;
/// A minute boundary (1_700_000_040 is a multiple of 60).
const EDGE: u64 = 1_700_000_040 * SEC;

fn fixed(capacity: u32, unit: Unit) -> Limit {
    Limit::windowed(
        NonZeroU32::new(capacity).unwrap(),
        Algorithm::FixedWindow(unit),
    )
    .unwrap()
}

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

#[test]
fn a_fixed_window_admits_its_quota_then_refuses_until_its_end() {
    let l = fixed(3, Unit::Minute);
    let now = at(EDGE - 10 * SEC);
    let mut s = BucketState::full(&l, now);
    for left in (0..3).rev() {
        let reset = Duration::from_secs(10);
        assert_eq!(
            s.take(&l, 1, now),
            Decision::Allowed {
                remaining: left,
                reset
            }
        );
    }
    // Refused exactly when count + hits > requests_per_unit, told to come back at the end.
    let later = at(EDGE - 4 * SEC);
    let four = Duration::from_secs(4);
    let refused = Decision::Limited {
        remaining: 0,
        retry_after: four,
        reset: four,
    };
    assert_eq!(s.take(&l, 1, later), refused);
    // No gradual refill within the window, all of it at the boundary.
    assert_eq!(s.tokens_at(&l, at(EDGE - 1)), 0);
    assert_eq!(s.tokens_at(&l, at(EDGE)), 3);
    assert!(s.is_full_at(&l, at(EDGE)));
    assert!(s.take(&l, 1, at(EDGE)).is_allowed());
}

#[test]
fn a_request_of_more_than_is_left_takes_nothing() {
    let l = fixed(5, Unit::Second);
    let mut s = BucketState::full(&l, at(EDGE));
    assert!(s.take(&l, 4, at(EDGE)).is_allowed());
    assert!(!s.take(&l, 2, at(EDGE)).is_allowed());
    assert_eq!(s.tokens_at(&l, at(EDGE)), 1);
}

#[test]
fn a_window_limit_reports_its_window_not_a_refill_time() {
    let l = fixed(100, Unit::Hour);
    assert_eq!(l.window(), Duration::from_secs(3600));
    assert!(l.algorithm().is_window());
    let month = Algorithm::Calendar(Unit::Month, America::New_York);
    let l = Limit::windowed(NonZeroU32::new(30).unwrap(), month).unwrap();
    assert_eq!(l.window(), Duration::from_secs(31 * 86_400 + 3600));
    let hourly = Algorithm::Calendar(Unit::Hour, America::New_York);
    assert_eq!(
        Limit::windowed(NonZeroU32::MIN, hourly),
        Err(LimitError::NotCalendar)
    );
    let bucket = Algorithm::TokenBucket;
    assert_eq!(
        Limit::windowed(NonZeroU32::MIN, bucket),
        Err(LimitError::NotAWindow)
    );
}

#[test]
fn a_calendar_month_resets_at_local_midnight_on_the_first() {
    let month = Algorithm::Calendar(Unit::Month, America::New_York);
    let l = Limit::windowed(NonZeroU32::new(2).unwrap(), month).unwrap();
    // 2026-02-01T00:00:00-05:00.
    let first = 1_769_922_000 * SEC;
    let mut s = BucketState::full(&l, at(first - 5 * SEC));
    assert!(s.take(&l, 2, at(first - 5 * SEC)).is_allowed());
    let refused = s.take(&l, 1, at(first - 2 * SEC));
    assert!(
        matches!(refused, Decision::Limited { retry_after, .. } if retry_after == Duration::from_secs(2))
    );
    assert!(s.take(&l, 1, at(first)).is_allowed());
}

#[test]
fn merging_window_states_keeps_the_later_windows_count() {
    let l = fixed(10, Unit::Minute);
    let old = BucketState::from_parts(0, at(EDGE - SEC));
    let new = BucketState::from_parts(7, at(EDGE + SEC));
    // The empty view is of a window that is over: the later window's count wins.
    assert_eq!(merge(&l, old, new), new);
    assert_eq!(merge(&l, new, old), new);
    // Within one window, the fewer left wins.
    let fewer = BucketState::from_parts(3, at(EDGE + 2 * SEC));
    assert_eq!(merge(&l, new, fewer), fewer);
}

/// Generation `node` of a peer, begun `since` seconds from the boundary
/// (a window's spending is counted under a generation begun in it).
fn entry(node: u64, count: u64, since: i64) -> Entry {
    let since = EDGE.checked_add_signed(since * SEC as i64).unwrap();
    Entry {
        node,
        count,
        since: at(since),
    }
}

fn receive(
    l: &Limit,
    local: &mut BucketState,
    spent: &mut Spent,
    remote: BucketState,
    e: &[Entry],
) {
    merge_counted(l, local, spent, remote, e, &mut 0);
}

#[test]
fn counted_merge_never_debits_an_earlier_windows_spending_from_the_current_one() {
    let l = fixed(10, Unit::Minute);
    let mut spent = Spent::new(at(EDGE - 200 * SEC));
    // This node is in the new window with 8 left.
    let mut local = BucketState::from_parts(8, at(EDGE + 5 * SEC));
    // A peer's record from the old window, delivered late: 6 spent there.
    let late = BucketState::from_parts(4, at(EDGE - SEC));
    receive(&l, &mut local, &mut spent, late, &[entry(7, 6, -30)]);
    assert_eq!(
        local.level(),
        8,
        "the old window's spending is not ours to pay"
    );
    // The peer then spends 2 in the new window: only those are debited.
    let now = BucketState::from_parts(8, at(EDGE + 6 * SEC));
    receive(
        &l,
        &mut local,
        &mut spent,
        now,
        &[entry(8, 2, 6), entry(7, 6, -30)],
    );
    assert_eq!(local.level(), 6);
}

#[test]
fn spending_kept_quiet_over_the_boundary_is_debited_only_as_far_as_it_fell_in_this_window() {
    let l = fixed(10, Unit::Minute);
    let mut spent = Spent::new(at(EDGE - 200 * SEC));
    let mut local = BucketState::full(&l, at(EDGE + 2 * SEC));
    // One record, sent in the new window, carries 3 spent just before the
    // boundary (an older generation, grown unheard) and 2 just after.
    let remote = BucketState::from_parts(8, at(EDGE + 3 * SEC));
    receive(
        &l,
        &mut local,
        &mut spent,
        remote,
        &[entry(2, 2, 1), entry(1, 3, -1)],
    );
    assert_eq!(local.level(), 8);
}

#[test]
fn counted_merge_moves_an_old_local_state_to_the_remote_window_before_debiting() {
    let l = fixed(10, Unit::Minute);
    let mut spent = Spent::new(at(EDGE - 200 * SEC));
    // This node spent its whole old window; a peer spends 3 in the new one.
    let mut local = BucketState::from_parts(0, at(EDGE - SEC));
    let remote = BucketState::from_parts(7, at(EDGE + SEC));
    receive(&l, &mut local, &mut spent, remote, &[entry(9, 3, 1)]);
    assert_eq!((local.level(), local.stamp()), (7, at(EDGE + SEC)));
}

fn arb_state() -> impl Strategy<Value = BucketState> {
    // Levels within bounds, stamps over three one-second windows.
    (-10i64..=10, 0u64..3 * SEC).prop_map(|(level, t)| BucketState::from_parts(level, at(EDGE + t)))
}

proptest! {
    #[test]
    fn window_merge_is_commutative(a in arb_state(), b in arb_state()) {
        let l = fixed(10, Unit::Second);
        prop_assert_eq!(merge(&l, a, b), merge(&l, b, a));
    }

    #[test]
    fn window_merge_is_associative(a in arb_state(), b in arb_state(), c in arb_state()) {
        let l = fixed(10, Unit::Second);
        prop_assert_eq!(merge(&l, merge(&l, a, b), c), merge(&l, a, merge(&l, b, c)));
    }

    #[test]
    fn window_merge_is_idempotent(a in arb_state(), b in arb_state()) {
        let l = fixed(10, Unit::Second);
        let m = merge(&l, a, b);
        prop_assert_eq!(merge(&l, m, m), m);
        prop_assert_eq!(merge(&l, m, b), m);
    }

    #[test]
    fn window_merge_never_raises_a_level(a in arb_state(), b in arb_state(), later in 0..3 * SEC) {
        let l = fixed(10, Unit::Second);
        let m = merge(&l, a, b);
        let t = at(EDGE + later);
        prop_assert!(m.level_at(&l, t) <= a.level_at(&l, t).max(b.level_at(&l, t)));
        prop_assert!(m.level_at(&l, t) <= a.level_at(&l, t.max(m.stamp())));
    }
}

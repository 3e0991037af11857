//! Unit tests of the bucket arithmetic: exact refill, exact timing, extremes.

use super::*;
use proptest::prelude::*;

const SEC: u64 = 1_000_000_000;

fn limit(capacity: u32, interval: Duration) -> Limit {
    Limit::new(NonZeroU32::new(capacity).unwrap(), interval).unwrap()
}

fn per_sec(capacity: u32, rate: u64) -> Limit {
    limit(capacity, Duration::from_nanos(SEC / rate))
}

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

fn drain(state: &mut BucketState, limit: &Limit, now: Stamp) {
    while state.take(limit, 1, now).is_allowed() {}
}

const T0: u64 = 1_700_000_000 * SEC;

#[test]
fn fresh_bucket_allows_capacity_then_limits() {
    let l = per_sec(10, 1);
    let mut b = BucketState::full(&l, at(T0));
    for left in (0..10).rev() {
        assert_eq!(
            b.take(&l, 1, at(T0)),
            Decision::Allowed {
                remaining: left,
                reset: Duration::from_secs(10 - left)
            }
        );
    }
    assert_eq!(
        b.take(&l, 1, at(T0)),
        Decision::Limited {
            remaining: 0,
            retry_after: Duration::from_secs(1),
            reset: Duration::from_secs(10)
        }
    );
}

#[test]
fn refill_is_exact_after_long_idle_periods() {
    let l = per_sec(10, 1);
    let mut b = BucketState::full(&l, at(T0));
    drain(&mut b, &l, at(T0));
    assert_eq!(b.tokens_at(&l, at(T0 + 5 * SEC - 1)), 4);
    assert_eq!(b.tokens_at(&l, at(T0 + 5 * SEC)), 5);
    // A year idle fills the bucket, and no further.
    let year = 365 * 24 * 3600 * SEC;
    assert_eq!(b.tokens_at(&l, at(T0 + year)), 10);
    assert!(b.is_full_at(&l, at(T0 + 10 * SEC)));
    assert!(!b.is_full_at(&l, at(T0 + 10 * SEC - 1)));
}

#[test]
fn retry_after_is_exact() {
    let l = per_sec(10, 1);
    let mut b = BucketState::full(&l, at(T0));
    drain(&mut b, &l, at(T0));
    match b.take(&l, 1, at(T0 + 300_000_000)) {
        Decision::Limited {
            retry_after, reset, ..
        } => {
            assert_eq!(retry_after, Duration::from_millis(700));
            assert_eq!(reset, Duration::from_millis(9_700));
        }
        other => panic!("expected limited, got {other:?}"),
    }
    // Exactly at the promised instant the request goes through.
    assert!(b.take(&l, 1, at(T0 + SEC)).is_allowed());
    assert!(!b.take(&l, 1, at(T0 + SEC)).is_allowed());
}

#[test]
fn one_per_hour() {
    let hour = Duration::from_secs(3600);
    let l = limit(1, hour);
    let mut b = BucketState::full(&l, at(T0));
    assert!(b.take(&l, 1, at(T0)).is_allowed());
    let limited = b.take(&l, 1, at(T0 + 3600 * SEC - 1));
    assert_eq!(
        limited,
        Decision::Limited {
            remaining: 0,
            retry_after: Duration::from_nanos(1),
            reset: Duration::from_nanos(1)
        }
    );
    assert!(b.take(&l, 1, at(T0 + 3600 * SEC)).is_allowed());
    assert_eq!(l.window(), hour);
}

#[test]
fn one_million_per_second() {
    let l = per_sec(1_000_000, 1_000_000);
    let mut b = BucketState::full(&l, at(T0));
    assert!(b.take(&l, 1_000_000, at(T0)).is_allowed());
    assert!(!b.take(&l, 1, at(T0)).is_allowed());
    assert_eq!(b.tokens_at(&l, at(T0 + 1_000)), 1);
    assert_eq!(b.tokens_at(&l, at(T0 + 999)), 0);
    assert_eq!(b.tokens_at(&l, at(T0 + SEC)), 1_000_000);
}

#[test]
fn capacity_one() {
    let l = per_sec(1, 2);
    let mut b = BucketState::full(&l, at(T0));
    assert_eq!(
        b.take(&l, 1, at(T0)),
        Decision::Allowed {
            remaining: 0,
            reset: Duration::from_millis(500)
        }
    );
    assert_eq!(
        b.take(&l, 1, at(T0 + 100_000_000)),
        Decision::Limited {
            remaining: 0,
            retry_after: Duration::from_millis(400),
            reset: Duration::from_millis(400)
        }
    );
    assert!(b.take(&l, 1, at(T0 + 500_000_000)).is_allowed());
}

#[test]
fn a_limited_request_takes_nothing() {
    let l = per_sec(3, 1);
    let mut b = BucketState::full(&l, at(T0));
    assert!(!b.take(&l, 4, at(T0)).is_allowed());
    assert_eq!(b.tokens_at(&l, at(T0)), 3);
}

#[test]
fn limits_outside_the_representable_range_are_refused() {
    let cap = NonZeroU32::new(u32::MAX).unwrap();
    assert_eq!(
        Limit::new(cap, Duration::ZERO),
        Err(LimitError::RateTooHigh)
    );
    assert_eq!(
        Limit::new(NonZeroU32::MIN, MAX_REFILL_WINDOW + Duration::from_nanos(1)),
        Err(LimitError::WindowTooLong)
    );
    assert!(Limit::new(NonZeroU32::MIN, MAX_REFILL_WINDOW).is_ok());
    // The largest capacity at the highest rate.
    assert!(Limit::new(cap, Duration::from_nanos(1)).is_ok());
}

#[test]
fn extreme_values_do_not_overflow() {
    let cap = NonZeroU32::new(u32::MAX).unwrap();
    let slowest = Duration::from_nanos(MAX_REFILL_WINDOW.as_nanos() as u64 / u64::from(u32::MAX));
    for l in [
        Limit::new(cap, Duration::from_nanos(1)).unwrap(),
        Limit::new(cap, slowest).unwrap(),
        Limit::new(NonZeroU32::MIN, MAX_REFILL_WINDOW).unwrap(),
    ] {
        let mut b = BucketState::full(&l, at(0));
        assert!(b.take(&l, u32::MAX, at(0)).is_allowed() || l.capacity() < u32::MAX);
        assert!(!b.take(&l, u32::MAX, at(0)).is_allowed());
        // The end of representable time: full, no panic.
        assert!(b.is_full_at(&l, at(u64::MAX)));
        assert!(b.take(&l, 1, at(u64::MAX)).is_allowed());
        assert_eq!(b.tokens_at(&l, at(u64::MAX)), u64::from(l.capacity()) - 1);
    }
}

#[test]
fn a_clock_stepping_back_never_sticks_the_bucket() {
    let l = per_sec(2, 1);
    let mut b = BucketState::full(&l, at(T0 + 3600 * SEC));
    drain(&mut b, &l, at(T0 + 3600 * SEC));
    // The wall clock steps back an hour: refill resumes from the new time,
    // it does not wait an hour for the old stamp.
    assert!(!b.take(&l, 1, at(T0)).is_allowed());
    assert!(b.take(&l, 1, at(T0 + SEC)).is_allowed());
}

proptest! {
    /// No drift: refilling in any number of small steps gives exactly the level
    /// of one step over the same time.
    #[test]
    fn refill_in_steps_equals_refill_at_once(
        capacity in 1u32..1_000,
        interval in 1u64..10_000_000_000,
        steps in proptest::collection::vec(0u64..5_000_000_000, 1..50),
        spent in 0u32..1_000,
    ) {
        let l = limit(capacity, Duration::from_nanos(interval));
        let mut stepped = BucketState::full(&l, at(T0));
        stepped.take(&l, spent.min(capacity), at(T0));
        let once = stepped;
        let mut now = T0;
        for step in &steps {
            now += step;
            stepped.advance(&l, at(now));
        }
        prop_assert_eq!(stepped.level(), once.level_at(&l, at(now)));
    }

    /// `remaining` counts exactly the requests that will still succeed right away.
    #[test]
    fn remaining_predicts_the_next_requests(capacity in 1u32..200, interval in 1u64..SEC) {
        let l = limit(capacity, Duration::from_nanos(interval));
        let mut b = BucketState::full(&l, at(T0));
        if let Decision::Allowed { remaining, .. } = b.take(&l, 1, at(T0)) {
            for _ in 0..remaining {
                prop_assert!(b.take(&l, 1, at(T0)).is_allowed());
            }
            prop_assert!(!b.take(&l, 1, at(T0)).is_allowed());
        } else {
            prop_assert!(false, "a full bucket refused one token");
        }
    }
}

//! Unit tests of the refusal summary: exact while small, a heavy key
//! survives a flood of one-off keys, and counts decay.

use super::*;

const SEC: u64 = 1_000_000_000;
/// A whole number of half-lives since the epoch.
const T0: u64 = 1_700_000_040 * SEC;

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

fn rule() -> Arc<str> {
    Arc::from("per-user")
}

#[test]
fn counts_are_exact_with_fewer_keys_than_capacity() {
    let mut s = Summary::new(8);
    for (key, times) in [("a", 5), ("b", 3), ("c", 1)] {
        for _ in 0..times {
            s.record(key, &rule(), at(T0));
        }
    }
    let top = s.top(10, at(T0));
    let counts: Vec<_> = top.iter().map(|e| (&*e.key, e.refusals, e.error)).collect();
    assert_eq!(counts, [("a", 5, 0), ("b", 3, 0), ("c", 1, 0)]);
    assert_eq!(&*top[0].rule, "per-user");
    assert_eq!(s.top(2, at(T0)).len(), 2);
}

#[test]
fn a_heavy_key_survives_a_flood_of_one_off_keys() {
    let mut s = Summary::new(CAPACITY);
    for i in 0..10_000u64 {
        s.record(&format!("random-{i}"), &rule(), at(T0));
        if i % 50 == 0 {
            s.record("alice", &rule(), at(T0));
        }
    }
    let top = s.top(CAPACITY, at(T0));
    assert!(top.len() <= CAPACITY);
    assert_eq!(&*top[0].key, "alice", "{:?}", &top[..3]);
    assert!(top[0].refusals - top[0].error <= 200);
    assert!(top[0].refusals >= 200);
    assert!(s.places.len() <= CAPACITY);
}

#[test]
fn counts_halve_every_half_life_and_vanish_at_zero() {
    let mut s = Summary::new(8);
    for _ in 0..8 {
        s.record("a", &rule(), at(T0));
    }
    s.record("b", &rule(), at(T0));
    let half = HALF_LIFE.as_nanos() as u64;
    let top = s.top(8, at(T0 + half));
    assert_eq!(top.len(), 1, "b's one refusal halved to nothing");
    assert_eq!((&*top[0].key, top[0].refusals), ("a", 4));
    let top = s.top(8, at(T0 + 3 * half));
    assert_eq!(top[0].refusals, 1);
    assert!(s.top(8, at(T0 + 10 * half)).is_empty());
    // Counting starts again, exact, after the decay.
    s.record("b", &rule(), at(T0 + 10 * half));
    assert_eq!(s.top(8, at(T0 + 10 * half))[0].refusals, 1);
}

#[test]
fn within_a_period_nothing_decays() {
    let mut s = Summary::new(8);
    // Periods are aligned to whole half-lives of the Unix epoch.
    s.record("a", &rule(), at(T0 + 20 * SEC));
    assert_eq!(s.period_start(), Some(at(T0)));
    assert_eq!(s.top(8, at(T0 + 59 * SEC))[0].refusals, 1);
    assert_eq!(s.top(8, at(T0 + 60 * SEC)).len(), 0);
}

#[test]
fn the_shared_summary_reports_the_last_refusal() {
    let refusals = Refusals::default();
    let key = |buf: &mut String| {
        buf.push('a');
        true
    };
    refusals.try_record(key, &rule(), at(T0));
    refusals.try_record(key, &rule(), at(T0 + SEC));
    let (top, since) = refusals.top(CAPACITY, at(T0 + SEC));
    assert_eq!(top[0].last, at(T0 + SEC));
    assert_eq!(top[0].refusals, 2);
    assert!(since.is_some());
}

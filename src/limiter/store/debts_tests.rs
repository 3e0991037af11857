//! Unit tests of `debts`.

use super::*;

const T0: u64 = 1_700_000_000_000_000_000;

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

#[test]
fn a_key_that_owes_nothing_is_full_now() {
    assert_eq!(Debts::new().full_again_at("alice"), Stamp::default());
}

#[test]
fn a_debt_is_never_under_estimated_whatever_else_is_written() {
    let debts = Debts::new();
    debts.owe("alice", at(T0 + 5));
    for (i, id) in (0..100_000u64).map(|i| (i, format!("flood-{i}"))) {
        // Earlier and later debts over every cell: alice's can only grow.
        debts.owe(&id, at(T0 + i % 10));
    }
    assert!(debts.full_again_at("alice") >= at(T0 + 5));
}

#[test]
fn the_latest_debt_of_a_key_is_the_one_kept() {
    let debts = Debts::new();
    debts.owe("alice", at(T0 + 9));
    debts.owe("alice", at(T0 + 3));
    assert_eq!(debts.full_again_at("alice"), at(T0 + 9));
}

#[test]
fn few_debts_seldom_touch_a_key_that_owes_nothing() {
    // 1,000 keys owing at once: a key that owes nothing shares all four
    // of its cells with them with probability about (1000/16384)^4 ≈ 1e-5.
    let debts = Debts::new();
    for i in 0..1_000 {
        debts.owe(&format!("owing-{i}"), at(T0 + 1));
    }
    let charged = (0..10_000)
        .filter(|i| debts.full_again_at(&format!("innocent-{i}")) != Stamp::default())
        .count();
    assert!(charged <= 5, "{charged} of 10,000 innocent keys charged");
}

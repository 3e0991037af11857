//! Unit tests of `spent`.

use super::*;

const T0: u64 = 1_700_000_000_000_000_000;

fn at(ns: u64) -> Stamp {
    Stamp::from_unix_nanos(ns)
}

fn entry(node: u64, count: u64, since: u64) -> Entry {
    Entry {
        node,
        count,
        since: at(since),
    }
}

#[test]
fn growth_of_a_known_entry_is_new_spending_once() {
    let mut s = Spent::new(at(T0));
    assert_eq!(s.absorb(&[entry(7, 3, T0 + 1)], u64::MAX), 3);
    assert_eq!(s.absorb(&[entry(7, 3, T0 + 1)], u64::MAX), 0);
    assert_eq!(s.absorb(&[entry(7, 5, T0 + 1)], u64::MAX), 2);
    assert_eq!(s.absorb(&[entry(7, 4, T0 + 1)], u64::MAX), 0);
}

#[test]
fn an_unseen_entry_older_than_our_tracking_is_history_not_a_charge() {
    // We start tracking at T0 + 10; a peer's generation began at T0 and spent 35.
    let mut s = Spent::new(at(T0 + 10));
    assert_eq!(s.absorb(&[entry(7, 35, T0)], u64::MAX), 0);
    // From then on its growth counts.
    assert_eq!(s.absorb(&[entry(7, 37, T0)], u64::MAX), 2);
}

#[test]
fn growth_beyond_the_budget_stays_news_for_later_records() {
    let mut s = Spent::new(at(T0));
    assert_eq!(s.absorb(&[entry(7, 25, T0 + 1)], 10), 10);
    assert_eq!(s.absorb(&[entry(7, 25, T0 + 1)], 10), 10);
    assert_eq!(s.absorb(&[entry(7, 25, T0 + 1)], 10), 5);
    assert_eq!(s.absorb(&[entry(7, 25, T0 + 1)], 10), 0);
    // Two generations share one record's budget.
    assert_eq!(
        s.absorb(&[entry(7, 30, T0 + 1), entry(8, 30, T0 + 1)], 10),
        10
    );
    assert_eq!(
        s.absorb(&[entry(7, 30, T0 + 1), entry(8, 30, T0 + 1)], 40),
        25
    );
}

#[test]
fn our_own_entry_echoed_back_is_ignored() {
    let mut s = Spent::new(at(T0));
    s.record(4, at(T0), || 99);
    assert_eq!(s.absorb(&[entry(99, 40, T0)], u64::MAX), 0);
    assert_eq!(s.own_count(), 4);
}

#[test]
fn unrecord_takes_back_only_our_own_tokens() {
    let mut s = Spent::new(at(T0));
    s.record(4, at(T0), || 99);
    s.unrecord(3);
    assert_eq!(s.own_count(), 1);
    s.unrecord(5);
    assert_eq!(s.own_count(), 0);
}

#[test]
fn entries_stay_bounded_and_a_forgotten_entry_comes_back_as_history() {
    let mut s = Spent::new(at(T0));
    s.record(1, at(T0), || 0);
    for node in 1..=10_000u64 {
        s.absorb(&[entry(node, 5, T0 + 1)], u64::MAX);
        assert!(s.entries().count() <= MAX_ENTRIES);
    }
    // Node 1 was forgotten long ago: its 5 tokens were debited then, and
    // its next record is not charged again (its growth is lost instead).
    assert!(!s.entries().any(|e| e.node == 1));
    assert_eq!(s.absorb(&[entry(1, 6, T0 + 1)], u64::MAX), 0);
    // A generation that begins after the forgotten ones is still news.
    assert_eq!(s.absorb(&[entry(20_000, 3, T0 + 2)], u64::MAX), 3);
}

#[test]
fn spending_before_a_reset_is_forgiven_and_spending_after_it_is_not() {
    let mut s = Spent::new(at(T0));
    s.record(2, at(T0), || 99);
    assert_eq!(s.absorb(&[entry(7, 3, T0 + 1)], u64::MAX), 3);
    s.forgive_before(at(T0 + 10));
    // A generation from before the reset grows (spent before its node heard).
    assert_eq!(s.absorb(&[entry(7, 8, T0 + 1)], u64::MAX), 0);
    // One from before the reset, never seen: history.
    assert_eq!(s.absorb(&[entry(8, 4, T0 + 5)], u64::MAX), 0);
    // One begun after: news, and its growth too.
    assert_eq!(s.absorb(&[entry(9, 2, T0 + 11)], u64::MAX), 2);
    assert_eq!(s.absorb(&[entry(9, 3, T0 + 11)], u64::MAX), 1);
    // Our own generation ended at the reset: the next spending starts a new one.
    assert_eq!(s.own_count(), 0);
    s.record(1, at(T0 + 12), || 100);
    assert_eq!(
        s.entries().next().map(|e| (e.node, e.count)),
        Some((100, 1))
    );
    assert!(s.entries().any(|e| e.node == 99 && e.count == 2));
}

#[test]
fn the_most_recently_grown_entries_are_kept() {
    let mut s = Spent::new(at(T0));
    for node in 1..=MAX_ENTRIES as u64 {
        s.absorb(&[entry(node, 1, T0)], u64::MAX);
    }
    // Node 2 grows, then 40 new nodes arrive: node 2 outlives node 3.
    s.absorb(&[entry(2, 2, T0)], u64::MAX);
    s.absorb(&[entry(100, 1, T0)], u64::MAX);
    let kept: Vec<u64> = s.entries().map(|e| e.node).collect();
    assert!(kept.contains(&2));
    assert!(!kept.contains(&1));
}

/// A window key spent on in window after window keeps the entries of this
/// window and the one before, not one per window up to the cap; an old
/// window's entry echoed back later is history, never a debit.
#[test]
fn a_window_keys_record_keeps_only_this_window_and_the_one_before() {
    const W: u64 = 1_000_000_000;
    let mut s = Spent::new(at(T0));
    let mut next = 0;
    for w in 0..600 {
        let start = T0 + w * W;
        let window = Some((at(start), at(start.saturating_sub(W).max(T0))));
        s.record_in(window, 1, at(start + 1), || {
            next += 1;
            next
        });
    }
    assert!(s.entries().count() <= 3, "{} entries", s.entries().count());
    assert_eq!(s.absorb(&[entry(1, 5, T0 + 1)], u64::MAX), 0);
}

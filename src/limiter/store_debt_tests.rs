//! Unit tests of what evicted buckets owe: a key dropped under pressure
//! comes back with its debt, never a fresh bucket; resets forgive it; peers'
//! records neither erase it nor charge it twice. And a property test: at the
//! cap, whatever the order of requests, floods, sweeps and time, no user is
//! admitted more than their limit.

use super::replication_tests::{limit, node, tokens};
use super::*;
use crate::limiter::merge::MergeMode;
use proptest::prelude::*;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

/// `capacity` tokens, one a second.
fn per_sec(capacity: u32) -> Limit {
    Limit::new(NonZeroU32::new(capacity).unwrap(), Duration::from_secs(1)).unwrap()
}

/// A standalone store of 10 tokens, one a second, holding at most 4 keys.
fn small() -> Store {
    Store::new(per_sec(10), NonZeroUsize::new(4).unwrap())
}

fn admitted(store: &Store, key: &str, tries: u32, now: Stamp) -> u32 {
    (0..tries)
        .filter(|_| store.check(key, 1, now).is_allowed())
        .count() as u32
}

/// New IDs that each drain their bucket at `now`: at the cap, every bucket
/// is mid-refill, so each insert evicts the fullest under pressure.
fn flood(store: &Store, from: u32, ids: u32, now: Stamp) {
    for i in from..from + ids {
        let key = format!("flood-{i}");
        let limit = *store.default_limit();
        while store.check_with(&key, &limit, 1, now).is_allowed() {}
    }
}

#[test]
fn a_user_evicted_under_pressure_comes_back_with_what_they_owed() {
    let s = small();
    assert_eq!(admitted(&s, "alice", 5, at(T0)), 5);
    flood(&s, 0, 8, at(T0));
    assert!(s.get("alice").is_none(), "alice was the fullest: evicted");
    assert!(s.evictions().pressure >= 1);
    assert_eq!(admitted(&s, "alice", 20, at(T0)), 5);
}

#[test]
fn a_returning_key_refills_from_where_it_left() {
    let s = small();
    admitted(&s, "alice", 8, at(T0));
    flood(&s, 0, 8, at(T0));
    assert!(s.get("alice").is_none());
    // 2 left, and 3 s of refill.
    assert!(matches!(
        s.check("alice", 1, at(T0 + 3 * SEC)),
        Decision::Allowed { remaining: 4, .. }
    ));
}

#[test]
fn what_an_evicted_key_owed_runs_out_when_it_would_have_been_full() {
    let s = small();
    admitted(&s, "alice", 8, at(T0));
    flood(&s, 0, 8, at(T0));
    assert!(s.get("alice").is_none());
    assert!(matches!(
        s.check("alice", 1, at(T0 + 8 * SEC)),
        Decision::Allowed { remaining: 9, .. }
    ));
}

#[test]
fn peek_sees_what_an_evicted_key_owes_without_tracking_it() {
    let s = small();
    admitted(&s, "alice", 5, at(T0));
    flood(&s, 0, 8, at(T0));
    let limit = *s.default_limit();
    assert!(!s.peek("alice", &limit, 6, at(T0)).is_allowed());
    assert!(s.peek("alice", &limit, 5, at(T0)).is_allowed());
    assert!(s.get("alice").is_none());
}

#[test]
fn a_reset_forgives_what_an_evicted_key_owed_but_not_what_it_owes_since() {
    let s = small();
    let limit = *s.default_limit();
    admitted(&s, "alice", 10, at(T0));
    // Drained like the flood, so evicted whenever the hand finds her first.
    flood(&s, 0, 40, at(T0));
    assert!(s.get("alice").is_none());
    let t = at(T0 + SEC);
    s.reset("alice", &limit, t);
    // Full again, so the first to go; back, she owes nothing from before.
    flood(&s, 100, 1, t);
    assert!(s.get("alice").is_none());
    assert_eq!(admitted(&s, "alice", 7, t), 7);
    // Spent 7 since the reset, then evicted again (the fullest: 3 left).
    flood(&s, 200, 8, t);
    assert!(s.get("alice").is_none());
    assert_eq!(admitted(&s, "alice", 20, t), 3, "the debt since the reset");
    // Full and dropped: the next time she is back, she is full.
    assert_eq!(s.sweep(at(T0 + 60 * SEC)), 4);
    assert_eq!(admitted(&s, "alice", 20, at(T0 + 60 * SEC)), 10);
}

#[test]
fn a_key_back_under_a_bigger_limit_waits_as_long_to_be_full() {
    let s = small();
    admitted(&s, "alice", 6, at(T0));
    flood(&s, 0, 8, at(T0));
    assert!(s.get("alice").is_none());
    // 6 s from full; at 10 tokens a second that is 60 of 100 tokens missing.
    let pro = Limit::new(NonZeroU32::new(100).unwrap(), Duration::from_millis(100)).unwrap();
    assert!(matches!(
        s.check_with("alice", &pro, 1, at(T0)),
        Decision::Allowed { remaining: 39, .. }
    ));
}

#[test]
fn debt_deeper_than_one_bucket_comes_back_as_one_bucket() {
    let s = small();
    let limit = *s.default_limit();
    let deep = Slot {
        limit,
        state: BucketState::from_parts(-3 * limit.full_level(), at(T0)),
        spent: None,
        reserve: 0,
        dirty: false,
        unpublished: 0,
        published: false,
    };
    s.remember_debt("alice", &deep, at(T0));
    let back = s.fresh_state("alice", &limit, at(T0));
    assert_eq!(back.level(), -limit.full_level());
}

/// Node `a` holds at most 4 keys; `alice` spends 2 there, which `b` learns.
fn evicted_after_publishing(mode: MergeMode, more: u32) -> (Store, Store) {
    let a = Store::replicated(limit(), NonZeroUsize::new(4).unwrap(), mode, 1);
    let b = node(mode, 2);
    admitted(&a, "alice", 2, at(T0));
    for (key, change) in a.take_changes(at(T0)) {
        b.merge_remote(&key, &change.unwrap(), &limit(), at(T0));
    }
    // Spent again, not published yet, then pushed out a moment later (so
    // a's counting began before it tracks the key again: history).
    admitted(&a, "alice", more, at(T0));
    let later = at(T0 + 1_000);
    flood(&a, 0, 8, later);
    assert!(a.get("alice").is_none());
    // b's record reaches a before alice's next request does.
    b.mark_dirty("alice");
    let (key, change) = b.take_changes(later).pop().unwrap();
    a.merge_remote(&key, &change.unwrap(), &limit(), later);
    (a, b)
}

#[test]
fn an_evicted_key_adopted_from_a_peer_is_charged_once() {
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        let (a, b) = evicted_after_publishing(mode, 0);
        // The 2 tokens b's level carries are a's own: not charged again.
        assert_eq!(tokens(&a, "alice", at(T0)), Some(3), "{mode:?}");
        assert_eq!(tokens(&b, "alice", at(T0)), Some(3), "{mode:?}");
    }
}

#[test]
fn an_evicted_key_adopted_from_a_peer_keeps_what_the_peer_never_heard() {
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        // 2 more spent on a after its last record: b's level is 3, a owes 4.
        let (a, _) = evicted_after_publishing(mode, 2);
        assert_eq!(tokens(&a, "alice", at(T0)), Some(1), "{mode:?}");
    }
}

#[test]
fn concurrent_floods_never_let_an_evicted_user_past_the_limit() {
    // A token an hour and time standing still: the limit is the capacity.
    let hourly = Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(3600)).unwrap();
    let s = Arc::new(Store::new(hourly, NonZeroUsize::new(8).unwrap()));
    let flooding = AtomicUsize::new(2);
    let half = admitted(&s, "alice", 5, at(T0));
    let during = std::thread::scope(|scope| {
        for thread in 0..2 {
            let (s, flooding) = (Arc::clone(&s), &flooding);
            scope.spawn(move || {
                flood(&s, thread * 10_000, 2_000, at(T0));
                flooding.fetch_sub(1, Ordering::Relaxed);
            });
        }
        // Alice asks all the while, evicted whenever the hand finds her.
        let mut alice = 0;
        while flooding.load(Ordering::Relaxed) > 0 {
            alice += admitted(&s, "alice", 1, at(T0));
        }
        alice
    });
    let after = admitted(&s, "alice", 20, at(T0));
    assert!(s.evictions().pressure > 1_000, "{:?}", s.evictions());
    assert_eq!(half + during + after, 10, "{half} + {during} + {after}");
}

/// One step of the property test below.
#[derive(Clone, Debug)]
enum Step {
    /// A user's request of `cost` tokens (`peek` first, as several rules do).
    User {
        who: usize,
        cost: u32,
        peek: bool,
    },
    /// `ids` new IDs, each spending `spend` tokens, under the users' limit or a slow one.
    Flood {
        ids: u32,
        spend: u32,
        slow: bool,
    },
    /// A peer's record of a user, `tokens` left (min-max: it can only lower).
    Peer {
        who: usize,
        tokens: u32,
    },
    Sweep,
    Wait {
        ms: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..2usize, 1..=3u32, any::<bool>())
            .prop_map(|(who, cost, peek)| Step::User { who, cost, peek }),
        3 => (1..12u32, 0..=10u32, any::<bool>())
            .prop_map(|(ids, spend, slow)| Step::Flood { ids, spend, slow }),
        1 => (0..2usize, 0..=10u32).prop_map(|(who, tokens)| Step::Peer { who, tokens }),
        1 => Just(Step::Sweep),
        2 => (0..4_000u64).prop_map(|ms| Step::Wait { ms }),
    ]
}

/// Whether the admitted `(instant, cost)` of one user keep to `limit`: in
/// every stretch from one admission to a later one, at most the capacity
/// plus what the stretch refills.
fn within_limit(admitted: &[(u64, u32)], limit: &Limit) -> Result<(), String> {
    let interval = limit.interval().as_nanos() as u64;
    for (i, &(from, _)) in admitted.iter().enumerate() {
        let mut taken = 0u64;
        for &(to, cost) in &admitted[i..] {
            taken += u64::from(cost);
            let allowed = u64::from(limit.capacity()) + (to - from) / interval;
            if taken > allowed {
                return Err(format!(
                    "{taken} tokens from {from} to {to}; limit {allowed}"
                ));
            }
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn at_the_cap_no_user_is_admitted_beyond_the_limit_whatever_the_order(
        capacity in 1..=10u32,
        max_keys in 1..=6usize,
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        let user_limit = per_sec(capacity);
        let slow = Limit::new(NonZeroU32::new(3).unwrap(), Duration::from_secs(3600)).unwrap();
        let s = Store::replicated(user_limit, NonZeroUsize::new(max_keys).unwrap(), MergeMode::MinMax, 1);
        let users = ["alice", "bob"];
        let mut log: [Vec<(u64, u32)>; 2] = Default::default();
        let (mut now, mut next_id) = (T0, 0u32);
        for step in steps {
            match step {
                Step::User { who, cost, peek } => {
                    let said = peek.then(|| s.peek(users[who], &user_limit, cost, at(now)));
                    let decision = s.check(users[who], cost, at(now));
                    if let Some(said) = said {
                        prop_assert_eq!(said, decision);
                    }
                    if decision.is_allowed() {
                        log[who].push((now, cost));
                    }
                }
                Step::Flood { ids, spend, slow: is_slow } => {
                    let limit = if is_slow { slow } else { user_limit };
                    for _ in 0..ids {
                        next_id += 1;
                        let key = format!("flood-{next_id}");
                        for _ in 0..spend {
                            s.check_with(&key, &limit, 1, at(now));
                        }
                    }
                }
                Step::Peer { who, tokens } => {
                    let level = user_limit.level_of(tokens.min(capacity));
                    let record = Replicated {
                        limit: user_limit,
                        state: BucketState::from_parts(level, at(now)),
                        spent: None,
                        reset: Stamp::default(),
                    };
                    s.merge_remote(users[who], &record, &user_limit, at(now));
                }
                Step::Sweep => { s.sweep(at(now)); }
                Step::Wait { ms } => now += ms * 1_000_000,
            }
        }
        for admitted in &log {
            prop_assert!(within_limit(admitted, &user_limit).is_ok(), "{:?}", within_limit(admitted, &user_limit));
        }
    }
}

#[test]
fn a_window_evicted_under_pressure_comes_back_with_its_count_until_the_window_ends() {
    use crate::limiter::{Algorithm, Unit};
    let minute = Algorithm::FixedWindow(Unit::Minute);
    let limit = Limit::windowed(NonZeroU32::new(10).unwrap(), minute).unwrap();
    let s = Store::new(limit, NonZeroUsize::new(4).unwrap());
    // T0 is 20 s into its minute.
    assert_eq!(admitted(&s, "alice", 5, at(T0)), 5);
    flood(&s, 0, 8, at(T0));
    assert!(s.get("alice").is_none(), "alice was the fullest: evicted");
    assert_eq!(
        admitted(&s, "alice", 20, at(T0 + 30 * SEC)),
        5,
        "the same window"
    );
    flood(&s, 8, 8, at(T0 + 30 * SEC));
    assert_eq!(
        admitted(&s, "alice", 20, at(T0 + 40 * SEC)),
        10,
        "the next window"
    );
}

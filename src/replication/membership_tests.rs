//! Unit tests of membership without Kafka: heartbeats and instants passed in.

use super::*;

const AFTER: Duration = Duration::from_millis(500);
const ME: u64 = 7;
const T0: u64 = 1_700_000_000_000_000_000;

/// The clocks of one test: wall time (as heartbeats carry it) and monotonic
/// time, moved together.
struct Clocks {
    start: Instant,
}

impl Clocks {
    fn at(&self, ms: u64) -> (Stamp, Instant) {
        let d = Duration::from_millis(ms);
        (Stamp::from_unix_nanos(T0).saturating_add(d), self.start + d)
    }
}

fn beat(node_id: &str, incarnation: u64, sent_ms: u64) -> Heartbeat {
    Heartbeat {
        node_id: node_id.into(),
        incarnation,
        sent_at: Stamp::from_unix_nanos(T0).saturating_add(Duration::from_millis(sent_ms)),
    }
}

fn setup() -> (Membership, Clocks) {
    let clocks = Clocks {
        start: Instant::now(),
    };
    (Membership::new(ME, "me", AFTER), clocks)
}

/// Heartbeats of `who`, sent every 125 ms from `from` to `to` and read 10 ms
/// later, with a look after each; the looks that changed or released something.
fn hear(m: &mut Membership, clocks: &Clocks, from: u64, to: u64, who: &[&str]) -> Vec<(u64, Look)> {
    let mut seen = Vec::new();
    for sent in (from..=to).step_by(125) {
        let (now, at) = clocks.at(sent + 10);
        for id in who {
            m.hear(&beat(id, ME, sent), now, at);
        }
        seen.extend(m.look(at).map(|look| (sent + 10, look)));
    }
    seen.retain(|(_, look)| look.change.is_some() || look.release);
    seen
}

/// Looks every 100 ms from `from` to `to`; those that changed or released something.
fn looks(m: &mut Membership, clocks: &Clocks, from: u64, to: u64) -> Vec<(u64, Look)> {
    (from..=to)
        .step_by(100)
        .filter_map(|t| m.look(clocks.at(t).1).map(|look| (t, look)))
        .filter(|(_, look)| look.change.is_some() || look.release)
        .collect()
}

#[test]
fn cut_off_it_shares_each_limit_with_the_peers_it_heard_before() {
    let (mut m, clocks) = setup();
    assert!(hear(&mut m, &clocks, 0, 875, &["me", "a", "b"]).is_empty());
    // The broker freezes after the heartbeats of 875 ms (read at 885).
    let changes = looks(&mut m, &clocks, 1_000, 2_000);
    let (when, look) = &changes[0];
    assert_eq!(*when, 1_400);
    assert_eq!(look.change, Some((Change::CutOff, 3)));
    assert!(look.cut_off);
    assert_eq!(look.peers, 2);
}

#[test]
fn reserves_are_given_back_a_period_after_healing_and_not_if_cut_off_again() {
    let (mut m, clocks) = setup();
    hear(&mut m, &clocks, 0, 0, &["me", "a"]);
    assert_eq!(looks(&mut m, &clocks, 100, 1_000).len(), 1);
    // Heard steadily for a period: healed; and a period later, had it heard
    // all the while, the charges nobody's spending used come back.
    let seen = hear(&mut m, &clocks, 1_000, 2_500, &["me", "a"]);
    let [(healed, heal), (released, release)] = seen.as_slice() else {
        panic!("{seen:?}");
    };
    assert_eq!(heal.change, Some((Change::Healed, 1)));
    assert!(release.release && release.change.is_none());
    assert!((500..=625).contains(&(released - healed)), "{seen:?}");
    // Cut off again before the release is due: nothing is given back.
    let (mut m, clocks) = setup();
    hear(&mut m, &clocks, 0, 0, &["me"]);
    looks(&mut m, &clocks, 100, 1_000);
    hear(&mut m, &clocks, 1_000, 1_500, &["me"]);
    let seen = looks(&mut m, &clocks, 1_600, 4_000);
    assert!(seen.iter().all(|(_, look)| !look.release), "{seen:?}");
    assert_eq!(seen[0].1.change, Some((Change::CutOff, 1)));
}

#[test]
fn own_heartbeats_of_an_earlier_life_are_not_echoes() {
    let (mut m, clocks) = setup();
    let (now, at) = clocks.at(10);
    m.hear(&beat("me", ME - 1, 0), now, at);
    // Never heard its own echo, so it knows of no cluster to be cut off from.
    assert!(looks(&mut m, &clocks, 100, 5_000).is_empty());
}

#[test]
fn turned_off_it_never_looks() {
    let clocks = Clocks {
        start: Instant::now(),
    };
    let mut m = Membership::new(ME, "me", Duration::ZERO);
    let (now, at) = clocks.at(10);
    m.hear(&beat("me", ME, 0), now, at);
    assert_eq!(m.look(clocks.at(10_000).1), None);
}

/// What a starved two-core machine did to the round trip of a node's
/// heartbeats (`scripts/partition-flap.sh`, load 15–17): heartbeats every
/// 125 ms, mostly back in 50–300 ms, but every 2–5 s a stall of 550–800 ms
/// after which what was sent meanwhile arrives at once; the consumer looks
/// every 100 ms, or up to 250 ms. Returns `(heartbeat sent, read)` and the
/// instants of the looks, all in ms, for 30 s.
fn starved_trace() -> (Vec<(u64, u64)>, Vec<u64>) {
    // A small deterministic generator: the same trace every run.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let (mut echoes, mut looks) = (Vec::new(), Vec::new());
    let mut stall = 2_000 + next(3_000);
    for sent in (0..30_000).step_by(125) {
        let mut read = sent + 50 + next(250);
        if sent + 800 >= stall && sent < stall {
            read = read.max(stall + 550 + next(250));
        } else if sent >= stall {
            stall = sent + 2_000 + next(3_000);
        }
        echoes.push((sent, read));
    }
    echoes.sort_by_key(|&(_, read)| read);
    let mut t = 0;
    while t < 30_000 {
        t += 100 + if next(4) == 0 { next(150) } else { 0 };
        looks.push(t);
    }
    (echoes, looks)
}

/// The rule before: cut off after 500 ms without an echo, back at the first one.
fn transitions_before(echoes: &[(u64, u64)], looks: &[u64]) -> usize {
    let (mut cut_off, mut changes, mut read) = (false, 0, echoes.iter().peekable());
    let mut last_echo = None;
    for &t in looks {
        while let Some(&&(_, at)) = read.peek().filter(|(_, at)| *at <= t) {
            last_echo = Some(at);
            read.next();
        }
        let now = last_echo.is_some_and(|e| t - e > 500);
        changes += usize::from(now != cut_off);
        cut_off = now;
    }
    changes
}

#[test]
fn a_starved_machine_does_not_flap_between_cut_off_and_connected() {
    let (echoes, looks) = starved_trace();
    let before = transitions_before(&echoes, &looks);
    assert!(
        before >= 10,
        "the trace flapped the old rule {before} times"
    );
    let (mut m, clocks) = setup();
    let mut read = echoes.iter().peekable();
    let mut changes = Vec::new();
    for &t in &looks {
        while let Some(&&(sent, at)) = read.peek().filter(|(_, at)| *at <= t) {
            let (now, instant) = clocks.at(at);
            m.hear(&beat("me", ME, sent), now, instant);
            read.next();
        }
        changes.extend(m.look(clocks.at(t).1).and_then(|look| look.change));
    }
    assert!(changes.len() <= 2, "before: {before}; now: {changes:?}");
}

//! Unit tests of the link's hysteresis, with instants passed in.

use super::*;

const AFTER: Duration = Duration::from_millis(500);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A link that heard an echo (10 ms on the way) at `t0`.
fn heard_at(t0: Instant) -> Link {
    let mut link = Link::new(AFTER);
    link.echo(ms(10), t0);
    link
}

/// A link cut off at 600 ms: heard at `t0`, then silent.
fn cut_off_at_600(t0: Instant) -> Link {
    let mut link = heard_at(t0);
    assert_eq!(looks(&mut link, t0, 100, 600, 100), [(600, Change::CutOff)]);
    link
}

/// Looks every `every` ms from `from` to `to` ms after `t0`; the changes seen, with when.
fn looks(link: &mut Link, t0: Instant, from: u64, to: u64, every: u64) -> Vec<(u64, Change)> {
    (from..=to)
        .step_by(every as usize)
        .filter_map(|t| link.tick(t0 + ms(t)).map(|change| (t, change)))
        .collect()
}

/// Echoes of heartbeats sent every 125 ms, each `latency` ms on the way and
/// looked at on arrival, arriving from `from` to `to` ms; the changes, with when.
fn echoes(link: &mut Link, t0: Instant, from: u64, to: u64, latency: u64) -> Vec<(u64, Change)> {
    (from..=to)
        .step_by(125)
        .filter_map(|t| {
            link.echo(ms(latency), t0 + ms(t));
            link.tick(t0 + ms(t)).map(|change| (t, change))
        })
        .collect()
}

#[test]
fn a_period_of_silence_with_the_consumer_running_is_a_cut_off() {
    let t0 = Instant::now();
    let link = cut_off_at_600(t0);
    assert!(link.is_cut_off());
}

#[test]
fn a_node_that_never_heard_an_echo_is_not_cut_off() {
    let t0 = Instant::now();
    let mut link = Link::new(AFTER);
    assert!(looks(&mut link, t0, 0, 10_000, 100).is_empty());
}

#[test]
fn a_starved_consumer_reading_a_backlog_of_echoes_is_not_cut_off() {
    let t0 = Instant::now();
    let mut link = heard_at(t0);
    // The consumer thread does not run for 2 s, then reads the echoes sent
    // meanwhile (all at once) and looks again.
    assert_eq!(link.tick(t0 + ms(2_000)), None);
    for sent in (125..2_000).step_by(125) {
        link.echo(ms(2_000 - sent), t0 + ms(2_000));
    }
    assert!(looks(&mut link, t0, 2_000, 2_400, 100).is_empty());
}

#[test]
fn a_consumer_that_runs_but_seldom_is_cut_off_later_not_never() {
    let t0 = Instant::now();
    let mut link = heard_at(t0);
    // Looks a second apart: each counts only the awake gap (225 ms).
    assert_eq!(link.awake_gap(), ms(225));
    assert_eq!(
        looks(&mut link, t0, 1_000, 5_000, 1_000),
        [(3_000, Change::CutOff)]
    );
}

#[test]
fn one_echo_does_not_end_a_cut_off() {
    let t0 = Instant::now();
    let mut link = cut_off_at_600(t0);
    link.echo(ms(20), t0 + ms(700));
    assert!(looks(&mut link, t0, 700, 3_000, 100).is_empty());
    assert!(link.is_cut_off());
}

#[test]
fn a_period_of_timely_echoes_in_a_row_ends_a_cut_off() {
    let t0 = Instant::now();
    let mut link = cut_off_at_600(t0);
    // Heartbeats every 125 ms again: healed once they have come for `after`.
    assert_eq!(
        echoes(&mut link, t0, 1_000, 2_000, 20),
        [(1_500, Change::Healed)]
    );
    assert!(!link.is_cut_off());
}

#[test]
fn a_frozen_brokers_backlog_does_not_end_a_cut_off_but_what_follows_does() {
    let t0 = Instant::now();
    let mut link = cut_off_at_600(t0);
    // Everything sent while it was frozen arrives at once, the oldest
    // seconds late, the newest a moment ago.
    for sent in (125..3_000).step_by(125) {
        link.echo(ms(3_000 - sent), t0 + ms(3_000));
    }
    assert_eq!(link.tick(t0 + ms(3_000)), None);
    // Then heartbeats come back as they are sent.
    assert_eq!(
        echoes(&mut link, t0, 3_125, 4_000, 20),
        [(3_500, Change::Healed)]
    );
}

#[test]
fn echoes_far_apart_are_not_steady() {
    let t0 = Instant::now();
    let mut link = cut_off_at_600(t0);
    // One timely echo every 400 ms (more than half the patience apart).
    let mut changes = Vec::new();
    for t in (1_000..6_000).step_by(100) {
        if t % 400 == 0 {
            link.echo(ms(20), t0 + ms(t));
        }
        changes.extend(link.tick(t0 + ms(t)));
    }
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn connected_again_it_takes_the_patience_in_silence_to_be_cut_off() {
    let t0 = Instant::now();
    let mut link = cut_off_at_600(t0);
    echoes(&mut link, t0, 1_000, 1_500, 20);
    assert!(!link.is_cut_off());
    assert_eq!(
        looks(&mut link, t0, 1_600, 2_500, 100),
        [(2_100, Change::CutOff)]
    );
}

#[test]
fn a_stall_cuts_off_once_and_the_next_like_it_does_not() {
    let t0 = Instant::now();
    let mut link = heard_at(t0);
    assert!(echoes(&mut link, t0, 100, 2_000, 100).is_empty());
    // The round trip stalls at 700 ms: more than 500 ms without an echo is a cut-off.
    assert_eq!(
        looks(&mut link, t0, 2_100, 2_700, 100),
        [(2_500, Change::CutOff)]
    );
    // The stalled heartbeats arrive, 700 ms late, and keep coming: healed.
    let changes = echoes(&mut link, t0, 2_800, 4_000, 700);
    assert_eq!(changes, [(3_425, Change::Healed)]);
    assert_eq!(link.patience(), ms(1_400));
    // The next stall like it is waited out.
    assert!(looks(&mut link, t0, 4_100, 5_000, 100).is_empty());
    assert!(echoes(&mut link, t0, 5_100, 8_000, 700).is_empty());
}

#[test]
fn patience_is_at_most_four_periods_and_forgets_slow_round_trips() {
    let t0 = Instant::now();
    let mut link = heard_at(t0);
    link.echo(ms(5_000), t0 + ms(100));
    assert_eq!(link.patience(), 4 * AFTER);
    // Twenty seconds of quick round trips later, `after` again.
    echoes(&mut link, t0, 200, 21_000, 20);
    assert_eq!(link.patience(), AFTER);
}

//! Unit tests of `peer_stats`.

use super::*;

const T0: u64 = 1_700_000_000_000;

#[test]
fn percentiles_are_nearest_rank_of_the_last_samples() {
    let mut p = PeerStats::new(T0);
    assert_eq!(p.lag(), None);
    // Lags 1..=100 ms.
    for lag in 1..=100 {
        p.heard(Kind::State, T0 - lag, T0, true);
    }
    assert_eq!(p.lag(), Some(Lag { p50: 50, p99: 99 }));
    // 256 more at 7 ms push every earlier sample out of the ring.
    for _ in 0..LAG_SAMPLES {
        p.heard(Kind::Heartbeat, T0 - 7, T0, true);
    }
    assert_eq!(p.lag(), Some(Lag { p50: 7, p99: 7 }));
}

#[test]
fn one_sample_is_every_percentile() {
    let mut p = PeerStats::new(T0);
    p.heard(Kind::State, T0 - 12, T0, true);
    assert_eq!(p.lag(), Some(Lag { p50: 12, p99: 12 }));
}

#[test]
fn a_sender_ahead_has_no_lag_and_is_not_heard_in_the_future() {
    let mut p = PeerStats::new(T0);
    p.heard(Kind::State, T0 + 5_000, T0, true);
    assert_eq!(p.lag(), Some(Lag { p50: 0, p99: 0 }));
    assert_eq!(p.last_heard_ms(), T0);
}

#[test]
fn the_rate_is_over_the_last_ten_whole_seconds() {
    let mut p = PeerStats::new(T0);
    // 20 states a second for 15 s, and 4 heartbeats a second.
    for s in 0..15 {
        for i in 0..20 {
            let now = T0 + s * 1000 + i * 50;
            p.heard(Kind::State, now - 3, now, true);
            if i % 5 == 0 {
                p.heard(Kind::Heartbeat, now - 3, now, true);
            }
        }
    }
    let now = T0 + 15_000;
    assert_eq!(p.per_sec(Kind::State, now), 20.0);
    assert_eq!(p.per_sec(Kind::Heartbeat, now), 4.0);
    // The second in progress does not count yet.
    p.heard(Kind::State, now, now + 10, true);
    assert_eq!(p.per_sec(Kind::State, now + 10), 20.0);
    // Silent since: the window drains a tenth a second, then is empty
    // (five full seconds and the one record of second 15 left).
    assert_eq!(p.per_sec(Kind::State, now + 5_000), 10.1);
    assert_eq!(p.per_sec(Kind::State, now + 60_000), 0.0);
}

#[test]
fn a_long_silence_clears_the_ring() {
    let mut p = PeerStats::new(T0);
    for i in 0..50 {
        p.heard(Kind::State, T0 + i, T0 + i, true);
    }
    // Back 100 s later (a multiple of the ring's length away): the old
    // counts must not show up in the new window.
    let later = T0 + 110_000;
    p.heard(Kind::State, later, later, true);
    assert_eq!(p.per_sec(Kind::State, later + 1_000), 0.1);
}

#[test]
fn records_read_at_bootstrap_date_the_peer_but_are_not_sampled() {
    let mut p = PeerStats::new(T0);
    p.heard(Kind::State, T0 - 60_000, T0, false);
    assert_eq!(p.last_heard_ms(), T0 - 60_000);
    assert_eq!(p.lag(), None);
    assert_eq!(p.per_sec(Kind::State, T0 + 1_000), 0.0);
}

#[test]
fn a_clock_stepping_back_counts_in_the_latest_second() {
    let mut p = PeerStats::new(T0);
    p.heard(Kind::State, T0 + 5_000, T0 + 5_000, true);
    p.heard(Kind::State, T0, T0, true);
    assert_eq!(p.per_sec(Kind::State, T0 + 10_000), 0.2);
}

#[test]
fn a_newcomer_is_averaged_over_the_seconds_since_first_heard() {
    let mut p = PeerStats::new(T0 + 300);
    for i in 0..20 {
        let now = T0 + 300 + i * 80;
        p.heard(Kind::State, now, now, true);
    }
    // Seconds 0 and 1: 9 and 11 records; second 2 is still in progress.
    assert_eq!(p.per_sec(Kind::State, T0 + 2_500), 10.0);
    assert_eq!(p.per_sec(Kind::State, T0 + 900), 0.0);
}

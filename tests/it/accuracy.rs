//! How much a cluster admits when one user's traffic is spread round-robin over
//! its nodes: a deterministic simulation of N stores with an injected clock and
//! delayed delivery of published states (the replication layer's job, played
//! here by a queue), for each merge mode.

use std::collections::VecDeque;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use crdt_limiter::limiter::{node_key, Limit, MergeMode, Replicated, Stamp, Store};

const MS: u64 = 1_000_000;
const T0: u64 = 1_700_000_000_000 * MS;

struct Run {
    admitted: u64,
    allowance: u64,
}

impl Run {
    fn ratio(&self) -> f64 {
        self.admitted as f64 / self.allowance as f64
    }
}

/// One user, `rate` 10/s with a burst of 10, offered 10× that for `seconds`,
/// requests dealt round-robin to `nodes` nodes. Each node publishes its changes
/// every `sync_ms`; peers receive them `delay_ms` later.
fn simulate(nodes: usize, mode: MergeMode, seconds: u64, sync_ms: u64, delay_ms: u64) -> Run {
    let limit = Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_millis(100)).unwrap();
    let stores: Vec<Store> = (0..nodes)
        .map(|i| {
            Store::replicated(
                limit,
                NonZeroUsize::new(100).unwrap(),
                mode,
                node_key(&format!("node-{i}")),
            )
        })
        .collect();
    let mut in_flight: VecDeque<(u64, usize, Replicated)> = VecDeque::new();
    let mut admitted = 0;
    let mut next_node = 0;
    for tick in 0..seconds * 1000 {
        let now = Stamp::from_unix_nanos(T0 + tick * MS);
        while in_flight.front().is_some_and(|(at, _, _)| *at <= tick) {
            let (_, to, state) = in_flight.pop_front().unwrap();
            stores[to].merge_remote("alice", &state, &limit, now);
        }
        // 100 requests a second: ten times the rate.
        if tick % 10 == 0 {
            admitted += u64::from(stores[next_node].check("alice", 1, now).is_allowed());
            next_node = (next_node + 1) % nodes;
        }
        if tick % sync_ms == 0 {
            for (from, store) in stores.iter().enumerate() {
                for (_, change) in store.take_changes(now) {
                    let Some(state) = change else { continue };
                    for to in (0..nodes).filter(|&to| to != from) {
                        in_flight.push_back((tick + delay_ms, to, state.clone()));
                    }
                }
            }
        }
    }
    // The burst plus one token per 100 ms up to the last request (at the last 10 ms tick).
    let last_request_ms = seconds * 1000 - 10;
    Run {
        admitted,
        allowance: 10 + last_request_ms / 100,
    }
}

#[test]
fn one_node_admits_exactly_the_allowance_in_either_mode() {
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        let run = simulate(1, mode, 60, 50, 100);
        assert_eq!(run.admitted, run.allowance, "{mode:?}");
    }
}

/// Runs both modes on `nodes` nodes with `delay_ms` delivery delay and checks
/// that counted stays within 5% of the allowance while min-max admits at least
/// `min_max_at_least` times it (asserting both shows the test can fail).
fn compare_modes(nodes: usize, delay_ms: u64, min_max_at_least: f64) {
    let counted = simulate(nodes, MergeMode::Counted, 60, 50, delay_ms).ratio();
    let min_max = simulate(nodes, MergeMode::MinMax, 60, 50, delay_ms).ratio();
    eprintln!("{nodes} nodes, {delay_ms} ms delay: counted {counted:.3}x, min-max {min_max:.3}x");
    assert!(
        (0.95..=1.05).contains(&counted),
        "counted admitted {counted:.3}x"
    );
    assert!(
        min_max >= min_max_at_least,
        "min-max admitted {min_max:.3}x"
    );
}

#[test]
fn three_nodes_round_robin_counted_stays_within_5_percent_while_min_max_admits_about_3x() {
    compare_modes(3, 100, 2.5);
}

#[test]
fn counted_holds_with_five_nodes_and_slow_delivery() {
    compare_modes(5, 500, 4.0);
}

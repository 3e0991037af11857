//! The large-cluster simulator (`examples/simulate`), bounded for the suite:
//! 100 in-process nodes running the real decision, publish and merge code
//! over a simulated topic. Uniform traffic far below the limits costs
//! almost no record, and a hot user round-robin at 10× their limit over the
//! 100 nodes is held to it in counted mode. (`cargo run --release --example
//! simulate` prints the full table.)

#[path = "../../examples/simulate/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::num::NonZeroU32;
use std::time::Duration;

use crdt_limiter::limiter::{Limit, MergeMode, Quiet};
use harness::{run, Setup, Traffic};

fn setup(nodes: usize, mode: MergeMode, capacity: u32, per_sec: u32, seconds: u32) -> Setup {
    Setup {
        nodes,
        mode,
        quiet: Quiet::new(0.5).unwrap(),
        sync_interval: Duration::from_millis(50),
        delay: Duration::from_millis(20),
        limit: Limit::new(
            NonZeroU32::new(capacity).unwrap(),
            Duration::from_secs(1) / per_sec,
        )
        .unwrap(),
        seconds,
    }
}

#[test]
fn a_hundred_nodes_publish_almost_nothing_for_users_far_from_their_limits() {
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        let traffic = Traffic::Uniform {
            users: 100_000,
            rate: 20_000,
        };
        let report = run(&setup(100, mode, 10, 1, 3), traffic);
        eprintln!("{mode:?}: {report:?}");
        assert_eq!(report.admitted, report.requests, "{mode:?}");
        assert!(report.records_per_admitted() <= 0.1, "{mode:?}: {report:?}");
    }
}

#[test]
fn a_hot_user_round_robin_over_a_hundred_counted_nodes_is_held_to_the_limit() {
    let report = run(
        &setup(100, MergeMode::Counted, 100, 100, 20),
        Traffic::Hot { rate: 1000 },
    );
    eprintln!(
        "{report:?}: admitted ÷ allowed {:.3}",
        report.admitted_over_allowed()
    );
    assert!(report.admitted_over_allowed() <= 1.05, "{report:?}");
    assert!(report.records_per_admitted() <= 1.0, "{report:?}");
}

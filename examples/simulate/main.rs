//! The large-cluster simulator (see `harness.rs`): prints, for N = 3, 10,
//! 50 and 100 nodes, records per admitted request, merges per node per own
//! request and admitted ÷ allowed, for uniform traffic over 1,000,000 users
//! and for one hot user round-robin at 10× their limit, in both merge modes,
//! quiet (`--quiet-watermark 0.5`) and loud (every spending published).
//!
//! `cargo run --release --example simulate [SECONDS] [NODES]` (default 20
//! seconds, and every node count).

mod harness;

use std::num::NonZeroU32;
use std::time::Duration;

use crdt_limiter::limiter::{Limit, MergeMode, Quiet};
use harness::{run, Setup, Traffic};

fn limit(capacity: u32, per_sec: u32) -> Limit {
    let interval = Duration::from_secs(1) / per_sec;
    Limit::new(NonZeroU32::new(capacity).expect("non-zero"), interval).expect("a valid limit")
}

fn main() {
    let seconds = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let only: Option<usize> = std::env::args().nth(2).and_then(|s| s.parse().ok());
    println!("| nodes | traffic | merge | replication | records per admitted | merges per own request | admitted ÷ allowed |");
    println!("|---|---|---|---|---|---|---|");
    for nodes in [3, 10, 50, 100]
        .into_iter()
        .filter(|n| only.is_none_or(|o| o == *n))
    {
        for (name, mode) in [
            ("min-max", MergeMode::MinMax),
            ("counted", MergeMode::Counted),
        ] {
            for (label, quiet) in [
                ("quiet", Quiet::new(0.5).expect("valid")),
                ("loud", Quiet::LOUD),
            ] {
                let setup = |limit| Setup {
                    nodes,
                    mode,
                    quiet,
                    sync_interval: Duration::from_millis(50),
                    delay: Duration::from_millis(20),
                    limit,
                    seconds,
                };
                // 1,000,000 users, 1,000 requests a second per node: each
                // user far below their 1/s (capacity 10).
                let uniform = Traffic::Uniform {
                    users: 1_000_000,
                    rate: 1000 * nodes as u32,
                };
                let report = run(&setup(limit(10, 1)), uniform);
                row(nodes, "uniform, 1M users", name, label, &report, false);
                // One user at 10× a limit of 100 a second (capacity 100).
                let report = run(&setup(limit(100, 100)), Traffic::Hot { rate: 1000 });
                row(nodes, "hot user at 10×", name, label, &report, true);
            }
        }
    }
}

fn row(nodes: usize, traffic: &str, merge: &str, label: &str, r: &harness::Report, ratio: bool) {
    let ratio = if ratio {
        format!("{:.3}", r.admitted_over_allowed())
    } else {
        "–".into()
    };
    println!(
        "| {nodes} | {traffic} | {merge} | {label} | {:.4} | {:.4} | {ratio} |",
        r.records_per_admitted(),
        r.merges_per_own_request(),
    );
}

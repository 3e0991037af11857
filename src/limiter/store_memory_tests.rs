//! Memory per tracked key, measured: run with
//! `cargo test --release --lib store::memory_tests -- --ignored --nocapture`.

use super::*;
use std::num::NonZeroU32;
use std::time::Duration;

/// Resident memory of this process in kB (Linux).
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

/// As `scripts/perf.sh memory` measures a node: a token an hour, room for 2,000,000
/// keys, 1,000,000 users each spending one token. Prints bytes per key; it
/// asserts nothing, since other tests running in the same process would
/// disturb the figure (hence ignored, run alone).
#[test]
#[ignore]
fn bytes_per_tracked_key() {
    const USERS: u64 = 1_000_000;
    let limit = Limit::new(NonZeroU32::new(100).unwrap(), Duration::from_secs(36)).unwrap();
    let store = Store::new(limit, NonZeroUsize::new(2_000_000).unwrap());
    let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
    let before = rss_kb();
    for user in 0..USERS {
        store.check_with(&format!("user-{user}"), &limit, 1, now);
    }
    let after = rss_kb();
    assert_eq!(store.len() as u64, USERS);
    println!(
        "{} keys: RSS {before} kB -> {after} kB: {} bytes per key",
        store.len(),
        (after - before) * 1024 / USERS
    );
}

//! Unit tests of `clock`.

use super::*;

#[test]
fn the_system_clock_advances_by_time_passed_not_by_the_wall_clock() {
    // Anchored to a wall time far from the real one (as if the system
    // clock stepped by a decade since start): time goes on from the anchor
    // at the monotonic rate, untouched by what the wall clock says now.
    let anchor = Stamp::from_unix_nanos(1_000_000_000_000_000_000);
    let clock = SystemClock::anchored(anchor, Instant::now());
    let first = clock.now();
    std::thread::sleep(Duration::from_millis(20));
    let second = clock.now();
    assert!(first >= anchor);
    let passed = second.saturating_since(first);
    assert!(passed >= 20_000_000, "{passed} ns");
    assert!(passed < 5_000_000_000, "{passed} ns");
    assert!(second.saturating_since(anchor) < 5_000_000_000);
}

#[test]
fn after_a_step_the_clock_follows_at_most_one_percent_and_never_back() {
    let anchor = Stamp::from_unix_nanos(1_000_000_000_000_000_000);
    let clock = SystemClock::anchored(anchor, Instant::now());
    let ahead = anchor.saturating_add(Duration::from_secs(3600));
    for (wall, forward) in [(ahead, true), (anchor, false)] {
        let (before, offset) = (clock.now(), clock.offset_ns.load(Ordering::Relaxed));
        let synced = clock.synced_at_ns.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
        clock.follow(wall);
        assert!(clock.now() >= before, "went backwards");
        let moved = clock.offset_ns.load(Ordering::Relaxed) - offset;
        let real = clock.synced_at_ns.load(Ordering::Relaxed) - synced;
        assert_eq!(
            moved > 0,
            forward,
            "moved {moved} ns towards the wall clock"
        );
        assert!(
            moved.unsigned_abs() <= real / 100 + 1,
            "{moved} ns in {real} ns"
        );
        assert!(
            moved.unsigned_abs() >= real / 200,
            "{moved} ns in {real} ns"
        );
    }
}

#[test]
fn a_clock_started_at_an_instant_reads_it_and_stays_there_on_resync() {
    // Ten seconds before February in New York, whatever the wall clock says.
    let start = Stamp::from_unix_nanos(1_769_921_990_000_000_000);
    let clock = SystemClock::starting_at(start);
    clock.resync();
    let read = clock.now().saturating_since(start);
    assert!(read < 5_000_000_000, "read {read} ns after the start");
    assert!(clock.now() >= start, "never before the start");
}

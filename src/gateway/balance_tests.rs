//! Unit tests of `balance`.

use super::*;

#[test]
fn turns_go_round_the_upstreams() {
    let b = Balancer::new(3, DEFAULT_COOL_DOWN);
    let firsts: Vec<usize> = (0..6).map(|_| b.order(0).next().unwrap()).collect();
    assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
    assert_eq!(b.order(0).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn a_refusing_upstream_is_skipped_for_the_cool_down_then_tried_again() {
    let b = Balancer::new(3, Duration::from_millis(100));
    b.mark_down(1, 1_000);
    for _ in 0..6 {
        assert!(!b.order(1_050).any(|i| i == 1));
    }
    assert!(b.order(1_100).any(|i| i == 1));
    b.mark_up(1);
    assert!(b.order(1_050).any(|i| i == 1));
}

#[test]
fn with_every_upstream_down_all_are_tried() {
    let b = Balancer::new(2, DEFAULT_COOL_DOWN);
    b.mark_down(0, 0);
    b.mark_down(1, 0);
    let mut tried: Vec<usize> = b.order(1).collect();
    tried.sort();
    assert_eq!(tried, [0, 1]);
}

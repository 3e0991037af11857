//! Unit tests of `quiet`.

use std::num::NonZeroU32;
use std::time::Duration;

use super::*;

fn limit(capacity: u32) -> Limit {
    Limit::new(NonZeroU32::new(capacity).unwrap(), Duration::from_secs(1)).unwrap()
}

fn tokens(limit: &Limit, n: i64) -> i64 {
    n * limit.level_of(1)
}

#[test]
fn far_from_the_limit_a_node_keeps_its_share_of_the_headroom() {
    let (l, quiet) = (limit(100), Quiet::new(0.5).unwrap());
    // 3 nodes: a third of the 50 tokens above the watermark, 16.
    assert!(quiet.holds(&l, tokens(&l, 84), 16, 3));
    assert!(!quiet.holds(&l, tokens(&l, 83), 17, 3));
    // Alone, all 50 of them.
    assert!(quiet.holds(&l, tokens(&l, 50), 50, 1));
}

#[test]
fn one_token_stays_quiet_whatever_the_cluster_size() {
    let (l, quiet) = (limit(10), Quiet::new(0.5).unwrap());
    assert!(quiet.holds(&l, tokens(&l, 9), 1, 100));
    assert!(!quiet.holds(&l, tokens(&l, 8), 2, 100));
}

#[test]
fn at_or_below_the_watermark_every_spending_is_published() {
    let (l, quiet) = (limit(10), Quiet::new(0.5).unwrap());
    assert!(!quiet.holds(&l, tokens(&l, 4), 1, 1));
    assert!(!quiet.holds(&l, tokens(&l, -3), 1, 1));
    assert!(quiet.holds(&l, tokens(&l, 5), 1, 1));
}

#[test]
fn loud_publishes_every_spending_and_nothing_spent_is_nothing_to_publish() {
    let l = limit(10);
    assert!(!Quiet::LOUD.holds(&l, tokens(&l, 9), 1, 1));
    assert!(Quiet::LOUD.holds(&l, tokens(&l, 10), 0, 1));
}

#[test]
fn the_watermark_is_a_fraction_of_capacity() {
    assert!(Quiet::new(0.0).is_err());
    assert!(Quiet::new(1.5).is_err());
    assert!(Quiet::new(f64::NAN).is_err());
    assert_eq!(Quiet::new(1.0), Ok(Quiet::LOUD));
    assert_eq!(Quiet::new(0.25).unwrap().watermark(), 0.25);
}

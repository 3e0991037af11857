//! Unit tests of `response`.

use super::*;

#[test]
fn rounding_up_never_promises_too_early() {
    assert_eq!(ceil_secs(Duration::ZERO), 0);
    assert_eq!(ceil_secs(Duration::from_nanos(1)), 1);
    assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
    assert_eq!(ceil_millis(Duration::from_nanos(1_000_001)), 2);
    assert_eq!(ceil_millis(Duration::from_millis(700)), 700);
}

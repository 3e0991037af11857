//! Unit tests of the rate-limit service's metrics: each outcome counted under its own label.

use super::RlsOutcome;

#[test]
fn every_outcome_indexes_its_own_counter_and_label() {
    for (i, outcome) in RlsOutcome::ALL.into_iter().enumerate() {
        assert_eq!(outcome as usize, i, "{outcome:?} is out of order");
    }
    let labels: std::collections::BTreeSet<_> = RlsOutcome::ALL.map(RlsOutcome::as_str).into();
    assert_eq!(labels.len(), RlsOutcome::ALL.len(), "labels are distinct");
}

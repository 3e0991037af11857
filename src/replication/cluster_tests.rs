//! Unit tests of `cluster`.

use super::*;

const T0: u64 = 1_700_000_000_000;

fn at(ms: u64) -> Stamp {
    Stamp::from_unix_nanos(ms * 1_000_000)
}

fn view() -> ClusterView {
    ClusterView::new("me".into(), MergeMode::MinMax, Duration::from_secs(1))
}

#[test]
fn peers_are_up_then_gone_then_forgotten() {
    let v = view();
    v.heard("b", Kind::Heartbeat, at(T0 - 2), at(T0), true);
    v.heard("a", Kind::State, at(T0 - 5), at(T0), true);
    let s = v.snapshot(at(T0 + 500));
    let ids: Vec<_> = s.peers.iter().map(|p| (p.id.as_str(), p.up)).collect();
    assert_eq!(ids, [("a", true), ("b", true)]);
    assert_eq!(s.nodes_up(), 3);
    assert_eq!(s.peers[0].last_heard_unix_ms, T0 - 5);
    assert_eq!(s.peers[0].lag_ms, Some(Lag { p50: 5, p99: 5 }));
    let s = v.snapshot(at(T0 + 1_500));
    assert!(s.peers.iter().all(|p| !p.up));
    assert_eq!(s.nodes_up(), 1);
    assert_eq!(v.snapshot(at(T0 + 10_100)).peers.len(), 0);
}

#[test]
fn its_own_records_are_not_a_peer() {
    let v = view();
    v.heard("me", Kind::Heartbeat, at(T0), at(T0), true);
    assert!(v.snapshot(at(T0)).peers.is_empty());
}

#[test]
fn old_records_of_an_unknown_peer_list_nothing() {
    let v = view();
    v.heard("dead", Kind::State, at(T0 - 60_000), at(T0), false);
    assert!(v.snapshot(at(T0)).peers.is_empty());
}

#[test]
fn hostile_ids_keep_at_most_max_peers_and_the_freshest() {
    let v = view();
    v.heard(
        "real",
        Kind::Heartbeat,
        at(T0 + 100_000),
        at(T0 + 100_000),
        true,
    );
    for i in 0..10_000u64 {
        let id = format!("hostile-{i}-{}", "x".repeat(200));
        v.heard(&id, Kind::State, at(T0 + i), at(T0 + i), true);
    }
    let s = v.snapshot(at(T0 + 10_000));
    assert_eq!(s.peers.len(), MAX_PEERS);
    // The freshest stay: the peer heard last, and the latest hostile IDs.
    assert!(s.peers.iter().any(|p| p.id == "real"));
    assert!(s.peers.iter().any(|p| p.id.starts_with("hostile-9999-")));
    assert!(!s.peers.iter().any(|p| p.id.starts_with("hostile-0-")));
}

#[test]
fn a_kafka_problem_shows_until_the_broker_answers_again() {
    let v = view();
    let problem = KafkaProblem {
        cause: "tls_ca",
        fix: "trust the broker's CA",
    };
    v.refused(problem);
    v.set_connected(false);
    assert_eq!(v.snapshot(at(T0)).kafka_problem, Some(problem));
    v.set_connected(true);
    let s = v.snapshot(at(T0));
    assert!(s.kafka_connected);
    assert_eq!(s.kafka_problem, None);
}

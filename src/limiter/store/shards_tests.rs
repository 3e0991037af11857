//! Unit tests of `shards`.

use super::*;

#[test]
fn removing_keeps_every_other_key_findable() {
    let map = Shards::new(2);
    for i in 0..1_000u32 {
        let _ = map.get_or_insert_with(&format!("k{i}"), || i);
    }
    let mut removed = 0;
    map.walk(7, |_, v| *v % 3 == 0, |gone| removed += gone.count());
    assert_eq!(removed, 334);
    assert_eq!(map.len(), 666);
    for i in 0..1_000u32 {
        let found = map.get(&format!("k{i}")).map(|v| *v);
        assert_eq!(found, (i % 3 != 0).then_some(i), "k{i}");
    }
    assert!(map.remove_unless("k1", |_| false).is_some());
    assert!(!map.contains_key("k1"));
}

#[test]
fn the_clock_hand_goes_on_where_it_stopped() {
    let map = Shards::new(1);
    for i in 0..10u32 {
        let _ = map.get_or_insert_with(&format!("k{i}"), || i);
    }
    let mut seen = Vec::new();
    let (looked, none) = map.clock(0, 4, |_, v| {
        seen.push(*v);
        false
    });
    assert_eq!((looked, none), (4, None));
    let (_, hit) = map.clock(0, 20, |_, v| {
        seen.push(*v);
        *v == 2
    });
    assert_eq!(hit.map(|(k, _)| k), Some("k2".into()));
    // Round the whole shard and on, each entry once per call.
    assert_eq!(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
}

//! The gateway file's keys: lookup by hash, and a `Debug` that shows none.

use super::*;

#[test]
fn keys_are_found_by_hashing_the_presented_key() {
    let mut keys = ApiKeys::default();
    let owner = KeyOwner {
        user: "alice".into(),
        plan: Some("pro".into()),
    };
    keys.insert(KeyHash::of("k-alice"), owner.clone()).unwrap();
    assert_eq!(keys.lookup(&KeyHash::of("k-alice")), Some(&owner));
    assert_eq!(keys.lookup(&KeyHash::of("k-alicE")), None);
    assert_eq!(keys.len(), 1);
    assert!(keys.insert(KeyHash::of("k-alice"), owner).is_err());
}

#[test]
fn debug_shows_no_key_and_no_hash() {
    let mut keys = ApiKeys::default();
    keys.insert(
        KeyHash::of("k-alice"),
        KeyOwner {
            user: "alice".into(),
            plan: None,
        },
    )
    .unwrap();
    let shown = format!("{keys:?} {:?}", KeyHash::of("k-alice"));
    assert!(!shown.contains("k-alice") && !shown.contains(&hash_key("k-alice")[7..]));
    assert!(shown.contains("1 keys"), "{shown}");
}

//! API key hashing, hash parsing and lookup.

use super::*;

#[test]
fn the_hash_is_sha256_in_lowercase_hex() {
    assert_eq!(
        hash_key("abc"),
        "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn a_hash_parses_back_in_either_case() {
    let text = hash_key("secret-key-1");
    assert_eq!(KeyHash::parse(&text).unwrap(), KeyHash::of("secret-key-1"));
    assert_eq!(
        KeyHash::parse(&text.to_uppercase().replace("SHA256:", "sha256:")).unwrap(),
        KeyHash::of("secret-key-1")
    );
}

#[test]
fn malformed_hashes_are_refused_with_the_reason() {
    let hex = "ab".repeat(32);
    assert!(KeyHash::parse(&format!("md5:{hex}"))
        .unwrap_err()
        .contains("sha256:"));
    assert!(KeyHash::parse(&format!("sha256:{}", &hex[2..]))
        .unwrap_err()
        .contains("62"));
    assert!(KeyHash::parse(&format!("sha256:{}zz", &hex[2..])).is_err());
    assert!(KeyHash::parse("sha256:").is_err());
}

#[test]
fn keys_are_found_by_hashing_the_presented_key() {
    let mut keys = ApiKeys::default();
    let owner = KeyOwner {
        user: "alice".into(),
        plan: Some("pro".into()),
    };
    keys.insert(KeyHash::of("k-alice"), owner.clone()).unwrap();
    assert_eq!(keys.lookup("k-alice"), Some(&owner));
    assert_eq!(keys.lookup("k-alicE"), None);
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

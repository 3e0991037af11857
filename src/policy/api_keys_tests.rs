//! API key hashing, hash parsing, and the bounded table of live keys.

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

fn owner(user: &str) -> KeyOwner {
    KeyOwner {
        user: user.into(),
        plan: None,
    }
}

#[test]
fn live_keys_stop_at_the_bound_but_may_still_change_a_known_key() {
    let keys = LiveKeys::default();
    for i in 0..MAX_LIVE_KEYS {
        assert!(keys.insert(KeyHash::of(&i.to_string()), owner("u")));
    }
    assert!(!keys.insert(KeyHash::of("one more"), owner("u")));
    assert_eq!(keys.get(&KeyHash::of("one more")), None);
    assert!(keys.insert(KeyHash::of("7"), owner("v")));
    assert_eq!(keys.get(&KeyHash::of("7")), Some(owner("v")));
    keys.remove(&KeyHash::of("7"));
    assert!(keys.insert(KeyHash::of("one more"), owner("u")));
}

#[test]
fn live_keys_list_by_user_and_say_when_truncated() {
    let keys = LiveKeys::default();
    for (key, user) in [("a1", "alice"), ("b1", "bob"), ("a2", "alice")] {
        keys.insert(KeyHash::of(key), owner(user));
    }
    let (alice, more) = keys.list(Some("alice"), 10);
    assert_eq!(alice.len(), 2);
    assert!(!more);
    assert!(alice.iter().all(|(_, o)| o.user == "alice"));
    let (some, more) = keys.list(None, 2);
    assert_eq!(some.len(), 2);
    assert!(more);
}

#[test]
fn debug_shows_no_hash() {
    let shown = format!("{:?}", KeyHash::of("k-alice"));
    assert!(!shown.contains(&hash_key("k-alice")[7..]), "{shown}");
}

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
        .to_string()
        .contains("sha256:"));
    assert!(KeyHash::parse(&format!("sha256:{}", &hex[2..]))
        .unwrap_err()
        .to_string()
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
fn the_admin_api_stops_at_its_bound_and_the_log_at_a_higher_one() {
    let keys = LiveKeys::default();
    for i in 0..MAX_LIVE_KEYS {
        assert!(keys.insert(KeyHash::of(&i.to_string()), owner("u")));
    }
    assert!(!keys.has_room_for(&KeyHash::of("one more")));
    assert!(
        keys.has_room_for(&KeyHash::of("7")),
        "a known key may change"
    );
    // Records read back from the log still apply, up to the held bound.
    for i in MAX_LIVE_KEYS..MAX_HELD_KEYS {
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
fn listings_page_through_every_key_in_hash_order() {
    let keys = LiveKeys::default();
    for i in 0..25 {
        let user = if i % 5 == 0 { "alice" } else { "bob" };
        keys.insert(KeyHash::of(&i.to_string()), owner(user));
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let (page, more) = keys.list(None, after.as_ref(), 10);
        assert!(page.windows(2).all(|w| w[0].0 < w[1].0));
        seen.extend(page.iter().map(|(h, _)| *h));
        after = page.last().map(|(h, _)| *h);
        if !more {
            break;
        }
    }
    let mut all: Vec<_> = (0..25).map(|i| KeyHash::of(&i.to_string())).collect();
    all.sort();
    assert_eq!(seen, all);
    let (alice, more) = keys.list(Some("alice"), None, 10);
    assert_eq!((alice.len(), more), (5, false));
    assert!(alice.iter().all(|(_, o)| o.user == "alice"));
    assert!(!keys.list(Some("alice"), None, 5).1);
    assert!(keys.list(Some("alice"), None, 4).1);
}

#[test]
fn debug_shows_no_hash() {
    let shown = format!("{:?}", KeyHash::of("k-alice"));
    assert!(!shown.contains(&hash_key("k-alice")[7..]), "{shown}");
}

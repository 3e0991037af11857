//! Wildcards anywhere in a value, matched as envoyproxy/ratelimit matches them.

use super::Pattern;

fn matches(pattern: &str, value: &str) -> bool {
    Pattern::new(pattern).matches(value)
}

#[test]
fn a_trailing_wildcard_matches_by_prefix() {
    assert!(matches("foo*", "foo1"));
    assert!(matches("foo*", "foo"));
    assert!(!matches("foo*", "bar"));
    assert!(matches("*", ""));
}

#[test]
fn a_middle_wildcard_needs_the_prefix_and_the_suffix_and_may_match_nothing() {
    for value in ["barab", "bar123b", "barb"] {
        assert!(matches("bar*b", value), "{value}");
    }
    for value in ["bara", "xbarb", "bar"] {
        assert!(!matches("bar*b", value), "{value}");
    }
    // The prefix and the suffix never share a byte.
    assert!(!matches("ab*ba", "aba"));
    assert!(matches("ab*ba", "abba"));
}

#[test]
fn several_wildcards_need_every_part_in_order() {
    assert!(matches("foo*bar*baz", "foo123bar456baz"));
    assert!(matches("foo*bar*baz", "foobarbaz"));
    assert!(!matches("foo*bar*baz", "foo123baz"));
    assert!(!matches("foo*bar*baz", "bar456baz"));
    assert!(!matches("a*c*b", "abc"));
    assert!(matches("*x*", "axb"));
    assert!(matches("é*ü", "éaü"));
}

#[test]
fn a_trailing_wildcard_is_named_in_keys_by_its_prefix_any_other_whole() {
    assert_eq!(Pattern::new("/api/*").key_name(), "/api/");
    assert_eq!(Pattern::new("bar*b").key_name(), "bar*b");
    assert_eq!(Pattern::new("a*b*").key_name(), "a*b*");
}

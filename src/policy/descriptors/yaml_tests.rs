//! envoyproxy/ratelimit's keys read with upstream's meaning: its example file
//! as it is, wildcards anywhere, `share_threshold`, `quota_mode`, `metadata`,
//! and a domain in several files.

use super::{parse, parse_with, Domains, LoadOptions};
use crate::policy::descriptors::{DescriptorSet, KEY_PREFIX};

/// envoyproxy/ratelimit's `examples/ratelimit/config/example.yaml`, unchanged.
const UPSTREAM_EXAMPLE: &str = include_str!(
    "../../../tests/fixtures/envoyproxy-ratelimit/examples/ratelimit/config/example.yaml"
);

/// The descriptors of envoyproxy/ratelimit's `test/config/wildcard.yaml`.
const WILDCARD: &str = r#"
domain: test-domain
descriptors:
  - {key: wild, value: "foo*", rate_limit: {unit: minute, requests_per_unit: 20}}
  - {key: noWild, value: foo, rate_limit: {unit: minute, requests_per_unit: 20}}
  - {key: noVal, rate_limit: {unit: minute, requests_per_unit: 20}}
  - {key: midWild, value: "bar*b", rate_limit: {unit: minute, requests_per_unit: 20}}
  - {key: multiWild, value: "foo*bar*baz", rate_limit: {unit: minute, requests_per_unit: 10}}
  - key: nestedWild
    value: val1
    descriptors:
      - {key: wild, value: "goo*", rate_limit: {unit: minute, requests_per_unit: 20}}
"#;

fn one(text: &str) -> DescriptorSet {
    parse([("f.yaml", text)], Domains::Unique).unwrap()
}

/// The statistics name of the limit `entries` of `domain` find, and its bucket key.
fn found(set: &DescriptorSet, domain: &str, entries: &[(&str, &str)]) -> Option<(String, String)> {
    let mut key = String::new();
    let limit = set.resolve(domain, entries, &mut key)?;
    Some((limit.path.to_string(), key))
}

#[test]
fn upstream_example_loads_unchanged() {
    let set = one(UPSTREAM_EXAMPLE);
    assert_eq!(set.domains(), ["rl"]);
    let mut key = String::new();
    let quota = set
        .resolve("rl", &[("service", "service_2")], &mut key)
        .unwrap();
    assert!(quota.quota_mode);
    assert_eq!(quota.requests_per_unit, 2);
    let metadata = quota.metadata.as_deref().unwrap();
    assert_eq!(metadata["service_with_quota"]["name"], "service_2");
    let detailed = set.resolve("rl", &[("unspec", "x")], &mut key).unwrap();
    assert!(detailed.detailed_metric && !detailed.quota_mode && detailed.metadata.is_none());
}

#[test]
fn upstream_wildcard_lookups() {
    let set = one(WILDCARD);
    let name = |entries: &[(&str, &str)]| found(&set, "test-domain", entries).map(|f| f.0);
    assert_eq!(name(&[("noVal", "foo1")]).unwrap(), "test-domain.noVal");
    for value in ["foo1", "foo2"] {
        assert_eq!(name(&[("wild", value)]).unwrap(), "test-domain.wild_foo*");
    }
    let nested = name(&[("nestedWild", "val1"), ("wild", "goo2")]);
    assert_eq!(nested.unwrap(), "test-domain.nestedWild_val1.wild_goo*");
    assert_eq!(name(&[("wild", "bar")]), None);
    assert_eq!(name(&[("noWild", "foo1")]), None, "no eager match");
    for value in ["barab", "bar123b", "barb"] {
        assert_eq!(
            name(&[("midWild", value)]).unwrap(),
            "test-domain.midWild_bar*b"
        );
    }
    for value in ["bara", "xbarb"] {
        assert_eq!(name(&[("midWild", value)]), None, "{value}");
    }
    for value in ["foo123bar456baz", "foobarbaz"] {
        let multi = name(&[("multiWild", value)]).unwrap();
        assert_eq!(multi, "test-domain.multiWild_foo*bar*baz");
    }
    for value in ["foo123baz", "bar456baz"] {
        assert_eq!(name(&[("multiWild", value)]), None, "{value}");
    }
}

#[test]
fn values_under_a_middle_wildcard_have_their_own_buckets_whose_keys_read_back() {
    let set = one(WILDCARD);
    let (_, a) = found(&set, "test-domain", &[("midWild", "barab")]).unwrap();
    let (_, b) = found(&set, "test-domain", &[("midWild", "bar123b")]).unwrap();
    assert_eq!(a, format!("{KEY_PREFIX}test-domain midWild=barab"));
    assert_ne!(a, b);
    // A long value is digested, named by the whole pattern; a trailing
    // wildcard's still by its prefix.
    let long = format!("bar{}b", "x".repeat(300));
    let (_, digested) = found(&set, "test-domain", &[("midWild", &long)]).unwrap();
    assert!(digested.contains(" midWild=bar*b#"), "{digested}");
    let long = format!("foo{}", "x".repeat(300));
    let (_, trailing) = found(&set, "test-domain", &[("wild", &long)]).unwrap();
    assert!(trailing.contains(" wild=foo#"), "{trailing}");
    for key in [a, b, digested, trailing] {
        assert!(set.limit_of_key(&key).is_some(), "{key}");
    }
    let forged = format!("{KEY_PREFIX}test-domain midWild=bar*#0123456789abcdef0123456789abcdef");
    assert!(set.limit_of_key(&forged).is_none());
}

#[test]
fn share_threshold_with_wildcards_anywhere_shares_one_bucket() {
    let set = one(r#"
domain: d
descriptors:
  - {key: file, value: test1, rate_limit: {unit: minute, requests_per_unit: 50}}
  - {key: file, value: "test*", share_threshold: true, rate_limit: {unit: minute, requests_per_unit: 100}}
  - {key: midpath, value: "/api*v1", share_threshold: true, rate_limit: {unit: minute, requests_per_unit: 100}}
  - key: tenant
    value: "t*prod"
    share_threshold: true
    descriptors:
      - {key: resource, value: "res*v2", share_threshold: true, rate_limit: {unit: minute, requests_per_unit: 60}}
"#);
    let key = |entries: &[(&str, &str)]| found(&set, "d", entries).unwrap().1;
    let shared = key(&[("midpath", "/api/x/v1")]);
    assert_eq!(shared, format!("{KEY_PREFIX}d midpath=/api*v1"));
    assert_eq!(key(&[("midpath", "/apiv1")]), shared);
    let nested = key(&[("tenant", "t1prod"), ("resource", "res-a-v2")]);
    assert_eq!(
        nested,
        format!("{KEY_PREFIX}d tenant=t*prod resource=res*v2")
    );
    assert_eq!(key(&[("tenant", "t2prod"), ("resource", "resv2")]), nested);
    assert!(set.limit_of_key(&shared).is_some() && set.limit_of_key(&nested).is_some());
    // A value configured as it is goes before any wildcard.
    let rate = |value| {
        set.resolve("d", &[("file", value)], &mut String::new())
            .unwrap()
            .requests_per_unit
    };
    assert_eq!((rate("test1"), rate("test2")), (50, 100));
}

#[test]
fn a_domain_in_two_files_is_refused_unless_merged() {
    let first = "domain: test-domain\ndescriptors:\n  - {key: key1, value: value1, rate_limit: {unit: minute, requests_per_unit: 10}}";
    let second = "domain: test-domain\ndescriptors:\n  - {key: key2, value: value2, rate_limit: {unit: minute, requests_per_unit: 20}}";
    let files = [
        ("merge_domain_key1.yaml", first),
        ("merge_domain_key2.yaml", second),
    ];
    let refused = parse(files, Domains::Unique).unwrap_err().0;
    assert!(
        refused.starts_with("merge_domain_key2.yaml: domain: \"test-domain\""),
        "{refused}"
    );
    assert!(refused.contains("--rls-merge-domains"), "{refused}");
    let set = parse(files, Domains::Merge).unwrap();
    let rate = |entry| {
        set.resolve("test-domain", &[entry], &mut String::new())
            .unwrap()
            .requests_per_unit
    };
    assert_eq!(
        (rate(("key1", "value1")), rate(("key2", "value2"))),
        (10, 20)
    );
    // Merged, the same descriptor twice is still refused.
    let twice = parse([("a.yaml", first), ("b.yaml", first)], Domains::Merge)
        .unwrap_err()
        .0;
    assert!(
        twice.starts_with("b.yaml: descriptor test-domain.key1_value1: configured twice"),
        "{twice}"
    );
}

#[test]
fn metadata_must_be_a_map_and_share_threshold_a_wildcard() {
    let refused = |text: &str| parse([("f.yaml", text)], Domains::Unique).unwrap_err().0;
    let list = "domain: d\ndescriptors:\n  - {key: k, metadata: [1], rate_limit: {unit: second, requests_per_unit: 1}}";
    assert!(
        refused(list).contains("descriptor d.k: metadata: a map"),
        "{}",
        refused(list)
    );
    let shared = "domain: d\ndescriptors:\n  - {key: k, value: v, share_threshold: true}";
    assert!(refused(shared).contains("share_threshold: only for a wildcard"));
    let nested = one("domain: d\ndescriptors:\n  - {key: k, metadata: {a: {b: [1, x]}, 2: true}, rate_limit: {unit: second, requests_per_unit: 1}}");
    let limit = nested
        .resolve("d", &[("k", "v")], &mut String::new())
        .unwrap();
    let metadata = limit.metadata.as_deref().unwrap();
    assert_eq!(metadata["a"]["b"][1], "x");
    assert_eq!(metadata["2"], true);
}

#[test]
fn wildcards_match_within_their_key_only() {
    // envoyproxy/ratelimit matches `key_value` against `key_pattern`, so key
    // `a` with value `b_c*` also matches key `a_b`; here a key is a key.
    let set = one("domain: d\ndescriptors:\n  - {key: a, value: \"b_c*\", rate_limit: {unit: second, requests_per_unit: 1}}\n  - {key: \"k*\", rate_limit: {unit: second, requests_per_unit: 1}}");
    assert!(found(&set, "d", &[("a", "b_c1")]).is_some());
    assert!(found(&set, "d", &[("a_b", "c1")]).is_none());
    // A `*` in a key is the key's own text, not a wildcard.
    assert!(found(&set, "d", &[("k*", "v")]).is_some());
    assert!(found(&set, "d", &[("kx", "v")]).is_none());
}

#[test]
fn the_quota_mode_setting_puts_every_limit_in_quota_mode_at_load() {
    let text =
        "domain: d\ndescriptors:\n  - {key: k, rate_limit: {unit: second, requests_per_unit: 1}}\n";
    let quota = |options: LoadOptions| {
        let set = parse_with([("f.yaml", text)], options, Default::default()).unwrap();
        let mut key = String::new();
        set.resolve("d", &[("k", "v")], &mut key)
            .unwrap()
            .quota_mode
    };
    assert!(!quota(Domains::Unique.into()));
    assert!(quota(LoadOptions {
        domains: Domains::Unique,
        quota_mode: true,
    }));
    // The example's own quota_mode: true stays, with or without it.
    let set = one(UPSTREAM_EXAMPLE);
    let mut key = String::new();
    assert!(
        set.resolve("rl", &[("service", "service_1")], &mut key)
            .unwrap()
            .quota_mode
    );
}

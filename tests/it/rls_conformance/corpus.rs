//! upstream's config corpus (`test/config/*.yaml`) with the expectations of
//! its `config_test.go`, in our words: each file loaded by the binary, each
//! lookup asked over gRPC. A limit upstream's `GetLimit` finds is our
//! `current_limit`; none is `OK` without one; its statistics key is our
//! `descriptor` label on /metrics. The lookups do not depend on how a limit
//! counts, so they run on a node with the default algorithm.

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;

use super::harness::{upstream, Entries, Rls};

/// One lookup: a descriptor of domain `test-domain`, the limit upstream finds
/// for it (requests per unit and unit; `None`: no limit), and the statistics
/// key it counts under (`""` when it has no limit).
pub struct Lookup {
    pub entries: Entries,
    pub limit: Option<(u32, Unit)>,
    pub stats: &'static str,
}

const fn found(entries: Entries, rpu: u32, unit: Unit, stats: &'static str) -> Lookup {
    Lookup {
        entries,
        limit: Some((rpu, unit)),
        stats,
    }
}

const fn none(entries: Entries) -> Lookup {
    Lookup {
        entries,
        limit: None,
        stats: "",
    }
}

/// The node serving one upstream file of `test/config/`.
pub fn serving(file: &str, extra: &[&str]) -> Rls {
    let path = upstream(&format!("test/config/{file}"));
    Rls::start(&format!("test/config/{file}"), &path, extra)
}

/// Asks every lookup once, checking the limit found and the series counted.
pub fn replay(rls: &Rls, test: &str, lookups: &[Lookup]) {
    for (i, lookup) in lookups.iter().enumerate() {
        let step = format!("{test}, lookup {i} {:?}", lookup.entries);
        let status = rls.one(&step, "test-domain", lookup.entries, 1);
        let want = lookup.limit.map(|(rpu, unit)| (rpu, unit as i32));
        assert_eq!(status.limit(), want, "{} {step}: {status:?}", rls.source);
        if lookup.limit.is_some() {
            let counted: f64 = ["ok", "over_limit", "shadow_limited"]
                .iter()
                .map(|outcome| rls.counted(&format!("test-domain.{}", lookup.stats), outcome))
                .sum();
            assert!(
                counted >= 1.0,
                "{} {step}: nothing counted under descriptor=\"test-domain.{}\" on /metrics",
                rls.source,
                lookup.stats
            );
        }
    }
}

/// config_test.go `TestBasicConfig`.
const BASIC: &[Lookup] = &[
    none(&[("key1", "something")]),
    none(&[("key1", "value1")]),
    none(&[("key2", "value2"), ("subkey", "subvalue")]),
    none(&[("key5", "value5"), ("subkey5", "subvalue")]),
    found(
        &[("key1", "value1"), ("subkey1", "something")],
        5,
        Unit::Second,
        "key1_value1.subkey1",
    ),
    found(
        &[("key1", "value1"), ("subkey1", "subvalue1")],
        10,
        Unit::Second,
        "key1_value1.subkey1_subvalue1",
    ),
    found(&[("key2", "something")], 20, Unit::Minute, "key2"),
    found(&[("key2", "value2")], 30, Unit::Minute, "key2_value2"),
    none(&[("key2", "value3")]),
    found(&[("key3", "foo")], 1, Unit::Hour, "key3"),
    found(&[("key4", "foo")], 1, Unit::Day, "key4"),
    found(
        &[("key7", "unspecified_value")],
        70,
        Unit::Minute,
        "key7_unspecified_value",
    ),
    found(
        &[("key7", "another_value")],
        70,
        Unit::Minute,
        "key7_another_value",
    ),
];

#[test]
fn basic_config_yaml_finds_upstreams_limits() {
    let rls = serving("basic_config.yaml", &[]);
    // An unknown domain, and a known one asked with an empty descriptor's
    // stand-in (an entry no descriptor has): no limit.
    let unknown = rls.one(
        "TestBasicConfig foo_domain",
        "foo_domain",
        &[("key1", "value1")],
        1,
    );
    assert_eq!((unknown.code, unknown.limit), (Code::Ok, None));
    replay(&rls, "TestBasicConfig", BASIC);
    // A limit's name is in current_limit.
    let named = rls.one("TestBasicConfig key4", "test-domain", &[("key4", "bar")], 1);
    assert_eq!(named.limit.unwrap().2, "key4_rate_limit", "{}", rls.source);
    // key6 is unlimited: OK, no current_limit, counted as unlimited.
    let unlimited = rls.one("TestBasicConfig key6", "test-domain", &[("key6", "foo")], 1);
    assert_eq!((unlimited.code, unlimited.limit), (Code::Ok, None));
    assert_eq!(rls.counted("test-domain.key6", "unlimited"), 1.0);
}

/// config_test.go `TestShadowModeConfig`: a limit in shadow mode is found
/// like any other, and asking past it at once is `OK` where the others refuse.
#[test]
fn shadowmode_config_yaml_marks_upstreams_shadow_limits() {
    let rls = serving("shadowmode_config.yaml", &[]);
    let cases: &[(Entries, u32, Unit, bool, &str)] = &[
        (
            &[("key1", "value1"), ("subkey1", "something")],
            5,
            Unit::Second,
            false,
            "key1_value1.subkey1",
        ),
        (
            &[("key1", "value1"), ("subkey1", "subvalue1")],
            10,
            Unit::Second,
            true,
            "key1_value1.subkey1_subvalue1",
        ),
        (&[("key2", "something")], 20, Unit::Minute, true, "key2"),
        (
            &[("key2", "value2")],
            30,
            Unit::Minute,
            false,
            "key2_value2",
        ),
    ];
    for (entries, rpu, unit, shadow, stats) in cases {
        let step = format!("TestShadowModeConfig {entries:?}");
        let status = rls.one(&step, "test-domain", entries, rpu + 1);
        assert_eq!(status.limit(), Some((*rpu, *unit as i32)), "{step}");
        let want = if *shadow { Code::Ok } else { Code::OverLimit };
        assert_eq!(status.code, want, "{step}: shadow_mode {shadow}");
        let shadowed = rls.counted(&format!("test-domain.{stats}"), "shadow_limited");
        assert_eq!(shadowed, if *shadow { 1.0 } else { 0.0 }, "{step}");
    }
}

/// config_test.go `TestWildcardConfig`, the wildcards that end a value.
const TRAILING_WILDCARDS: &[Lookup] = &[
    found(&[("noVal", "foo1")], 20, Unit::Minute, "noVal"),
    found(&[("noVal", "foo2")], 20, Unit::Minute, "noVal"),
    found(&[("wild", "foo1")], 20, Unit::Minute, "wild_foo*"),
    found(&[("wild", "foo2")], 20, Unit::Minute, "wild_foo*"),
    found(
        &[("nestedWild", "val1"), ("wild", "goo2")],
        20,
        Unit::Minute,
        "nestedWild_val1.wild_goo*",
    ),
    none(&[("wild", "bar")]),
    none(&[("noWild", "foo1")]),
];

#[test]
fn wildcard_yaml_trailing_wildcards_match_as_upstream() {
    let rls = serving("wildcard.yaml", &[]);
    replay(&rls, "TestWildcardConfig", TRAILING_WILDCARDS);
}

/// config_test.go `TestWildcardConfig`, wildcards inside a value (branch `rlsconfig`).
const INNER_WILDCARDS: &[Lookup] = &[
    found(&[("midWild", "barab")], 20, Unit::Minute, "midWild_bar*b"),
    found(&[("midWild", "bar123b")], 20, Unit::Minute, "midWild_bar*b"),
    found(&[("midWild", "barb")], 20, Unit::Minute, "midWild_bar*b"),
    none(&[("midWild", "bara")]),
    none(&[("midWild", "xbarb")]),
    found(
        &[("multiWild", "foo123bar456baz")],
        10,
        Unit::Minute,
        "multiWild_foo*bar*baz",
    ),
    found(
        &[("multiWild", "foobarbaz")],
        10,
        Unit::Minute,
        "multiWild_foo*bar*baz",
    ),
    none(&[("multiWild", "foo123baz")]),
    none(&[("multiWild", "bar456baz")]),
];

#[test]
fn wildcard_yaml_wildcards_inside_a_value_match_as_upstream() {
    let rls = serving("wildcard.yaml", &[]);
    replay(&rls, "TestWildcardConfig", INNER_WILDCARDS);
}

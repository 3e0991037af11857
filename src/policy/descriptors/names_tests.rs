//! Statistics names with the request's values: `detailed_metric`,
//! `value_to_metric`, `share_threshold` and overrides, as envoyproxy/ratelimit names them.

use crate::policy::descriptors::yaml::{parse, Domains};
use crate::policy::descriptors::{DescriptorSet, Unit};

const NAMED: &str = r#"
domain: d
descriptors:
  - key: route
    value_to_metric: true
    descriptors:
      - {key: method, rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: path, value: "/api/*", value_to_metric: true, rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: plain, value: "/x*", rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: exact, value: v, value_to_metric: true, rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: unspec, detailed_metric: true, rate_limit: {unit: minute, requests_per_unit: 1}}
  - key: svc
    value: "svc/*"
    share_threshold: true
    value_to_metric: true
    descriptors:
      - {key: endpoint, detailed_metric: true, rate_limit: {unit: minute, requests_per_unit: 1}}
      - {key: verb, rate_limit: {unit: minute, requests_per_unit: 1}}
"#;

fn set() -> DescriptorSet {
    parse([("named.yaml", NAMED)], Domains::Unique).unwrap()
}

/// The name `entries` are counted under: with their values, or the configured one.
fn name(set: &DescriptorSet, entries: &[(&str, &str)]) -> String {
    let limit = set.resolve("d", entries, &mut String::new()).unwrap();
    let mut name = String::new();
    match set.metric_name("d", entries, limit, &mut name) {
        true => name,
        false => limit.path.to_string(),
    }
}

#[test]
fn value_to_metric_shows_values_matched_by_a_wildcard_or_no_value() {
    let set = set();
    assert_eq!(
        name(&set, &[("route", "r1"), ("method", "GET")]),
        "d.route_r1.method"
    );
    assert_eq!(name(&set, &[("path", "/api/v1")]), "d.path_/api/v1");
    assert_eq!(name(&set, &[("plain", "/x/1")]), "d.plain_/x*");
    assert_eq!(name(&set, &[("exact", "v")]), "d.exact_v");
}

#[test]
fn share_threshold_names_by_the_pattern_before_value_to_metric_and_detail() {
    let set = set();
    assert_eq!(
        name(&set, &[("svc", "svc/a"), ("verb", "GET")]),
        "d.svc_svc/*.verb"
    );
    let detailed = name(&set, &[("svc", "svc/a"), ("endpoint", "e1")]);
    assert_eq!(detailed, "d.svc_svc/*.endpoint_e1");
}

#[test]
fn detailed_metric_names_every_entry_by_its_value_cut_short() {
    let set = set();
    assert_eq!(name(&set, &[("unspec", "x")]), "d.unspec_x");
    assert_eq!(name(&set, &[("unspec", "")]), "d.unspec_");
    let long = "é".repeat(100);
    let cut = name(&set, &[("unspec", &long)]);
    assert_eq!(cut.len(), "d.unspec_".len() + 64);
}

#[test]
fn an_override_is_named_by_the_request_entries() {
    let set = set();
    let entries = [("key1", "value1"), ("subkey1", "something"), ("empty", "")];
    let limit = set
        .resolve_override("d", &entries, 10, Unit::Day, &mut String::new())
        .unwrap();
    let mut name = String::new();
    assert!(set.metric_name("d", &entries, &limit, &mut name));
    assert_eq!(name, "d.key1_value1.subkey1_something.empty");
}

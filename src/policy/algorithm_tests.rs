//! Tests of limits that name an algorithm, in the rules file and in the RLS
//! YAML: what each makes, the node's defaults, and refusals naming the field.

use super::*;
use crate::limiter::Algorithm;
use crate::policy::descriptors::yaml::{self, Domains};
use crate::policy::rules_file::{parse, parse_in};
use crate::policy::RuleLimit;
use chrono_tz::America;

fn rule_limit(body: &str, zone: Tz) -> Result<Limit, String> {
    let text = format!("[[rules]]\nname = \"r\"\nkey = \"user\"\n{body}");
    let rules = parse_in(&text, zone).map_err(|e| e.to_string())?;
    match &rules.rules()[0].limit {
        RuleLimit::Fixed(limit) => Ok(*limit),
        other => panic!("not a fixed limit: {other:?}"),
    }
}

#[test]
fn a_rule_names_a_fixed_or_calendar_window() {
    let fixed = rule_limit(
        "capacity = 100\nalgorithm = \"fixed_window\"\nwindow = \"hour\"",
        Tz::UTC,
    )
    .unwrap();
    assert_eq!(fixed.algorithm(), Algorithm::FixedWindow(Unit::Hour));
    assert_eq!(fixed.capacity(), 100);
    let body = "capacity = 100\nalgorithm = \"sliding_window\"\nwindow = \"minute\"";
    let sliding = rule_limit(body, Tz::UTC).unwrap();
    assert_eq!(sliding.algorithm(), Algorithm::SlidingWindow(Unit::Minute));
    let calendar = "capacity = 30\nalgorithm = \"calendar\"\nwindow = \"month\"\n\
                    time_zone = \"America/New_York\"";
    let month = rule_limit(calendar, Tz::UTC).unwrap();
    assert_eq!(
        month.algorithm(),
        Algorithm::Calendar(Unit::Month, America::New_York)
    );
    // No time_zone: the node's --time-zone.
    let body = "capacity = 30\nalgorithm = \"calendar\"\nwindow = \"day\"";
    let day = rule_limit(body, America::Chicago).unwrap();
    assert_eq!(
        day.algorithm(),
        Algorithm::Calendar(Unit::Day, America::Chicago)
    );
    // No algorithm: a token bucket, as before.
    let bucket = rule_limit("capacity = 5\nrefill_per_sec = 1", Tz::UTC).unwrap();
    assert_eq!(bucket.algorithm(), Algorithm::TokenBucket);
}

#[test]
fn a_plan_may_be_a_window_too() {
    let text = "default_plan = \"monthly\"\n[plans.monthly]\ncapacity = 1000\n\
                algorithm = \"calendar\"\nwindow = \"month\"\n\
                [[rules]]\nname = \"r\"\nkey = \"user\"\nlimit = \"plan\"\n";
    let rules = parse(text).unwrap();
    let plan = rules.plan("monthly").unwrap();
    assert_eq!(plan.algorithm(), Algorithm::Calendar(Unit::Month, Tz::UTC));
}

#[test]
fn window_mistakes_are_refused_naming_the_field() {
    let refused = |body: &str| rule_limit(body, Tz::UTC).unwrap_err();
    let zone =
        "capacity = 3\nalgorithm = \"calendar\"\nwindow = \"month\"\ntime_zone = \"Mars/Olympus\"";
    assert!(refused(zone).contains("`time_zone`"), "{}", refused(zone));
    let unknown = refused("capacity = 3\nalgorithm = \"leaky\"\nwindow = \"day\"");
    assert!(unknown.contains("`algorithm`"), "{unknown}");
    let refill =
        refused("capacity = 3\nalgorithm = \"fixed_window\"\nrefill_per_sec = 1\nwindow = \"day\"");
    assert!(refill.contains("`refill_per_sec`"), "{refill}");
    let no_window = refused("capacity = 3\nalgorithm = \"fixed_window\"");
    assert!(no_window.contains("`window`"), "{no_window}");
    let hourly = refused("capacity = 3\nalgorithm = \"calendar\"\nwindow = \"hour\"");
    assert!(
        hourly.contains("`window`") && hourly.contains("day, week"),
        "{hourly}"
    );
    let stray = refused("capacity = 3\nrefill_per_sec = 1\nwindow = \"day\"");
    assert!(stray.contains("`window`"), "{stray}");
    let zone_on_fixed =
        "capacity = 3\nalgorithm = \"fixed_window\"\nwindow = \"day\"\ntime_zone = \"UTC\"";
    assert!(refused(zone_on_fixed).contains("`time_zone`"));
}

const RLS: &str = r#"
domain: edge
descriptors:
  - key: plain
    rate_limit: { unit: minute, requests_per_unit: 60 }
  - key: fixed
    rate_limit: { unit: minute, requests_per_unit: 60, algorithm: fixed_window }
  - key: monthly
    rate_limit: { unit: month, requests_per_unit: 30, algorithm: calendar, time_zone: America/New_York }
"#;

fn rls_limit(defaults: AlgorithmDefaults, key: &str) -> Limit {
    let set = yaml::parse_with([("edge.yaml", RLS)], Domains::Unique.into(), defaults).unwrap();
    let mut bucket_key = String::new();
    set.resolve("edge", &[(key, "x")], &mut bucket_key).unwrap();
    set.limit_of_key(&bucket_key).unwrap().1
}

#[test]
fn rls_limits_name_an_algorithm_or_take_the_nodes() {
    let defaults = AlgorithmDefaults::default();
    assert_eq!(
        rls_limit(defaults, "plain").algorithm(),
        Algorithm::TokenBucket
    );
    let fixed = Algorithm::FixedWindow(Unit::Minute);
    assert_eq!(rls_limit(defaults, "fixed").algorithm(), fixed);
    let monthly = Algorithm::Calendar(Unit::Month, America::New_York);
    assert_eq!(rls_limit(defaults, "monthly").algorithm(), monthly);
    assert_eq!(rls_limit(defaults, "monthly").capacity(), 30);
    let node = AlgorithmDefaults {
        rls: AlgorithmKind::FixedWindow,
        time_zone: Tz::UTC,
    };
    assert_eq!(rls_limit(node, "plain").algorithm(), fixed);
    let calendar = AlgorithmDefaults {
        rls: AlgorithmKind::Calendar,
        time_zone: America::Denver,
    };
    // A minute is no calendar unit: the node's choice is refused for it.
    assert!(yaml::parse_with([("edge.yaml", RLS)], Domains::Unique.into(), calendar).is_err());
}

#[test]
fn rls_window_mistakes_are_refused_naming_the_key() {
    let refused = |limit: &str| {
        let text = format!("domain: d\ndescriptors:\n  - key: k\n    rate_limit: {limit}\n");
        yaml::parse([("f.yaml", text.as_str())], Domains::Unique)
            .unwrap_err()
            .0
    };
    let zone =
        refused("{ unit: day, requests_per_unit: 1, algorithm: calendar, time_zone: Nowhere }");
    assert!(zone.contains("rate_limit.time_zone"), "{zone}");
    let kind = refused("{ unit: day, requests_per_unit: 1, algorithm: leaky }");
    assert!(kind.contains("rate_limit.algorithm"), "{kind}");
    let zone_on_bucket = refused("{ unit: day, requests_per_unit: 1, time_zone: UTC }");
    assert!(
        zone_on_bucket.contains("rate_limit.time_zone"),
        "{zone_on_bucket}"
    );
}

#[test]
fn names_parse_with_dashes_or_underscores() {
    let sliding = Some(AlgorithmKind::SlidingWindow);
    assert_eq!(AlgorithmKind::parse("sliding-window"), sliding);
    assert_eq!(
        AlgorithmKind::parse("fixed-window"),
        Some(AlgorithmKind::FixedWindow)
    );
    assert_eq!(
        AlgorithmKind::parse("Token_Bucket"),
        Some(AlgorithmKind::TokenBucket)
    );
    assert_eq!(parse_zone("Europe/Paris"), Some(chrono_tz::Europe::Paris));
    assert_eq!(parse_zone("CEST"), None);
}

//! Unit tests of `minute`.

use super::*;

const ALLOWED: usize = 0;
const LIMITED: usize = 1;
const SHADOW: usize = 2;

fn counts(allowed: u64, limited: u64, shadow: u64) -> Counts {
    let mut c = [0; 3];
    c[ALLOWED] = allowed;
    c[LIMITED] = limited;
    c[SHADOW] = shadow;
    c
}

fn one(minute: &Minute, name: &str) -> RuleMinute {
    minute
        .view()
        .into_iter()
        .find(|m| &*m.name == name)
        .unwrap_or_else(|| panic!("no series for {name}"))
}

#[test]
fn a_rule_counts_what_happened_in_the_last_60_and_10_seconds() {
    let mut m = Minute::default();
    let a: Arc<str> = "a".into();
    // One refusal and two allowed decisions a second, from second 1000.
    for s in 0..=100u64 {
        m.record(1000 + s, &[(Arc::clone(&a), counts(2 * s, s, 7))]);
    }
    let v = one(&m, "a");
    assert_eq!(v.last_60s, counts(120, 60, 0));
    assert_eq!(v.last_10s, counts(20, 10, 0));
    assert_eq!(RuleMinute::decisions(&v.last_60s), 180);
    assert_eq!(v.refused_per_sec, [1; 60]);
}

#[test]
fn a_new_series_counts_from_zero() {
    let mut m = Minute::default();
    let a: Arc<str> = "a".into();
    // What was decided before the first sample (since the node started)
    // falls in the first second sampled.
    m.record(5, &[(Arc::clone(&a), counts(100, 50, 0))]);
    m.record(6, &[(Arc::clone(&a), counts(100, 53, 1))]);
    let v = one(&m, "a");
    assert_eq!(v.last_60s, counts(100, 53, 1));
    assert_eq!(v.last_10s, counts(100, 53, 1));
    let mut expected = [0; 60];
    expected[58] = 50;
    expected[59] = 3;
    assert_eq!(v.refused_per_sec, expected);
}

#[test]
fn the_ring_rolls_over_and_old_seconds_fall_out() {
    let mut m = Minute::default();
    let a: Arc<str> = "a".into();
    m.record(0, &[(Arc::clone(&a), counts(0, 0, 0))]);
    // A burst of 30 refusals in second 1, then nothing.
    m.record(1, &[(Arc::clone(&a), counts(0, 30, 0))]);
    for s in 2..=60 {
        m.record(s, &[(Arc::clone(&a), counts(0, 30, 0))]);
    }
    let v = one(&m, "a");
    assert_eq!(v.last_60s[LIMITED], 30, "second 1 is 59 s old");
    assert_eq!(v.refused_per_sec[0], 30);
    assert_eq!(v.last_10s[LIMITED], 0);
    // The burst fell between the samples of seconds 0 and 1: a minute
    // after second 1 it is out of the window.
    m.record(61, &[(Arc::clone(&a), counts(0, 30, 0))]);
    let v = one(&m, "a");
    assert_eq!(v.last_60s[LIMITED], 0);
    assert_eq!(v.refused_per_sec, [0; 60]);
}

#[test]
fn a_gap_in_sampling_repeats_the_last_totals() {
    let mut m = Minute::default();
    let a: Arc<str> = "a".into();
    m.record(10, &[(Arc::clone(&a), counts(0, 0, 0))]);
    // The sampler was late: 5 refusals are seen 20 seconds later.
    m.record(30, &[(Arc::clone(&a), counts(0, 5, 0))]);
    let v = one(&m, "a");
    assert_eq!(v.last_60s[LIMITED], 5);
    assert_eq!(v.last_10s[LIMITED], 5);
    assert_eq!(v.refused_per_sec[59], 5);
    assert_eq!(v.refused_per_sec[..59], [0; 59]);
    // A gap longer than the ring.
    m.record(1_000, &[(Arc::clone(&a), counts(0, 6, 0))]);
    assert_eq!(one(&m, "a").last_60s[LIMITED], 1);
    // A clock that went back overwrites the newest second.
    m.record(999, &[(Arc::clone(&a), counts(0, 8, 0))]);
    assert_eq!(one(&m, "a").last_10s[LIMITED], 3);
}

#[test]
fn rules_that_change_keep_their_series_by_name_and_vanished_ones_drop_out() {
    let mut m = Minute::default();
    let (a, b, c): (Arc<str>, Arc<str>, Arc<str>) = ("a".into(), "b".into(), "c".into());
    m.record(0, &[(Arc::clone(&a), [0; 3]), (Arc::clone(&b), [0; 3])]);
    m.record(
        1,
        &[
            (Arc::clone(&a), counts(0, 2, 0)),
            (Arc::clone(&b), counts(1, 0, 0)),
        ],
    );
    // A reload: b is gone, c is new and first, a moved (its series stays).
    m.record(
        2,
        &[
            (Arc::clone(&c), counts(0, 9, 0)),
            (Arc::clone(&a), counts(0, 3, 0)),
        ],
    );
    let names: Vec<_> = m.view().iter().map(|v| v.name.to_string()).collect();
    assert_eq!(names, ["c", "a"]);
    assert_eq!(one(&m, "a").last_60s[LIMITED], 3);
    assert_eq!(one(&m, "c").last_60s[LIMITED], 9, "new: counted from zero");
    // b comes back: a new series.
    m.record(3, &[(Arc::clone(&b), counts(0, 1, 0))]);
    assert_eq!(one(&m, "b").last_60s, counts(0, 1, 0));
    assert_eq!(m.view().len(), 1);
    // Totals that went down (made again from zero) count nothing, not a wrap.
    m.record(4, &[(Arc::clone(&b), counts(0, 0, 0))]);
    assert_eq!(one(&m, "b").last_60s, [0; 3]);
    assert_eq!(one(&m, "b").refused_per_sec.iter().sum::<u64>(), 1);
}

#[test]
fn the_sampler_reads_what_decisions_counted_and_follows_reloads() {
    use crate::limiter::{Limit, Stamp, Store};
    use crate::policy::{rules_file, Policy, Request};
    use std::num::{NonZeroU32, NonZeroUsize};
    use std::time::Duration;

    let limit = Limit::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(1)).unwrap();
    let store = Store::new(limit, NonZeroUsize::new(100).unwrap());
    let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
    let rules = |names: &[&str]| {
        let text: String = names
            .iter()
            .map(|n| {
                format!(
                    "[[rules]]\nname = \"{n}\"\nkey = \"user\"\ncapacity = 1\nrefill_per_sec = 1\n"
                )
            })
            .collect();
        rules_file::parse(&text).unwrap()
    };
    let policy = Policy::new(rules(&["x", "y"]));
    let telemetry = Telemetry::new();
    let request = |user| Request {
        user,
        route: "/",
        method: "GET",
        tenant: None,
        ip: None,
        plan: None,
    };
    telemetry.sample_rules(&policy.rules(), 0);
    for _ in 0..3 {
        telemetry.count(policy.check(&store, &request("a"), 1, now).as_ref());
    }
    telemetry.sample_rules(&policy.rules(), 1);
    let view = telemetry.rule_minutes();
    let names: Vec<_> = view.iter().map(|m| m.name.to_string()).collect();
    assert_eq!(names, ["x", "y"]);
    // Both rules count user a; the one reported decides: 1 allowed, 2 refused.
    let counted: u64 = view
        .iter()
        .map(|m| RuleMinute::decisions(&m.last_60s))
        .sum();
    assert_eq!(counted, 3);
    assert_eq!(view.iter().map(|m| m.last_10s[LIMITED]).sum::<u64>(), 2);
    let x_before = view[0].last_60s;
    // A reload drops y and puts a new z first: y's series goes, z's starts.
    policy.replace_file(rules(&["z", "x"]));
    telemetry.sample_rules(&policy.rules(), 2);
    let names: Vec<_> = telemetry
        .rule_minutes()
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(names, ["z", "x"]);
    let view = telemetry.rule_minutes();
    assert_eq!(view[1].last_60s, x_before, "x keeps its series by name");
    assert_eq!(view[0].last_60s, [0; 3]);
    // Once a decision has remade the handles, nothing holds y's totals.
    telemetry.count(policy.check(&store, &request("b"), 1, now).as_ref());
    telemetry.sample_rules(&policy.rules(), 3);
    assert!(!telemetry.rule_counters.totals.lock().contains_key("y"));
    // The last rule leaves: decisions on the others keep the cached
    // handles (x's among them), yet when x comes back its series starts
    // afresh rather than showing all it ever counted in one second.
    assert!(RuleMinute::decisions(&x_before) > 0);
    policy.replace_file(rules(&["z"]));
    telemetry.count(policy.check(&store, &request("c"), 1, now).as_ref());
    telemetry.sample_rules(&policy.rules(), 4);
    policy.replace_file(rules(&["z", "x"]));
    telemetry.sample_rules(&policy.rules(), 5);
    let view = telemetry.rule_minutes();
    assert_eq!(view[1].name.as_ref(), "x");
    assert_eq!(view[1].last_60s, [0; 3]);
}

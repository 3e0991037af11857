//! The ledger: last-writer-wins by version, what the log lacks, and the journal.

use std::num::NonZeroU32;
use std::time::Duration;

use super::*;
use crate::limiter::Limit;
use crate::policy::{PlanSource, RuleSet};
use crate::policy_log::codec::encode;

fn plans() -> RuleSet {
    let text = r#"
default_plan = "free"
[plans.free]
capacity = 10
refill_per_sec = 10
[plans.pro]
capacity = 100
refill_per_sec = 100
[[rules]]
name = "per-user"
key = "user"
limit = "plan"
"#;
    crate::policy::rules_file::parse(text).unwrap()
}

fn ledger(node: &str) -> Ledger {
    Ledger::new(Arc::new(Policy::new(plans())), node)
}

fn moved(user: &str, plan: &str) -> PolicyChange {
    PolicyChange::SetUserPlan {
        user: user.into(),
        plan: plan.into(),
    }
}

fn record(change: &PolicyChange, at: u64, by: u64) -> (String, Vec<u8>) {
    encode(change, Version { at, by })
}

fn plan_of(ledger: &Ledger, user: &str) -> Option<(String, PlanSource)> {
    ledger.policy().plan_of(user)
}

#[test]
fn the_newest_version_wins_whatever_the_order() {
    let newer = record(&moved("alice", "pro"), 20, 1);
    let older = record(&moved("alice", "free"), 10, 2);
    for order in [[&newer, &older], [&older, &newer]] {
        let ledger = ledger("n1");
        for (key, value) in order {
            ledger.take(key, Some(value), Source::Log).unwrap();
        }
        assert_eq!(plan_of(&ledger, "alice").unwrap().0, "pro");
    }
}

#[test]
fn a_clear_keeps_its_version_so_an_older_set_cannot_undo_it() {
    let ledger = ledger("n1");
    let (key, set) = record(&moved("alice", "pro"), 10, 1);
    let (_, clear) = record(
        &PolicyChange::ClearUserPlan {
            user: "alice".into(),
        },
        20,
        1,
    );
    ledger.take(&key, Some(&set), Source::Log).unwrap();
    ledger.take(&key, Some(&clear), Source::Log).unwrap();
    assert_eq!(
        ledger.take(&key, Some(&set), Source::Log).ok(),
        Some(Taken::Stale)
    );
    assert_eq!(plan_of(&ledger, "alice").unwrap().1, PlanSource::Default);
}

#[test]
fn records_from_before_versions_follow_the_log_order() {
    let ledger = ledger("n1");
    let (key, pro) = record(&moved("alice", "pro"), 0, 0);
    let (_, free) = record(&moved("alice", "free"), 0, 0);
    ledger.take(&key, Some(&pro), Source::Log).unwrap();
    ledger.take(&key, Some(&free), Source::Log).unwrap();
    assert_eq!(plan_of(&ledger, "alice").unwrap().0, "free");
    // A bare tombstone clears, at version zero.
    ledger.take(&key, None, Source::Log).unwrap();
    assert_eq!(plan_of(&ledger, "alice").unwrap().1, PlanSource::Default);
}

#[test]
fn versions_it_issues_exceed_every_version_it_has_seen() {
    let ledger = ledger("n1");
    let (key, value) = record(&moved("alice", "pro"), 1_000, 1);
    ledger.take(&key, Some(&value), Source::Log).unwrap();
    let next = ledger.next_version(5);
    assert!(next.at > 1_000, "{next:?}");
    assert!(ledger.next_version(5) > next);
    assert_eq!(
        ledger.next_version(9_999).at,
        9_999,
        "the clock when it is ahead"
    );
}

#[test]
fn what_the_log_lacks_is_listed_until_the_log_has_it() {
    let ledger = ledger("n1");
    let (key, value) = record(&moved("alice", "pro"), 10, 1);
    ledger.take(&key, Some(&value), Source::Commit).unwrap();
    assert_eq!(ledger.unlogged(), vec![(key.clone(), value.clone())]);
    ledger.take(&key, Some(&value), Source::Log).unwrap();
    assert!(ledger.unlogged().is_empty());
    // A log that lost it: everything is missing again.
    ledger.forget_log();
    assert_eq!(ledger.unlogged().len(), 1);
    ledger.take(&key, Some(&value), Source::Log).unwrap();
    assert!(ledger.unlogged().is_empty());
    // An older record read from the log covers ours: ours must go back.
    let (_, older) = record(&moved("alice", "free"), 5, 2);
    assert_eq!(
        ledger.take(&key, Some(&older), Source::Log).ok(),
        Some(Taken::Stale)
    );
    assert_eq!(ledger.unlogged(), vec![(key, value)]);
}

#[test]
fn garbage_and_refused_changes_change_nothing() {
    let ledger = ledger("n1");
    assert!(ledger.take("user/alice", Some(b"{"), Source::Log).is_err());
    assert!(ledger.is_empty());
    let limit = Limit::new(NonZeroU32::new(5).unwrap(), Duration::from_secs(1)).unwrap();
    let (key, value) = record(
        &PolicyChange::SetPlan {
            name: "team".into(),
            limit,
        },
        3,
        1,
    );
    assert!(matches!(
        ledger.take(&key, Some(&value), Source::Log),
        Ok(Taken::Applied(_))
    ));
    assert_eq!(ledger.len(), 1);
}

#[test]
fn a_journal_brings_every_latest_record_back_and_drops_clears_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let telemetry = crate::telemetry::Telemetry::new();
    let open = |cleared| {
        let policy = Arc::new(Policy::new(plans()));
        crate::policy_log::open_ledger(policy, "n1", Some(dir.path()), cleared, &telemetry).unwrap()
    };
    let first = open(crate::policy_log::Cleared::Keep);
    for (change, at) in [
        (moved("alice", "pro"), 10),
        (moved("bob", "pro"), 11),
        (PolicyChange::ClearUserPlan { user: "bob".into() }, 12),
    ] {
        let (key, value) = record(&change, at, 1);
        first.take(&key, Some(&value), Source::Commit).unwrap();
    }
    drop(first);
    let kept = open(crate::policy_log::Cleared::Keep);
    assert_eq!(plan_of(&kept, "alice").unwrap().0, "pro");
    assert_eq!(plan_of(&kept, "bob").unwrap().1, PlanSource::Default);
    assert_eq!(kept.len(), 2, "bob's clear is kept with its version");
    assert_eq!(
        kept.unlogged().len(),
        2,
        "none of it is known to be in a log"
    );
    drop(kept);
    let dropped = open(crate::policy_log::Cleared::Drop);
    drop(dropped);
    let text = std::fs::read_to_string(dir.path().join(super::super::journal::FILE_NAME)).unwrap();
    assert!(!text.contains("user/bob"), "{text}");
    assert!(text.contains("user/alice"), "{text}");
}

#[test]
fn a_journal_keeps_a_window_plan_and_skips_a_record_naming_an_unknown_zone() {
    use crate::limiter::{Algorithm, Unit};
    let dir = tempfile::tempdir().unwrap();
    let telemetry = crate::telemetry::Telemetry::new();
    let open = || {
        let policy = Arc::new(Policy::new(plans()));
        let keep = crate::policy_log::Cleared::Keep;
        crate::policy_log::open_ledger(policy, "n1", Some(dir.path()), keep, &telemetry).unwrap()
    };
    let paris = Algorithm::Calendar(Unit::Month, chrono_tz::Europe::Paris);
    let calendar = Limit::windowed(NonZeroU32::new(30).unwrap(), paris).unwrap();
    let first = open();
    let monthly = PolicyChange::SetPlan {
        name: "monthly".into(),
        limit: calendar,
    };
    let (key, value) = record(&monthly, 10, 1);
    first.take(&key, Some(&value), Source::Commit).unwrap();
    drop(first);
    // A newer line naming a zone this node does not know.
    let file = dir.path().join(super::super::journal::FILE_NAME);
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(
        r#"{"key":"plan/pro","value":{"v":2,"limit":{"capacity":1,"algorithm":"calendar","window":"day","time_zone":"Mars/Olympus"},"at":11,"by":1}}"#,
    );
    text.push('\n');
    std::fs::write(&file, text).unwrap();
    let reopened = open();
    assert_eq!(reopened.policy().rules().plan("monthly"), Some(calendar));
    let pro = reopened.policy().rules().plan("pro").unwrap();
    assert_eq!(
        (pro.algorithm(), pro.capacity()),
        (Algorithm::TokenBucket, 100)
    );
    drop(reopened);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("Mars"),
        "the refused line is not kept: {text}"
    );
}

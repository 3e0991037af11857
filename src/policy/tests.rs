//! Unit tests of deciding under several rules and of live changes.

use super::rules::{KeyKind, Match};
use super::*;
use crate::limiter::Decision;
use crate::limiter::MergeMode;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;

fn at(nanos: u64) -> Stamp {
    Stamp::from_unix_nanos(nanos)
}

fn per_sec(capacity: u32, rate: u64) -> Limit {
    Limit::new(
        NonZeroU32::new(capacity).unwrap(),
        Duration::from_nanos(SEC / rate),
    )
    .unwrap()
}

fn store() -> Store {
    Store::new(per_sec(1, 1), NonZeroUsize::new(1000).unwrap())
}

/// Per-user plans (free 3/s, pro 10/s), orders 2 per user per route, global 5.
fn policy() -> Policy {
    let rules = RuleSet::new(
        vec![
            Rule {
                name: "per-user".into(),
                matcher: Match::default(),
                key: KeyKind::User,
                limit: RuleLimit::UserPlan,
                shadow: false,
            },
            Rule {
                name: "orders".into(),
                matcher: Match {
                    route: Some("/api/orders".into()),
                    ..Match::default()
                },
                key: KeyKind::UserRoute,
                limit: RuleLimit::Fixed(per_sec(2, 1)),
                shadow: false,
            },
            Rule {
                name: "global".into(),
                matcher: Match::default(),
                key: KeyKind::Global,
                limit: RuleLimit::Fixed(per_sec(5, 1)),
                shadow: false,
            },
        ],
        [
            ("free".to_string(), per_sec(3, 1)),
            ("pro".to_string(), per_sec(10, 10)),
        ],
        Some("free".into()),
        [],
    )
    .unwrap();
    Policy::new(rules)
}

fn req<'a>(user: &'a str, route: &'a str) -> Request<'a> {
    Request {
        user,
        route,
        method: "GET",
        tenant: None,
        ip: None,
        plan: None,
    }
}

fn outcome(v: Option<Verdict>) -> (bool, String, u64) {
    let v = v.expect("a rule applies");
    let remaining = match v.decision {
        Decision::Allowed { remaining, .. } | Decision::Limited { remaining, .. } => remaining,
    };
    (v.decision.is_allowed(), v.rule().to_string(), remaining)
}

#[test]
fn the_rule_with_fewest_tokens_left_is_reported() {
    let (p, s) = (policy(), store());
    // per-user 3, orders 2, global 5: orders has fewest left.
    assert_eq!(
        outcome(p.check(&s, &req("a", "/api/orders"), 1, at(T0))),
        (true, "orders".into(), 1)
    );
    assert_eq!(
        outcome(p.check(&s, &req("a", "/x"), 1, at(T0))),
        (true, "per-user".into(), 1)
    );
}

/// Empties the global bucket (5) through five users, each allowed once.
fn empty_global(p: &Policy, s: &Store, now: Stamp) {
    for user in ["u1", "u2", "u3", "u4", "u5"] {
        assert!(outcome(p.check(s, &req(user, "/"), 1, now)).0);
    }
}

#[test]
fn a_cost_beyond_a_rules_capacity_is_reported_against_that_rule() {
    let (p, s) = (policy(), store());
    let now = at(T0);
    // The global bucket (5) is empty: it would refuse longest (3 s for 3 tokens).
    empty_global(&p, &s, now);
    // But orders holds 2 at most: 3 tokens can never pass there.
    let v = p.check(&s, &req("b", "/api/orders"), 3, now).unwrap();
    assert!(!v.decision.is_allowed());
    assert_eq!((v.rule(), v.limit.capacity()), ("orders", 2));
}

#[test]
fn a_refused_request_takes_nothing_from_any_bucket() {
    let (p, s) = (policy(), store());
    let now = at(T0);
    assert!(outcome(p.check(&s, &req("a", "/api/orders"), 1, now)).0);
    assert!(outcome(p.check(&s, &req("a", "/api/orders"), 1, now)).0);
    // orders is empty; per-user (1 left) and global (3 left) must not pay for refusals.
    for _ in 0..10 {
        assert_eq!(
            outcome(p.check(&s, &req("a", "/api/orders"), 1, now)),
            (false, "orders".into(), 0)
        );
    }
    assert_eq!(
        outcome(p.check(&s, &req("a", "/home"), 1, now)),
        (true, "per-user".into(), 0)
    );
    assert_eq!(s.get("global").unwrap().tokens_at(&per_sec(5, 1), now), 2);
}

#[test]
fn a_refusal_on_a_replicating_node_publishes_nothing_for_the_buckets_it_gave_back() {
    // Taken in order, refunded at the refusal: the new users' per-user buckets
    // are back to full, and a full bucket never published has nothing to say.
    for mode in [MergeMode::MinMax, MergeMode::Counted] {
        let p = policy();
        let s = Store::replicated(per_sec(1, 1), NonZeroUsize::new(1000).unwrap(), mode, 7);
        let now = at(T0);
        empty_global(&p, &s, now);
        let _ = s.take_changes(now);
        for n in 0..100 {
            let user = format!("new-{n}");
            let (allowed, rule, _) = outcome(p.check(&s, &req(&user, "/"), 1, now));
            assert!(!allowed);
            assert_eq!(rule, "global");
        }
        // Nor does the refusing global bucket: a refusal takes nothing.
        let published: Vec<_> = s
            .take_changes(now)
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert!(published.is_empty(), "{mode:?}: {published:?}");
        // And they leave memory at the next sweep, as every full bucket does.
        s.sweep(now);
        // What stays: the global bucket and the five users who spent a token.
        assert_eq!(s.len(), 6, "{mode:?}");
    }
}

#[test]
fn the_refusal_reports_the_rule_that_refuses_longest() {
    let (p, s) = (policy(), store());
    let now = at(T0);
    // Empty the global bucket (5) through five users; user "z" then has plan tokens left.
    empty_global(&p, &s, now);
    assert_eq!(
        outcome(p.check(&s, &req("z", "/"), 1, now)),
        (false, "global".into(), 0)
    );
    // A cost of 2: per-user (3) would allow it, global waits 2 s for it.
    // (A cost beyond a rule's capacity is reported against that rule: see
    // a_cost_beyond_a_rules_capacity_is_reported_against_that_rule.)
    let v = p.check(&s, &req("y", "/api/orders"), 2, now).unwrap();
    assert!(!v.decision.is_allowed());
    assert_eq!(v.rule(), "global");
}

#[test]
fn moving_a_user_to_a_plan_keeps_their_tokens() {
    let (p, s) = (policy(), store());
    let now = at(T0);
    for _ in 0..3 {
        p.check(&s, &req("carol", "/"), 1, now);
    }
    let change = PolicyChange::SetUserPlan {
        user: "carol".into(),
        plan: "pro".into(),
    };
    p.validate(&change).unwrap();
    p.apply(&change).unwrap();
    assert_eq!(p.plan_of("carol"), Some(("pro".into(), PlanSource::Moved)));
    // Free was empty: pro starts from the same 0 tokens (not a fresh 10), refilling at 10/s.
    assert!(!outcome(p.check(&s, &req("carol", "/"), 1, now)).0);
    let later = at(T0 + SEC / 5);
    // Two pro tokens earned in 0.2 s (free would have earned none). Global ties
    // at 1 left and takes longer to fill, so it is the one reported.
    assert_eq!(
        outcome(p.check(&s, &req("carol", "/"), 1, later)),
        (true, "global".into(), 1)
    );
    assert_eq!(
        s.get("per-user carol")
            .unwrap()
            .tokens_at(&per_sec(10, 10), later),
        1
    );
    p.apply(&PolicyChange::ClearUserPlan {
        user: "carol".into(),
    })
    .unwrap();
    assert_eq!(
        p.plan_of("carol"),
        Some(("free".into(), PlanSource::Default))
    );
}

#[test]
fn plan_and_rule_changes_apply_and_can_be_forgotten() {
    let p = policy();
    p.apply(&PolicyChange::SetPlan {
        name: "free".into(),
        limit: per_sec(7, 1),
    })
    .unwrap();
    assert_eq!(p.rules().default_limit(), Some(per_sec(7, 1)));
    p.apply(&PolicyChange::ClearPlan {
        name: "free".into(),
    })
    .unwrap();
    assert_eq!(p.rules().default_limit(), Some(per_sec(3, 1)));
    p.apply(&PolicyChange::SetRuleLimit {
        rule: "global".into(),
        limit: per_sec(50, 5),
    })
    .unwrap();
    assert_eq!(
        p.rules().rule("global").unwrap().limit,
        RuleLimit::Fixed(per_sec(50, 5))
    );
    // A reloaded file keeps the live change on top.
    p.replace_file(policy().rules().as_ref().clone());
    assert_eq!(
        p.rules().rule("global").unwrap().limit,
        RuleLimit::Fixed(per_sec(50, 5))
    );
    p.apply(&PolicyChange::DeletePlan { name: "pro".into() })
        .unwrap();
    assert_eq!(p.rules().plan("pro"), None);
}

#[test]
fn invalid_changes_name_the_field() {
    let p = policy();
    let field = |c: PolicyChange| p.validate(&c).unwrap_err().field;
    assert_eq!(
        field(PolicyChange::SetUserPlan {
            user: "a".into(),
            plan: "gold".into()
        }),
        "plan"
    );
    assert_eq!(
        field(PolicyChange::DeletePlan {
            name: "free".into()
        }),
        "name"
    );
    assert_eq!(
        field(PolicyChange::DeletePlan {
            name: "gold".into()
        }),
        "name"
    );
    assert_eq!(
        field(PolicyChange::SetRuleLimit {
            rule: "per-user".into(),
            limit: per_sec(1, 1)
        }),
        "limit"
    );
    assert_eq!(
        field(PolicyChange::SetRuleLimit {
            rule: "nope".into(),
            limit: per_sec(1, 1)
        }),
        "name"
    );
    assert_eq!(
        field(PolicyChange::SetPlan {
            name: "bad name".into(),
            limit: per_sec(1, 1)
        }),
        "name"
    );
}

#[test]
fn without_a_rules_file_decisions_are_the_stores() {
    let p = Policy::new(RuleSet::single(per_sec(2, 1)));
    let s = store();
    let now = at(T0);
    for expected in [true, true, false] {
        let v = p.check(&s, &req("alice", "/protected"), 1, now).unwrap();
        assert_eq!(v.decision.is_allowed(), expected);
        assert_eq!(v.rule(), "default");
    }
    assert!(s.get("alice").is_some(), "the key is the bare user ID");
}

#[test]
fn a_request_no_rule_matches_is_not_limited() {
    let rules = RuleSet::new(
        vec![Rule {
            name: "t".into(),
            matcher: Match::default(),
            key: KeyKind::Tenant,
            limit: RuleLimit::Fixed(per_sec(1, 1)),
            shadow: false,
        }],
        [],
        None,
        [],
    )
    .unwrap();
    let p = Policy::new(rules);
    assert!(p.check(&store(), &req("a", "/"), 1, at(T0)).is_none());
}

/// `enforced`: 3 per user; `trial`: a shadow rule of `capacity` per user.
fn shadow_policy(capacity: u32) -> Policy {
    let text = format!(
        r#"
        [[rules]]
        name = "enforced"
        key = "user"
        capacity = 3
        refill_per_sec = 1

        [[rules]]
        name = "trial"
        key = "user"
        capacity = {capacity}
        refill_per_sec = 1
        shadow = true
        "#
    );
    Policy::new(rules_file::parse(&text).unwrap())
}

#[test]
fn a_shadow_rule_never_refuses_but_says_it_would_have() {
    let (p, s) = (shadow_policy(1), store());
    let now = at(T0);
    let v = p.check(&s, &req("a", "/"), 1, now).unwrap();
    // The shadow bucket (0 left) limits soonest: it is the one reported.
    assert_eq!(outcome(Some(v)), (true, "trial".into(), 0));
    let v = p.check(&s, &req("a", "/"), 1, now).unwrap();
    assert!(v.decision.is_allowed());
    assert_eq!(v.shadow_limited(), Some(("trial", Duration::from_secs(1))));
    assert_eq!(v.outcome(), (1, RuleOutcome::ShadowLimited));
    // The enforced rule counted both requests.
    assert_eq!(
        s.get("enforced a").unwrap().tokens_at(&per_sec(3, 1), now),
        1
    );
}

#[test]
fn an_enforced_refusal_takes_nothing_from_shadow_buckets() {
    let (p, s) = (shadow_policy(10), store());
    let now = at(T0);
    for _ in 0..3 {
        let v = p.check(&s, &req("a", "/"), 1, now).unwrap();
        assert_eq!((v.decision.is_allowed(), v.shadow_limited()), (true, None));
        assert_eq!(v.outcome(), (0, RuleOutcome::Allowed));
    }
    for _ in 0..5 {
        let v = p.check(&s, &req("a", "/"), 1, now).unwrap();
        assert_eq!(outcome(Some(v)), (false, "enforced".into(), 0));
    }
    let v = p.check(&s, &req("a", "/"), 1, now).unwrap();
    assert_eq!(v.outcome(), (0, RuleOutcome::Limited));
    // The shadow bucket counted only the three requests that passed.
    assert_eq!(s.get("trial a").unwrap().tokens_at(&per_sec(10, 1), now), 7);
}

#[test]
fn a_cost_beyond_a_shadow_rules_capacity_is_not_refused() {
    let (p, s) = (shadow_policy(2), store());
    let v = p.check(&s, &req("a", "/"), 3, at(T0)).unwrap();
    assert!(v.decision.is_allowed());
    assert_eq!(v.shadow_limited().map(|(rule, _)| rule), Some("trial"));
}

#[test]
fn global_shadow_makes_every_rule_shadow() {
    let p = Policy::new(RuleSet::single(per_sec(1, 1))).with_shadow_all(true);
    let s = store();
    let now = at(T0);
    assert_eq!(
        outcome(p.check(&s, &req("alice", "/"), 1, now)),
        (true, "default".into(), 0)
    );
    for _ in 0..3 {
        let v = p.check(&s, &req("alice", "/"), 1, now).unwrap();
        assert!(v.decision.is_allowed());
        assert_eq!(
            v.shadow_limited(),
            Some(("default", Duration::from_secs(1)))
        );
        assert_eq!(v.outcome(), (0, RuleOutcome::ShadowLimited));
    }
    // With a rules file too: the per-user plan (3) and orders (2) never refuse.
    let (p, s) = (policy().with_shadow_all(true), store());
    for _ in 0..4 {
        let v = p.check(&s, &req("a", "/api/orders"), 1, now).unwrap();
        assert!(v.decision.is_allowed());
    }
    let v = p.check(&s, &req("a", "/api/orders"), 1, now).unwrap();
    assert_eq!(v.shadow_limited().map(|(rule, _)| rule), Some("per-user"));
}

#[test]
fn api_keys_are_added_changed_and_revoked_and_their_plan_must_exist() {
    use super::api_keys::{KeyHash, KeyOwner};
    let p = policy();
    let hash = KeyHash::of("k");
    let owner = |user: &str, plan: Option<&str>| KeyOwner {
        user: user.into(),
        plan: plan.map(Into::into),
    };
    let set = |o: KeyOwner| PolicyChange::SetApiKey { hash, owner: o };
    assert_eq!(
        p.validate(&set(owner("a", Some("gold"))))
            .unwrap_err()
            .field,
        "plan"
    );
    assert_eq!(p.validate(&set(owner("", None))).unwrap_err().field, "user");
    for change in [set(owner("a", Some("pro"))), set(owner("b", None))] {
        p.validate(&change).unwrap();
        p.apply(&change).unwrap();
    }
    assert_eq!(p.api_key(&hash), Some(owner("b", None)));
    assert_eq!(
        p.api_keys(Some("b"), None, 10).0,
        vec![(hash, owner("b", None))]
    );
    let clear = PolicyChange::cleared(&set(owner("b", None)).key()).unwrap();
    assert_eq!(clear, PolicyChange::ClearApiKey { hash });
    p.apply(&clear).unwrap();
    assert_eq!(p.api_key(&hash), None);
}

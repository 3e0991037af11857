//! The rules in effect — the rules file plus live changes (plans, users'
//! plans, rule limits, API keys) — and the decision of a request against every rule
//! that matches it.
//!
//! A request is allowed only if every matching rule allows it, and a refused
//! request takes nothing from any bucket: the buckets are taken from in
//! order, and at the first refusal what was already taken is given back
//! ([`Store::refund`]), so the common case locks each bucket once. Shadow
//! rules (`shadow = true`, or every rule under `--shadow`) never refuse:
//! they are counted only when the enforced rules let the request through.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use arc_swap::{ArcSwap, Guard};
use compact_str::CompactString;
use dashmap::DashMap;

use crate::limiter::{BucketState, Limit, Stamp, Store};
use api_keys::{KeyHash, KeyOwner, LiveKeys};
pub use change::{ApplyError, PlanSource, PolicyChange};
use decide::{as_shadow, decide, Hit};
use descriptors::{DescriptorSet, KEY_PREFIX};
pub use rules::{IpNet, KeyKind, Match, NameError, Request, Rule, RuleLimit, RuleSet, RulesError};

pub mod algorithm;
pub mod api_keys;
mod buckets;
pub mod change;
mod decide;
pub mod descriptors;
pub mod keys;
pub mod limit_text;
pub mod matching;
pub mod rules;
pub mod rules_file;
mod verdict;
pub use verdict::{RuleOutcome, Verdict};

/// A bucket as this node sees it.
#[derive(Clone, Debug)]
pub struct BucketView {
    /// The rule it counts for.
    pub rule: Arc<str>,
    /// Its limit now.
    pub limit: Limit,
    /// Its state under that limit.
    pub state: BucketState,
}

/// Live changes on top of the rules file.
#[derive(Default)]
struct Overrides {
    /// `None`: deleted.
    plans: BTreeMap<String, Option<Limit>>,
    rules: BTreeMap<String, Limit>,
}

/// The rules in effect on this node.
pub struct Policy {
    effective: ArcSwap<RuleSet>,
    /// The rules file and the changes on top; locked only to change them.
    layers: Mutex<(RuleSet, Overrides)>,
    /// Users moved to a plan (kept apart from the rules so that moving one
    /// user does not copy the rest).
    users: DashMap<CompactString, CompactString, ahash::RandomState>,
    any_moved: AtomicBool,
    /// API keys added through the admin API.
    api_keys: LiveKeys,
    /// Envoy rate-limit descriptors (envoyproxy/ratelimit's files).
    descriptors: ArcSwap<DescriptorSet>,
    /// Every rule is shadow (`--shadow`).
    shadow_all: bool,
}

thread_local! {
    /// Keys of the request being decided, reused so a decision allocates nothing.
    static SCRATCH: RefCell<(String, Vec<Hit>)> = const { RefCell::new((String::new(), Vec::new())) };
}

impl Policy {
    /// The rules of `file`, with no changes yet.
    pub fn new(file: RuleSet) -> Self {
        Self {
            effective: ArcSwap::from_pointee(file.clone()),
            layers: Mutex::new((file, Overrides::default())),
            users: DashMap::with_hasher(ahash::RandomState::new()),
            any_moved: AtomicBool::new(false),
            api_keys: LiveKeys::default(),
            descriptors: ArcSwap::from_pointee(DescriptorSet::default()),
            shadow_all: false,
        }
    }

    /// With `on`, every rule is shadow: counted and reported, never refusing.
    pub fn with_shadow_all(self, on: bool) -> Self {
        Self {
            shadow_all: on,
            ..self
        }
    }

    /// Whether every rule is shadow (`--shadow`).
    pub fn shadow_all(&self) -> bool {
        self.shadow_all
    }

    /// Replaces the descriptor limits (at start, and on a reload).
    pub fn replace_descriptors(&self, set: Arc<DescriptorSet>) {
        self.descriptors.store(set);
    }

    /// The descriptor limits in effect.
    pub fn descriptors(&self) -> Arc<DescriptorSet> {
        self.descriptors.load_full()
    }

    /// The rules and plans in effect.
    pub fn rules(&self) -> Arc<RuleSet> {
        self.effective.load_full()
    }

    /// Replaces the rules file (a reload); live changes stay on top.
    pub fn replace_file(&self, file: RuleSet) {
        let mut layers = self.lock();
        layers.0 = file;
        self.rebuild(&layers);
    }

    /// `user`'s plan and where it comes from (`None`: no default plan).
    pub fn plan_of(&self, user: &str) -> Option<(String, PlanSource)> {
        let rules = self.effective.load();
        if let Some(plan) = self.users.get(user).filter(|p| rules.plan(p).is_some()) {
            return Some((plan.to_string(), PlanSource::Moved));
        }
        if let Some(plan) = rules.file_plan_of(user).filter(|p| rules.plan(p).is_some()) {
            return Some((plan.to_string(), PlanSource::File));
        }
        rules
            .default_plan()
            .map(|p| (p.to_string(), PlanSource::Default))
    }

    /// Users moved to a plan through the admin API, at most `max` of them.
    pub fn moved_users(&self, max: usize) -> Vec<(String, String)> {
        let mut users: Vec<_> = self
            .users
            .iter()
            .take(max)
            .map(|e| (e.key().to_string(), e.value().to_string()))
            .collect();
        users.sort();
        users
    }

    /// The owner of an API key added through the admin API.
    pub fn api_key(&self, hash: &KeyHash) -> Option<KeyOwner> {
        self.api_keys.get(hash)
    }

    /// Whether the admin API may add the key `hash` (see [`api_keys::MAX_LIVE_KEYS`]).
    pub fn has_room_for_api_key(&self, hash: &KeyHash) -> bool {
        self.api_keys.has_room_for(hash)
    }

    /// API keys added through the admin API (of `user`, if given): the first
    /// `max` by hash after `after`, and whether more follow.
    pub fn api_keys(
        &self,
        user: Option<&str>,
        after: Option<&KeyHash>,
        max: usize,
    ) -> (Vec<(KeyHash, KeyOwner)>, bool) {
        self.api_keys.list(user, after, max)
    }

    /// Decides a request of `cost` tokens at `now`; `None` when no rule
    /// applies to it (it is not limited).
    ///
    /// # Examples
    ///
    /// ```rust
    /// use std::num::{NonZeroU32, NonZeroUsize};
    /// use std::time::Duration;
    ///
    /// use crdt_limiter::limiter::{Limit, Stamp, Store};
    /// use crdt_limiter::policy::{rules_file, Policy, Request};
    ///
    /// let rules = rules_file::parse(
    ///     r#"
    ///     [[rules]]
    ///     name = "per-user"
    ///     key = "user"
    ///     capacity = 2
    ///     refill_per_sec = 1
    ///     "#,
    /// )
    /// .unwrap();
    /// let policy = Policy::new(rules);
    /// // The store's own limit is for keys no rule names; the rules bring theirs.
    /// let any = Limit::new(NonZeroU32::new(1).unwrap(), Duration::from_secs(1)).unwrap();
    /// let store = Store::new(any, NonZeroUsize::new(1000).unwrap());
    /// let now = Stamp::from_unix_nanos(1_700_000_000_000_000_000);
    /// let request = |user| Request {
    ///     user,
    ///     route: "/orders",
    ///     method: "POST",
    ///     tenant: None,
    ///     ip: None,
    ///     plan: None,
    /// };
    ///
    /// for _ in 0..2 {
    ///     let verdict = policy.check(&store, &request("alice"), 1, now).unwrap();
    ///     assert!(verdict.decision.is_allowed());
    /// }
    /// let refused = policy.check(&store, &request("alice"), 1, now).unwrap();
    /// assert!(!refused.decision.is_allowed());
    /// assert_eq!(&**refused.rule_name(), "per-user");
    /// // Another user has a bucket of their own.
    /// assert!(policy.check(&store, &request("bob"), 1, now).unwrap().decision.is_allowed());
    /// ```
    pub fn check(
        &self,
        store: &Store,
        request: &Request<'_>,
        cost: u32,
        now: Stamp,
    ) -> Option<Verdict> {
        let rules = self.effective.load();
        if rules.bare_keys() {
            return self.check_bare(store, rules, request.user, cost, now);
        }
        let (n, decided, limit) = SCRATCH.with_borrow_mut(|(keys, hits)| {
            keys.clear();
            hits.clear();
            for (i, rule) in rules.rules().iter().enumerate() {
                if !rule.matcher.matches(request) {
                    continue;
                }
                let Some(limit) = self.limit_of(&rules, rule, request.user, request.plan) else {
                    continue;
                };
                let start = keys.len();
                if rules.write_key(rule, request, keys) {
                    hits.push(Hit {
                        rule: i,
                        limit,
                        cost,
                        shadow: self.shadow_all || rule.shadow,
                        start,
                        end: keys.len(),
                    });
                } else {
                    keys.truncate(start);
                }
            }
            let mut decided = decide(store, keys, hits, now)?;
            // From places among the hits to places among the rules.
            if let Some((hit, _)) = &mut decided.shadow_limited {
                *hit = hits[*hit].rule;
            }
            let hit = &hits[decided.hit];
            Some((hit.rule, decided, hit.limit))
        })?;
        Some(Verdict {
            decision: decided.decision,
            limit,
            rule: n,
            shadow: decided.shadow_limited,
            rules,
        })
    }

    /// No rules file: one rule for every request, keyed by the bare user
    /// ID, so the key needs no building.
    fn check_bare(
        &self,
        store: &Store,
        rules: Guard<Arc<RuleSet>>,
        user: &str,
        cost: u32,
        now: Stamp,
    ) -> Option<Verdict> {
        let rule = &rules.rules()[0];
        let limit = self.limit_of(&rules, rule, user, None)?;
        let decision = store.check_with(user, &limit, cost, now);
        let (decision, shadow) = match self.shadow_all || rule.shadow {
            true => as_shadow(decision),
            false => (decision, None),
        };
        Some(Verdict {
            decision,
            limit,
            rule: 0,
            shadow: shadow.map(|wait| (0, wait)),
            rules,
        })
    }

    /// The limit this node applies to bucket `key`, if the key belongs to one of its rules.
    pub fn limit_of_key(&self, key: &str) -> Option<Limit> {
        if key.starts_with(KEY_PREFIX) {
            return self
                .descriptors
                .load()
                .limit_of_key(key)
                .map(|(_, limit)| limit);
        }
        let rules = self.effective.load();
        let key = rules.rule_of_key(key)?;
        self.limit_of(&rules, key.rule, key.user.unwrap_or(""), key.plan)
    }

    /// `rule`'s limit for `user`: fixed, or the user's plan (moved by the
    /// admin API, else `credential`'s, else the rules file's, else the default).
    fn limit_of(
        &self,
        rules: &RuleSet,
        rule: &Rule,
        user: &str,
        credential: Option<&str>,
    ) -> Option<Limit> {
        match rule.limit {
            RuleLimit::Fixed(limit) => Some(limit),
            RuleLimit::UserPlan => {
                if self.any_moved.load(Ordering::Acquire) {
                    if let Some(limit) = self.users.get(user).and_then(|p| rules.plan(p.as_str())) {
                        return Some(limit);
                    }
                }
                credential
                    .and_then(|p| rules.plan(p))
                    .or_else(|| rules.file_plan_of(user).and_then(|p| rules.plan(p)))
                    .or_else(|| rules.default_limit())
            }
        }
    }

    fn rebuild(&self, (file, overrides): &(RuleSet, Overrides)) {
        let mut rules = file.clone();
        for (name, limit) in &overrides.plans {
            rules.set_plan(name, *limit);
        }
        for (name, limit) in &overrides.rules {
            rules.set_rule_limit(name, *limit);
        }
        self.effective.store(Arc::new(rules));
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, (RuleSet, Overrides)> {
        self.layers.lock()
    }
}

#[cfg(test)]
mod tests;

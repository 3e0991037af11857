//! Buckets for the admin API: one as this node sees it, and resetting to
//! full one bucket by its key, or every bucket counted per a user.

use std::sync::Arc;

use super::descriptors::KEY_PREFIX;
use super::keys::{arity, PLAN_PART};
use super::{BucketView, KeyKind, Policy, RuleLimit, RuleSet};
use crate::limiter::{Stamp, Store};

/// Longest key a reset accepts: what peers accept from the topic.
const MAX_KEY: usize = 1024;

/// What a user's reset did.
#[derive(Debug)]
pub struct UserReset {
    /// The keys reset.
    pub keys: Vec<String>,
    /// The latest of their resets' stamps (`now` if none).
    pub at: Stamp,
    /// More of the user's buckets than the bound were tracked: some are not reset.
    pub truncated: bool,
}

impl Policy {
    /// The bucket `key` as this node sees it, under its limit now.
    pub fn inspect(&self, store: &Store, key: &str, now: Stamp) -> Option<BucketView> {
        if key.starts_with(KEY_PREFIX) {
            let set = self.descriptors.load();
            let (rule, limit) = set.limit_of_key(key)?;
            return Some(BucketView {
                rule,
                limit,
                state: store.view(key, &limit, now)?,
            });
        }
        let rules = self.effective.load();
        let parts = rules.rule_of_key(key)?;
        let rule = parts.rule;
        let limit = self.limit_of(&rules, rule, parts.user.unwrap_or(""), parts.plan)?;
        let state = store.view(key, &limit, now)?;
        Some(BucketView {
            rule: Arc::clone(&rule.name),
            limit,
            state,
        })
    }

    /// Resets bucket `key` to full under the limit this node gives it (see
    /// [`Store::reset`]); `None` if no rule or descriptor makes such a key.
    pub fn reset_key(&self, store: &Store, key: &str, now: Stamp) -> Option<Stamp> {
        if !key.starts_with(KEY_PREFIX) && !well_formed(&self.rules(), key) {
            return None;
        }
        let limit = self.limit_of_key(key)?;
        Some(store.reset(key, &limit, now))
    }

    /// Resets every bucket counted per `user`: the one of each `user` rule,
    /// and each of a `user+route` rule's buckets this node tracks (every
    /// route's bucket that is not full anywhere, since peers replicate
    /// them), at most `max` keys found in one walk of the store.
    pub fn reset_user(&self, store: &Store, user: &str, now: Stamp, max: usize) -> UserReset {
        let rules = self.rules();
        let mut keys: Vec<String> = Vec::new();
        let mut prefixes = Vec::new();
        if rules.bare_keys() {
            keys.push(user.to_string());
        }
        for rule in rules.rules().iter().filter(|_| !rules.bare_keys()) {
            match rule.key {
                KeyKind::User => {
                    keys.push(format!("{} {user}", rule.name));
                    // Its buckets under plans credentials named.
                    prefixes.push(format!("{} {user} {PLAN_PART}", rule.name));
                }
                KeyKind::UserRoute => prefixes.push(format!("{} {user} ", rule.name)),
                KeyKind::Global | KeyKind::Tenant | KeyKind::Ip => {}
            }
        }
        if !prefixes.is_empty() {
            let wanted = |key: &str| prefixes.iter().any(|p| key.starts_with(p.as_str()));
            let found = store.keys_where(wanted, max.saturating_sub(keys.len()) + 1);
            keys.extend(found.into_iter().map(String::from));
        }
        let truncated = keys.len() > max;
        keys.truncate(max);
        let mut at = now;
        keys.retain(|key| match self.reset_key(store, key, now) {
            Some(reset) => {
                at = at.max(reset);
                true
            }
            None => false,
        });
        UserReset {
            keys,
            at,
            truncated,
        }
    }
}

/// Whether `key` has the shape `rules` give their bucket keys: the user ID
/// alone without a rules file, else a rule's name and as many parts as its
/// key kind has, each non-empty visible ASCII (an IP in its canonical form).
fn well_formed(rules: &RuleSet, key: &str) -> bool {
    let part = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_graphic());
    if key.len() > MAX_KEY {
        return false;
    }
    if rules.bare_keys() {
        return part(key) && key.len() <= 256;
    }
    let mut parts = key.split(' ');
    let Some(rule) = parts.next().and_then(|name| rules.rule(name)) else {
        return false;
    };
    let mut rest: Vec<&str> = parts.collect();
    // A last `plan:NAME` part (a credential's plan) for a rule following plans.
    if rest.len() == arity(rule.key) + 1 && matches!(rule.limit, RuleLimit::UserPlan) {
        match rest.pop().and_then(|p| p.strip_prefix(PLAN_PART)) {
            Some(plan) if rules.plan(plan).is_some() => {}
            _ => return false,
        }
    }
    let ip_ok = rule.key != KeyKind::Ip
        || rest
            .first()
            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            .is_some_and(|ip| ip.to_canonical().to_string() == rest[0]);
    rest.len() == arity(rule.key) && rest.iter().all(|p| part(p)) && ip_ok
}

#[cfg(test)]
#[path = "buckets_tests.rs"]
mod tests;

//! Rules and plans: which buckets a request is counted in, and under which limit.
//!
//! A [`RuleSet`] is a list of rules, each with a match (route prefix and
//! method, tenant, user, client IP, or nothing: every request), a key (what its
//! buckets are counted per) and a limit (fixed, or the user's plan). A request
//! is counted in one bucket per matching rule. Without a rules file the set is
//! [`RuleSet::single`]: one rule, per user, keyed by the bare user ID, exactly
//! as before rules existed.

use std::collections::HashMap;
use std::sync::Arc;

pub use super::matching::{IpNet, Match, Request};
use crate::limiter::Limit;

/// Longest rule or plan name.
pub const MAX_NAME: usize = 64;

/// The name of the one rule (and its plan) when there is no rules file.
pub const DEFAULT_NAME: &str = "default";

/// What a rule's buckets are counted per.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// One bucket for every request the rule matches.
    Global,
    /// One bucket per user.
    User,
    /// One bucket per user and route.
    UserRoute,
    /// One bucket per tenant; requests without a tenant are not counted.
    Tenant,
    /// One bucket per client IP; requests without one are not counted.
    Ip,
}

impl KeyKind {
    /// Every kind as written in a rules file.
    pub const NAMES: &'static str = "global, user, user+route, tenant, ip";

    /// Parses the rules-file spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "global" => Self::Global,
            "user" => Self::User,
            "user+route" => Self::UserRoute,
            "tenant" => Self::Tenant,
            "ip" => Self::Ip,
            _ => return None,
        })
    }

    /// The rules-file spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Global => "global",
            Self::User => "user",
            Self::UserRoute => "user+route",
            Self::Tenant => "tenant",
            Self::Ip => "ip",
        }
    }
}

/// A rule's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleLimit {
    /// The same limit for every bucket of the rule.
    Fixed(Limit),
    /// Each user's plan (the default plan unless the user was moved to another).
    UserPlan,
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Unique name; reported in responses and part of every bucket key.
    pub name: Arc<str>,
    /// Which requests it counts.
    pub matcher: Match,
    /// What its buckets are counted per.
    pub key: KeyKind,
    /// Its limit.
    pub limit: RuleLimit,
    /// Counted and reported, but never refuses (to roll out a limit safely).
    pub shadow: bool,
}

type Map<V> = HashMap<String, V, ahash::RandomState>;

/// A validated set of rules and plans.
#[derive(Clone, Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    plans: Map<Limit>,
    default_plan: Option<String>,
    /// The default plan's limit, looked up once rather than per request.
    default_limit: Option<Limit>,
    /// Plans given to users by the rules file.
    users: Map<String>,
    /// Keys are bare user IDs (the implicit set), so buckets and the topic
    /// look exactly as they did before rules existed.
    bare_keys: bool,
}

/// A rules file (or change) that is refused: where, which field, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{place}field `{field}`: {reason}")]
pub struct RulesError {
    /// `rule "x" `, `plan "x" `, `user "x" ` or empty for a top-level field.
    pub place: String,
    /// The field as written in the file.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl RulesError {
    /// An error in a top-level field.
    pub fn top(field: &str, reason: impl ToString) -> Self {
        Self::at(String::new(), field, reason)
    }

    /// An error in `field` of the entry described by `place` (e.g. `rule "orders"`).
    pub fn at(place: impl Into<String>, field: &str, reason: impl ToString) -> Self {
        let mut place = place.into();
        if !place.is_empty() {
            place.push(' ');
        }
        Self {
            place,
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

/// Longest user or tenant ID, in bytes.
pub const MAX_ID: usize = 256;

/// Why an ID or a name is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// An ID empty or longer than [`MAX_ID`].
    #[error("must be 1-{MAX_ID} bytes")]
    IdLength,
    /// An ID with a byte that is not visible ASCII, at this position.
    #[error("byte {0} is not visible ASCII (0x21-0x7e)")]
    IdByte(usize),
    /// A name empty or longer than [`MAX_NAME`].
    #[error("must be 1-{MAX_NAME} characters")]
    NameLength,
    /// A name with this character, escaped.
    #[error("`{0}` is not allowed; use A-Z, a-z, 0-9, '.', '_' and '-'")]
    NameCharacter(String),
}

/// Checks a user or tenant ID: 1–256 bytes of visible ASCII (so no space,
/// which separates the parts of a bucket key).
pub fn valid_id(id: &str) -> Result<(), NameError> {
    if id.is_empty() || id.len() > MAX_ID {
        return Err(NameError::IdLength);
    }
    match id.bytes().position(|b| !b.is_ascii_graphic()) {
        Some(position) => Err(NameError::IdByte(position)),
        None => Ok(()),
    }
}

/// Checks a rule or plan name: 1–64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(NameError::NameLength);
    }
    match name
        .bytes()
        .find(|b| !(b.is_ascii_alphanumeric() || b"._-".contains(b)))
    {
        Some(b) => Err(NameError::NameCharacter(
            char::from(b).escape_default().to_string(),
        )),
        None => Ok(()),
    }
}

impl RuleSet {
    /// The set without a rules file: one rule `default`, per user, whose plan
    /// `default` is `limit`, with bare user IDs as keys.
    pub fn single(limit: Limit) -> Self {
        Self {
            rules: vec![Rule {
                name: DEFAULT_NAME.into(),
                matcher: Match::default(),
                key: KeyKind::User,
                limit: RuleLimit::UserPlan,
                shadow: false,
            }],
            plans: [(DEFAULT_NAME.to_string(), limit)].into_iter().collect(),
            default_plan: Some(DEFAULT_NAME.into()),
            default_limit: Some(limit),
            users: Map::default(),
            bare_keys: true,
        }
    }

    /// A set from its parts, validated: names well formed and unique, every
    /// plan referred to defined, a default plan whenever a rule uses plans.
    pub fn new(
        rules: Vec<Rule>,
        plans: impl IntoIterator<Item = (String, Limit)>,
        default_plan: Option<String>,
        users: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, RulesError> {
        let plans: Map<Limit> = plans.into_iter().collect();
        for name in plans.keys() {
            valid_name(name).map_err(|e| RulesError::at(format!("plan \"{name}\""), "name", e))?;
        }
        if rules.is_empty() {
            return Err(RulesError::top(
                "rules",
                "at least one rule is required (without rules, nothing would be limited)",
            ));
        }
        check_rules(&rules, default_plan.is_some())?;
        if let Some(plan) = &default_plan {
            if !plans.contains_key(plan) {
                return Err(RulesError::top(
                    "default_plan",
                    format!("no plan is named \"{plan}\""),
                ));
            }
        }
        let users: Map<String> = users.into_iter().collect();
        for (user, plan) in &users {
            if !plans.contains_key(plan) {
                return Err(RulesError::at(
                    format!("user \"{user}\""),
                    "plan",
                    format!("no plan is named \"{plan}\""),
                ));
            }
        }
        Ok(Self {
            rules,
            default_limit: default_plan.as_ref().and_then(|p| plans.get(p).copied()),
            plans,
            default_plan,
            users,
            bare_keys: false,
        })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule named `name`.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| &*r.name == name)
    }

    /// The plan named `name`.
    pub fn plan(&self, name: &str) -> Option<Limit> {
        self.plans.get(name).copied()
    }

    /// Every plan, by name.
    pub fn plans(&self) -> impl Iterator<Item = (&str, Limit)> {
        self.plans
            .iter()
            .map(|(name, limit)| (name.as_str(), *limit))
    }

    /// The plan of users not moved to another.
    pub fn default_plan(&self) -> Option<&str> {
        self.default_plan.as_deref()
    }

    /// The default plan's limit.
    pub fn default_limit(&self) -> Option<Limit> {
        self.default_limit
    }

    /// The plan the rules file gives `user`, if any.
    pub fn file_plan_of(&self, user: &str) -> Option<&str> {
        if self.users.is_empty() {
            return None;
        }
        self.users.get(user).map(String::as_str)
    }

    /// Users the rules file gives a plan, with the plan.
    pub fn file_users(&self) -> impl Iterator<Item = (&str, &str)> {
        self.users.iter().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Whether keys are bare user IDs (no rules file).
    pub fn bare_keys(&self) -> bool {
        self.bare_keys
    }

    /// Sets or removes (`None`) plan `name`.
    pub(crate) fn set_plan(&mut self, name: &str, limit: Option<Limit>) {
        match limit {
            Some(limit) => {
                self.plans.insert(name.to_string(), limit);
            }
            None => {
                self.plans.remove(name);
            }
        }
        self.default_limit = self.default_plan.as_ref().and_then(|p| self.plan(p));
    }

    /// Gives rule `name` a fixed `limit`; returns false if there is no such
    /// rule or it follows the user's plan.
    pub(crate) fn set_rule_limit(&mut self, name: &str, limit: Limit) -> bool {
        match self.rules.iter_mut().find(|r| &*r.name == name) {
            Some(rule) if matches!(rule.limit, RuleLimit::Fixed(_)) => {
                rule.limit = RuleLimit::Fixed(limit);
                true
            }
            _ => false,
        }
    }
}

/// Each rule's name is valid and unique, and a rule following the user's
/// plan has a default plan to fall back on and a key naming the user.
fn check_rules(rules: &[Rule], has_default_plan: bool) -> Result<(), RulesError> {
    let mut seen = std::collections::HashSet::new();
    for rule in rules {
        let place = format!("rule \"{}\"", rule.name);
        valid_name(&rule.name).map_err(|e| RulesError::at(&place, "name", e))?;
        if !seen.insert(&rule.name) {
            return Err(RulesError::at(&place, "name", "two rules have this name"));
        }
        if rule.limit == RuleLimit::UserPlan {
            if !has_default_plan {
                return Err(RulesError::at(
                    &place,
                    "limit",
                    "\"plan\" needs a top-level `default_plan`",
                ));
            }
            if !matches!(rule.key, KeyKind::User | KeyKind::UserRoute) {
                return Err(RulesError::at(
                    &place,
                    "limit",
                    format!(
                        "\"plan\" is each user's plan, so the key must be `user` or `user+route`, not `{}`",
                        rule.key.as_str()
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;

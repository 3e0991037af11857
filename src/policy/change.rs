//! Live changes to the rules (plans, users' plans, rule limits, API keys),
//! each with the key under which the latest one wins, and how the policy
//! checks and applies them.

use super::api_keys::{KeyHash, KeyOwner, MAX_HELD_KEYS};
use super::rules::{valid_id, valid_name, Rule, RuleLimit, RulesError};
use super::Policy;
use crate::limiter::Limit;
use std::sync::atomic::Ordering;

/// One live change to the rules. Each has a key (`plan/NAME`, `user/ID`,
/// `rule/NAME`, `apikey/sha256:HEX`): the latest change of a key is the one
/// in effect, which is what a compacted topic keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyChange {
    /// Creates or changes a plan.
    SetPlan { name: String, limit: Limit },
    /// Deletes a plan (also one from the rules file); its users fall back to the default plan.
    DeletePlan { name: String },
    /// Forgets changes to a plan: the rules file's (or none) is in effect again.
    ClearPlan { name: String },
    /// Moves a user to a plan.
    SetUserPlan { user: String, plan: String },
    /// Forgets a user's move: the rules file's plan, or the default.
    ClearUserPlan { user: String },
    /// Changes a fixed-limit rule's limit.
    SetRuleLimit { rule: String, limit: Limit },
    /// Forgets a rule's change: the rules file's limit is in effect again.
    ClearRuleLimit { rule: String },
    /// Adds an API key (its hash only) for a user and maybe a plan, or
    /// changes whom it belongs to.
    SetApiKey { hash: KeyHash, owner: KeyOwner },
    /// Revokes an API key added through the admin API.
    ClearApiKey { hash: KeyHash },
}

impl PolicyChange {
    /// The key whose latest change wins.
    pub fn key(&self) -> String {
        match self {
            Self::SetPlan { name, .. } | Self::DeletePlan { name } | Self::ClearPlan { name } => {
                format!("plan/{name}")
            }
            Self::SetUserPlan { user, .. } | Self::ClearUserPlan { user } => format!("user/{user}"),
            Self::SetRuleLimit { rule, .. } | Self::ClearRuleLimit { rule } => {
                format!("rule/{rule}")
            }
            Self::SetApiKey { hash, .. } | Self::ClearApiKey { hash } => format!("apikey/{hash}"),
        }
    }

    /// The change a key without a value (a tombstone) stands for.
    pub fn cleared(key: &str) -> Option<Self> {
        let (kind, name) = key.split_once('/')?;
        let name = name.to_string();
        Some(match kind {
            "plan" => Self::ClearPlan { name },
            "user" => Self::ClearUserPlan { user: name },
            "rule" => Self::ClearRuleLimit { rule: name },
            "apikey" => Self::ClearApiKey {
                hash: KeyHash::parse(&name).ok()?,
            },
            _ => return None,
        })
    }
}

impl Policy {
    /// Refuses a change that would leave the rules inconsistent, naming the field.
    pub fn validate(&self, change: &PolicyChange) -> Result<(), RulesError> {
        let name_ok = |place: &str, name: &str| {
            valid_name(name).map_err(|e| RulesError::at(place, "name", e))
        };
        match change {
            PolicyChange::SetPlan { name, .. } | PolicyChange::ClearPlan { name } => {
                name_ok("plan", name)
            }
            PolicyChange::DeletePlan { name } => {
                name_ok("plan", name)?;
                self.deletable(name)
            }
            PolicyChange::SetUserPlan { plan, .. } => self.known_plan(plan),
            PolicyChange::ClearUserPlan { .. } | PolicyChange::ClearApiKey { .. } => Ok(()),
            PolicyChange::SetRuleLimit { rule, .. } | PolicyChange::ClearRuleLimit { rule } => {
                self.changeable_rule(rule)
            }
            // Room for the key is the admin API's to check (a conflict, not
            // a field in error); applying is bounded whatever it checked.
            PolicyChange::SetApiKey { owner, .. } => {
                valid_id(&owner.user).map_err(|e| RulesError::top("user", e))?;
                match &owner.plan {
                    Some(plan) => self.known_plan(plan),
                    None => Ok(()),
                }
            }
        }
    }

    fn known_plan(&self, plan: &str) -> Result<(), RulesError> {
        match self.effective.load().plan(plan) {
            Some(_) => Ok(()),
            None => Err(RulesError::top(
                "plan",
                format!("no plan is named \"{plan}\""),
            )),
        }
    }

    fn deletable(&self, name: &str) -> Result<(), RulesError> {
        let rules = self.effective.load();
        if rules.plan(name).is_none() {
            Err(RulesError::at(
                "plan",
                "name",
                format!("no plan is named \"{name}\""),
            ))
        } else if rules.default_plan() == Some(name) {
            Err(RulesError::at(
                "plan",
                "name",
                format!("\"{name}\" is the default plan; it cannot be deleted"),
            ))
        } else {
            Ok(())
        }
    }

    fn changeable_rule(&self, rule: &str) -> Result<(), RulesError> {
        match self.effective.load().rule(rule) {
            None => Err(RulesError::at(
                "rule",
                "name",
                format!("no rule is named \"{rule}\""),
            )),
            Some(Rule {
                limit: RuleLimit::UserPlan,
                ..
            }) => Err(RulesError::at(
                format!("rule \"{rule}\""),
                "limit",
                "this rule follows each user's plan; change the plan instead",
            )),
            Some(_) => Ok(()),
        }
    }

    /// Applies a change (already validated, or read from the log: applied as
    /// far as it makes sense, since the log's order is what every node
    /// follows). `Err` says why it changed nothing: an API key beyond
    /// [`MAX_HELD_KEYS`], which only records written past the admin API
    /// reach (it adds at most [`super::api_keys::MAX_LIVE_KEYS`]).
    pub fn apply(&self, change: &PolicyChange) -> Result<(), ApplyError> {
        match change {
            PolicyChange::SetUserPlan { user, plan } => {
                self.users.insert(user.into(), plan.into());
                self.any_moved.store(true, Ordering::Release);
                return Ok(());
            }
            PolicyChange::ClearUserPlan { user } => {
                self.users.remove(user.as_str());
                return Ok(());
            }
            PolicyChange::SetApiKey { hash, owner } => {
                return match self.api_keys.insert(*hash, owner.clone()) {
                    true => Ok(()),
                    false => Err(ApplyError::TooManyApiKeys),
                };
            }
            PolicyChange::ClearApiKey { hash } => {
                self.api_keys.remove(hash);
                return Ok(());
            }
            _ => {}
        }
        let mut layers = self.lock();
        let overrides = &mut layers.1;
        match change {
            PolicyChange::SetPlan { name, limit } => {
                overrides.plans.insert(name.clone(), Some(*limit));
            }
            PolicyChange::DeletePlan { name } => {
                overrides.plans.insert(name.clone(), None);
            }
            PolicyChange::ClearPlan { name } => {
                overrides.plans.remove(name);
            }
            PolicyChange::SetRuleLimit { rule, limit } => {
                overrides.rules.insert(rule.clone(), *limit);
            }
            PolicyChange::ClearRuleLimit { rule } => {
                overrides.rules.remove(rule);
            }
            _ => {}
        }
        self.rebuild(&layers);
        Ok(())
    }
}

/// Why [`Policy::apply`] changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The node holds [`MAX_HELD_KEYS`] API keys already.
    #[error("more than {MAX_HELD_KEYS} API keys")]
    TooManyApiKeys,
}

/// Where a user's plan comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanSource {
    /// Moved there through the admin API.
    Moved,
    /// Given in the rules file.
    File,
    /// Nobody said otherwise.
    Default,
}

impl PlanSource {
    /// A short label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Moved => "moved",
            Self::File => "rules_file",
            Self::Default => "default",
        }
    }
}

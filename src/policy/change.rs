//! Live changes to the rules (plans, users' plans, rule limits), each with the
//! key under which the latest one wins.

use crate::limiter::Limit;

/// One live change to the rules. Each has a key (`plan/NAME`, `user/ID`,
/// `rule/NAME`): the latest change of a key is the one in effect, which is
/// what a compacted topic keeps.
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
            _ => return None,
        })
    }
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

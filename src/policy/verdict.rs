//! The answer to one request under the rules: the decision of the rule that
//! limits soonest, and the shadow rule that would have refused, if any.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::Guard;

use super::{Request, RuleSet};
use crate::limiter::{Decision, Limit};

/// The answer to one request: the decision of the rule that limits soonest.
pub struct Verdict {
    /// Allowed (no enforced rule refused) or limited (by [`Verdict::rule`]).
    pub decision: Decision,
    /// That rule's limit for this request.
    pub limit: Limit,
    pub(super) rule: usize,
    /// A shadow rule that would have refused (the longest), and its wait.
    pub(super) shadow: Option<(usize, Duration)>,
    pub(super) rules: Guard<Arc<RuleSet>>,
}

/// How a request went, for counting per rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleOutcome {
    /// Every rule allowed it.
    Allowed,
    /// An enforced rule refused it.
    Limited,
    /// A shadow rule would have refused it; it went on.
    ShadowLimited,
}

impl RuleOutcome {
    /// Every outcome, in the order of [`RuleOutcome::index`].
    pub const ALL: [RuleOutcome; 3] = [Self::Allowed, Self::Limited, Self::ShadowLimited];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Limited => "limited",
            Self::ShadowLimited => "shadow_limited",
        }
    }

    /// Its place in [`RuleOutcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl Verdict {
    /// The name of the rule the decision reports.
    pub fn rule(&self) -> &str {
        &self.rules.rules()[self.rule].name
    }

    /// The shadow rule that would have refused the request, and how long
    /// it would have made the client wait; `None` when none would have.
    pub fn shadow_limited(&self) -> Option<(&str, Duration)> {
        self.shadow
            .map(|(rule, wait)| (&*self.rules.rules()[rule].name, wait))
    }

    /// The outcome to count, and the place (in [`Verdict::rules`]) of the
    /// rule it is counted for: the refusing rule, else the shadow rule that
    /// would have refused, else the reported rule.
    pub fn outcome(&self) -> (usize, RuleOutcome) {
        match self.shadow {
            _ if !self.decision.is_allowed() => (self.rule, RuleOutcome::Limited),
            Some((rule, _)) => (rule, RuleOutcome::ShadowLimited),
            None => (self.rule, RuleOutcome::Allowed),
        }
    }

    /// The reported rule's name, shared.
    pub fn rule_name(&self) -> &Arc<str> {
        &self.rules.rules()[self.rule].name
    }

    /// Writes the key of the reported rule's bucket for `request` into `buf`
    /// (built again, so only a caller that needs it, such as one counting a
    /// refusal, pays); false if there is none.
    pub fn write_bucket_key(&self, request: &Request<'_>, buf: &mut String) -> bool {
        let rule = &self.rules.rules()[self.rule];
        self.rules.write_key(rule, request, buf)
    }

    /// The rules the request was decided under.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }
}

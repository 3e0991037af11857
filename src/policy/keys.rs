//! Bucket keys: a rule's name, then the parts its key kind counts by, and —
//! when a verified credential named the caller's plan (gateway mode) — that
//! plan as a last `plan:NAME` part, so that every node derives the same
//! limit from the key alone, also one that never served the caller.

use std::fmt::Write as _;

use super::rules::{KeyKind, Request, Rule, RuleLimit, RuleSet};

/// Marks the part naming a credential's plan.
pub(super) const PLAN_PART: &str = "plan:";

/// What a bucket key says.
#[derive(Debug)]
pub struct KeyParts<'r, 'k> {
    /// The rule it counts for.
    pub rule: &'r Rule,
    /// The user in it, for rules keyed by user.
    pub user: Option<&'k str>,
    /// The plan a credential named, for rules following the user's plan.
    pub plan: Option<&'k str>,
}

impl RuleSet {
    /// Writes the bucket key of `rule` for `request` into `buf`; false if the
    /// rule cannot count the request (it keys on a tenant or IP the request lacks).
    pub fn write_key(&self, rule: &Rule, request: &Request<'_>, buf: &mut String) -> bool {
        if self.bare_keys() {
            buf.push_str(request.user);
            return true;
        }
        buf.push_str(&rule.name);
        match rule.key {
            KeyKind::Global => {}
            KeyKind::User => push_part(buf, request.user),
            KeyKind::UserRoute => {
                push_part(buf, request.user);
                push_part(buf, request.route);
            }
            KeyKind::Tenant => match request.tenant {
                Some(tenant) => push_part(buf, tenant),
                None => return false,
            },
            KeyKind::Ip => match request.ip {
                // Writing into a String cannot fail.
                Some(ip) => {
                    let _ = write!(buf, " {}", ip.to_canonical());
                }
                None => return false,
            },
        }
        if let (RuleLimit::UserPlan, Some(plan)) = (&rule.limit, request.plan) {
            if self.plan(plan).is_some() {
                buf.push(' ');
                buf.push_str(PLAN_PART);
                buf.push_str(plan);
            }
        }
        true
    }

    /// The rule a bucket key belongs to, the user in it (for rules keyed by
    /// user) and the plan a credential named in it.
    pub fn rule_of_key<'k>(&self, key: &'k str) -> Option<KeyParts<'_, 'k>> {
        if self.bare_keys() {
            let rule = self.rules().first()?;
            return Some(KeyParts {
                rule,
                user: Some(key),
                plan: None,
            });
        }
        let (name, rest) = key.split_once(' ').unwrap_or((key, ""));
        let rule = self.rule(name)?;
        let parts: Vec<&str> = rest.split(' ').filter(|p| !p.is_empty()).collect();
        let user = match rule.key {
            KeyKind::User | KeyKind::UserRoute => Some(*parts.first()?),
            _ => None,
        };
        let plan = match (&rule.limit, parts.len() == arity(rule.key) + 1) {
            (RuleLimit::UserPlan, true) => parts.last()?.strip_prefix(PLAN_PART),
            _ => None,
        };
        Some(KeyParts { rule, user, plan })
    }
}

/// Parts after the rule's name that a key of `kind` has (without a plan).
pub(super) fn arity(kind: KeyKind) -> usize {
    match kind {
        KeyKind::Global => 0,
        KeyKind::User | KeyKind::Tenant | KeyKind::Ip => 1,
        KeyKind::UserRoute => 2,
    }
}

/// Parts are separated by a space, which no user ID, route, tenant, plan or
/// rule name may contain, so a key names one bucket only.
fn push_part(buf: &mut String, part: &str) {
    buf.push(' ');
    buf.push_str(part);
}

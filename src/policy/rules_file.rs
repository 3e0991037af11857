//! The rules file (`--rules`, TOML): plans, users' plans and rules, read into
//! a validated [`RuleSet`] with errors that name the rule (or plan) and field.
//!
//! ```toml
//! default_plan = "free"
//!
//! [plans.free]
//! capacity = 10
//! refill_per_sec = 10
//!
//! [users]
//! alice = "pro"
//!
//! [[rules]]
//! name = "per-user"
//! key = "user"
//! limit = "plan"
//!
//! [[rules]]
//! name = "orders"
//! match = { route = "/api/orders", method = "POST" }
//! key = "user+route"
//! capacity = 5
//! refill_per_sec = "1/2"
//! shadow = true     # counted and reported, never refuses
//! ```

use toml::{Table, Value};

use super::{IpNet, KeyKind, Match, Rule, RuleLimit, RuleSet, RulesError};
use crate::limiter::{Limit, Tz};

mod limit;

use limit::take_limit;

/// Why a rules file is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RulesFileError {
    /// The text is not TOML: the parser's words.
    #[error("{0}")]
    Toml(String),
    /// TOML, but not valid rules: where, which field, and why.
    #[error(transparent)]
    Rules(#[from] RulesError),
}

/// Parses and validates a rules file's text, calendar windows in UTC unless named.
pub fn parse(text: &str) -> Result<RuleSet, RulesFileError> {
    parse_in(text, Tz::UTC)
}

/// Parses and validates a rules file's text, calendar windows that name no
/// `time_zone` in `zone` (the node's `--time-zone`).
pub fn parse_in(text: &str, zone: Tz) -> Result<RuleSet, RulesFileError> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| RulesFileError::Toml(e.message().to_string()))?;
    Ok(from_table(table, zone)?)
}

fn from_table(mut table: Table, zone: Tz) -> Result<RuleSet, RulesError> {
    let default_plan = take_str(&mut table, "", "default_plan")?;
    let plans = take_plans(&mut table, zone)?;
    let users = take_users(&mut table)?;
    let rules = match table.remove("rules") {
        None => Vec::new(),
        Some(Value::Array(rules)) => rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| match rule {
                Value::Table(rule) => parse_rule(i, rule, zone),
                _ => Err(RulesError::at(
                    format!("rule #{}", i + 1),
                    "name",
                    "each [[rules]] entry is a table",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(RulesError::top(
                "rules",
                "write each rule as a [[rules]] table",
            ))
        }
    };
    no_more(table, "")?;
    RuleSet::new(rules, plans, default_plan, users)
}

fn parse_rule(index: usize, mut rule: Table, zone: Tz) -> Result<Rule, RulesError> {
    let name = take_str(&mut rule, &format!("rule #{}", index + 1), "name")?
        .ok_or_else(|| RulesError::at(format!("rule #{}", index + 1), "name", "required"))?;
    let place = format!("rule \"{name}\"");
    let key = take_str(&mut rule, &place, "key")?.ok_or_else(|| {
        RulesError::at(
            &place,
            "key",
            format!("required: one of {}", KeyKind::NAMES),
        )
    })?;
    let key = KeyKind::parse(&key).ok_or_else(|| {
        RulesError::at(
            &place,
            "key",
            format!("`{key}` is not one of {}", KeyKind::NAMES),
        )
    })?;
    let limit = take_rule_limit(&mut rule, &place, zone)?;
    let shadow = match rule.remove("shadow") {
        None => false,
        Some(Value::Boolean(shadow)) => shadow,
        Some(_) => return Err(RulesError::at(&place, "shadow", "must be true or false")),
    };
    let matcher = match rule.remove("match") {
        None => Match::default(),
        Some(Value::Table(table)) => parse_match(table, &place)?,
        Some(_) => {
            return Err(RulesError::at(
                &place,
                "match",
                "must be a table, e.g. { route = \"/api\" }",
            ))
        }
    };
    no_more(rule, &place)?;
    Ok(Rule {
        name: name.into(),
        matcher,
        key,
        limit,
        shadow,
    })
}

/// `[plans.NAME]` tables, each a limit.
fn take_plans(table: &mut Table, zone: Tz) -> Result<Vec<(String, Limit)>, RulesError> {
    Ok(match table.remove("plans") {
        None => Vec::new(),
        Some(Value::Table(plans)) => plans
            .into_iter()
            .map(|(name, plan)| {
                let place = format!("plan \"{name}\"");
                let Value::Table(mut plan) = plan else {
                    return Err(RulesError::at(
                        place,
                        "capacity",
                        "a plan is a table with capacity and refill_per_sec",
                    ));
                };
                let limit = take_limit(&mut plan, &place, zone)?
                    .ok_or_else(|| RulesError::at(&place, "capacity", "required"))?;
                no_more(plan, &place)?;
                Ok((name, limit))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(RulesError::top("plans", "must be a table of plans")),
    })
}

/// `[users]`: user = "plan".
fn take_users(table: &mut Table) -> Result<Vec<(String, String)>, RulesError> {
    Ok(match table.remove("users") {
        None => Vec::new(),
        Some(Value::Table(users)) => users
            .into_iter()
            .map(|(user, plan)| match plan {
                Value::String(plan) => Ok((user, plan)),
                _ => Err(RulesError::at(
                    format!("user \"{user}\""),
                    "plan",
                    "must be a plan name",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(RulesError::top(
                "users",
                "must be a table of user = \"plan\"",
            ))
        }
    })
}

/// `limit = "plan"`, or a fixed `capacity` and `refill_per_sec`.
fn take_rule_limit(rule: &mut Table, place: &str, zone: Tz) -> Result<RuleLimit, RulesError> {
    let plan = take_str(rule, place, "limit")?;
    let fixed = take_limit(rule, place, zone)?;
    Ok(match (plan.as_deref(), fixed) {
        (Some("plan"), None) => RuleLimit::UserPlan,
        (Some("plan"), Some(_)) => {
            return Err(RulesError::at(
                place,
                "limit",
                "give either limit = \"plan\" or capacity and refill_per_sec, not both",
            ))
        }
        (Some(other), _) => {
            return Err(RulesError::at(
                place,
                "limit",
                format!(
                "`{other}` is not \"plan\" (for a fixed limit, give capacity and refill_per_sec)"
            ),
            ))
        }
        (None, Some(limit)) => RuleLimit::Fixed(limit),
        (None, None) => {
            return Err(RulesError::at(
                place,
                "capacity",
                "required (or limit = \"plan\")",
            ))
        }
    })
}

fn parse_match(mut table: Table, place: &str) -> Result<Match, RulesError> {
    let field = |f: &str| format!("match.{f}");
    let mut take = |f: &str| take_str(&mut table, place, &field(f));
    let route = take("route")?;
    if let Some(route) = &route {
        if !route.starts_with('/') || route.contains(' ') {
            return Err(RulesError::at(
                place,
                "match.route",
                "a path prefix starting with '/' and without spaces",
            ));
        }
    }
    let method = take("method")?.map(|m| m.to_ascii_uppercase());
    if let Some(method) = &method {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(RulesError::at(
                place,
                "match.method",
                "an HTTP method such as GET or POST",
            ));
        }
    }
    let tenant = take("tenant")?;
    let user = take("user")?;
    let ip = match take("ip")? {
        None => None,
        Some(text) => Some(IpNet::parse(&text).ok_or_else(|| {
            RulesError::at(
                place,
                "match.ip",
                format!("`{text}` is not an address or network like 10.0.0.0/8"),
            )
        })?),
    };
    if let Some(unknown) = table.keys().next() {
        return Err(RulesError::at(
            place,
            &field(unknown),
            "unknown field; use route, method, tenant, user or ip",
        ));
    }
    Ok(Match {
        route,
        method,
        tenant,
        user,
        ip,
    })
}

fn take_str(table: &mut Table, place: &str, field: &str) -> Result<Option<String>, RulesError> {
    let name = field.rsplit('.').next().unwrap_or(field);
    match table.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(RulesError::at(place, field, "must be a string")),
    }
}

fn no_more(table: Table, place: &str) -> Result<(), RulesError> {
    match table.keys().next() {
        Some(unknown) => Err(RulesError::at(place, unknown, "unknown field")),
        None => Ok(()),
    }
}

#[cfg(test)]
#[path = "rules_file_tests.rs"]
mod tests;

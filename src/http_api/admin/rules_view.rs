//! The rules and plans in effect as rows, built once for both their JSON
//! form (`GET /v1/admin/rules`, `/v1/admin/plans`) and the status page.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::limiter::{Algorithm, Limit};
use crate::policy::algorithm::AlgorithmKind;
use crate::policy::{Match, RuleLimit, RuleSet};

/// A limit as shown: a bucket's burst and refill rate, or a window's quota,
/// unit and zone (a window has no refill rate).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LimitRow {
    /// Tokens a bucket holds when full; requests a window admits.
    pub capacity: u32,
    /// Tokens added per second; `None` for a window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refill_per_sec: Option<f64>,
    /// The window, for a window limit.
    #[serde(flatten)]
    pub window: Option<WindowRow>,
}

/// A window limit's algorithm, unit and zone as written in the rules file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WindowRow {
    /// `fixed_window`, `sliding_window` or `calendar`.
    pub algorithm: &'static str,
    /// `second` … `year`.
    pub window: &'static str,
    /// A calendar window's IANA zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<&'static str>,
}

impl From<&Limit> for LimitRow {
    fn from(limit: &Limit) -> Self {
        let window = match limit.algorithm() {
            Algorithm::TokenBucket => None,
            Algorithm::FixedWindow(unit) | Algorithm::SlidingWindow(unit) => Some((unit, None)),
            Algorithm::Calendar(unit, tz) => Some((unit, Some(tz.name()))),
        }
        .map(|(unit, time_zone)| WindowRow {
            // The rules file's (and the admin API's) spelling.
            algorithm: AlgorithmKind::of(limit.algorithm()).name(),
            window: unit.name(),
            time_zone,
        });
        Self {
            capacity: limit.capacity(),
            refill_per_sec: window
                .is_none()
                .then(|| 1e9 / limit.interval().as_nanos() as f64),
            window,
        }
    }
}

impl LimitRow {
    /// `{"capacity": N, "refill_per_sec": R}`, or for a window
    /// `{"capacity": N, "algorithm": A, "window": U, "time_zone": Z}`.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).expect("a number and a finite float")
    }
}

/// One rule as shown.
#[derive(Debug)]
pub struct RuleRow<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its conditions as (field, value), only those it sets.
    pub matcher: Vec<(&'static str, String)>,
    /// What its buckets are counted per (the rules-file spelling).
    pub key: &'static str,
    /// Counted but never refusing (its own flag, or the node's `--shadow`).
    pub shadow: bool,
    /// Its limit; `None`: each user's plan.
    pub limit: Option<LimitRow>,
}

impl RuleRow<'_> {
    /// The conditions as a JSON object.
    pub fn match_json(&self) -> Value {
        Value::Object(
            self.matcher
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
                .collect::<Map<_, _>>(),
        )
    }
}

/// Every rule of `rules`, in order.
pub fn rule_rows(rules: &RuleSet, shadow_all: bool) -> Vec<RuleRow<'_>> {
    rules
        .rules()
        .iter()
        .map(|rule| RuleRow {
            name: &rule.name,
            matcher: match_pairs(&rule.matcher),
            key: rule.key.as_str(),
            shadow: rule.shadow || shadow_all,
            limit: match &rule.limit {
                RuleLimit::UserPlan => None,
                RuleLimit::Fixed(limit) => Some(limit.into()),
            },
        })
        .collect()
}

/// Every plan of `rules`, by name.
pub fn plan_rows(rules: &RuleSet) -> Vec<(&str, LimitRow)> {
    let mut plans: Vec<_> = rules
        .plans()
        .map(|(name, limit)| (name, LimitRow::from(&limit)))
        .collect();
    plans.sort_by_key(|(name, _)| *name);
    plans
}

fn match_pairs(m: &Match) -> Vec<(&'static str, String)> {
    [
        ("route", m.route.clone()),
        ("method", m.method.clone()),
        ("tenant", m.tenant.clone()),
        ("user", m.user.clone()),
        ("ip", m.ip.map(|ip| ip.to_string())),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect()
}

//! The rules, plans and users' plans of the admin API: list them, and
//! change a plan, a user's plan or a rule's limit.

use std::borrow::Cow;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Number, Value};

use super::access::{admin, Authorized};
use super::commit::commit;
use super::rules_view::{plan_rows, rule_rows, LimitRow};
use crate::http_api::wire::body::JsonBody;
use crate::http_api::wire::error::{validate_id, ApiError};
use crate::http_api::wire::request::{parse_body, Body, Field, Scalar};
use crate::http_api::AppState;
use crate::limiter::rate::RateText;
use crate::limiter::{Limit, Tz};
use crate::policy::limit_text::{LimitText, Written};
use crate::policy::PolicyChange;

/// Most moved users listed by `GET /v1/admin/rules`.
const MAX_LISTED_USERS: usize = 1000;

/// A limit as the admin API answers it.
pub(super) fn limit_json(limit: &Limit) -> Value {
    LimitRow::from(limit).json()
}

fn plans_json(state: &AppState) -> Value {
    let rules = state.policy.rules();
    Value::Object(
        plan_rows(&rules)
            .into_iter()
            .map(|(name, limit)| (name.to_string(), limit.json()))
            .collect(),
    )
}

pub(super) async fn list_rules(_: Authorized, state: web::Data<AppState>) -> HttpResponse {
    let rules = state.policy.rules();
    let list: Vec<Value> = rule_rows(&rules, state.policy.shadow_all())
        .iter()
        .map(|rule| {
            json!({
                "name": rule.name,
                "match": rule.match_json(),
                "key": rule.key,
                "shadow": rule.shadow,
                "limit": rule.limit.map_or(json!("plan"), |limit| limit.json()),
            })
        })
        .collect();
    let moved: Map<String, Value> = state
        .policy
        .moved_users(MAX_LISTED_USERS)
        .into_iter()
        .map(|(user, plan)| (user, Value::String(plan)))
        .collect();
    let file_users: Map<String, Value> = rules
        .file_users()
        .map(|(user, plan)| (user.to_string(), Value::String(plan.to_string())))
        .collect();
    HttpResponse::Ok().json(json!({
        "rules": list,
        "plans": plans_json(&state),
        "default_plan": rules.default_plan(),
        "users": file_users,
        "moved_users": moved,
    }))
}

pub(super) async fn list_plans(_: Authorized, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "plans": plans_json(&state),
        "default_plan": state.policy.rules().default_plan(),
    }))
}

/// A limit as sent: a token bucket `{"capacity": N, "refill_per_sec": 10 |
/// 0.5 | "1/60"}`, or a window `{"capacity": N, "algorithm": A, "window": U,
/// "time_zone": Z}` — the rules file's fields, checked by the same code.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitBody<'a> {
    pub capacity: Field<u64>,
    pub refill_per_sec: Field<RateText>,
    #[serde(borrow)]
    pub algorithm: Field<Cow<'a, str>>,
    #[serde(borrow)]
    pub window: Field<Cow<'a, str>>,
    #[serde(borrow)]
    pub time_zone: Field<Cow<'a, str>>,
}

impl<'a> Body<'a> for LimitBody<'a> {
    const UNKNOWN: &'static str = "unknown field; send capacity and refill_per_sec, \
                                   or capacity, algorithm, window and time_zone";
}

impl Scalar<'_> for RateText {
    fn from_str(s: Cow<'_, str>) -> Option<Self> {
        Some(RateText::Text(s.into_owned()))
    }
    fn from_number(n: Number) -> Option<Self> {
        n.as_u64()
            .map(RateText::Integer)
            .or_else(|| n.as_f64().map(RateText::Float))
    }
}

/// A field as the shared limit checks take it (`null` is not given).
fn written<'b, T, U>(field: &'b Field<T>, value: impl FnOnce(&'b T) -> U) -> Written<U> {
    match field {
        Field::Absent | Field::Null => Written::Absent,
        Field::WrongType => Written::WrongType,
        Field::Value(given) => Written::Value(value(given)),
    }
}

impl LimitBody<'_> {
    /// The limit sent, calendar windows that name no zone in `zone` (the
    /// node's `--time-zone`); checked as the rules file's limits are.
    fn limit(&self, zone: Tz) -> Result<Limit, ApiError> {
        let text = LimitText {
            capacity: written(&self.capacity, |n| *n),
            refill_per_sec: written(&self.refill_per_sec, RateText::clone),
            algorithm: written(&self.algorithm, |s| &**s),
            window: written(&self.window, |s| &**s),
            time_zone: written(&self.time_zone, |s| &**s),
        };
        text.limit("", zone)
            .map_err(|e| ApiError::field(e.field, e.reason))?
            .ok_or_else(|| ApiError::field("capacity", "required"))
    }
}

/// A user's plan as sent: `{"plan": NAME}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserPlanBody<'a> {
    #[serde(borrow)]
    pub plan: Field<Cow<'a, str>>,
}

impl<'a> Body<'a> for UserPlanBody<'a> {
    const UNKNOWN: &'static str = "unknown field; send plan";
}

/// The plan's name.
impl TryFrom<UserPlanBody<'_>> for String {
    type Error = ApiError;

    fn try_from(body: UserPlanBody<'_>) -> Result<Self, ApiError> {
        let plan = body.plan.text("plan")?;
        Ok(plan
            .ok_or_else(|| ApiError::field("plan", "required"))?
            .to_string())
    }
}

/// A limit from a body.
fn limit_from(body: &[u8], state: &AppState) -> Result<Limit, ApiError> {
    let mut scratch = Vec::new();
    parse_body::<LimitBody>(body, &mut scratch)?.limit(admin(state).time_zone)
}

pub(super) async fn put_plan(
    _: Authorized,
    name: web::Path<String>,
    JsonBody(body): JsonBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_from(&body, &state)?;
    let name = name.into_inner();
    let mut answer = limit_json(&limit);
    answer["plan"] = json!(name);
    commit(&state, PolicyChange::SetPlan { name, limit }, answer).await
}

pub(super) async fn delete_plan(
    _: Authorized,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let answer = json!({ "plan": name, "deleted": true });
    commit(&state, PolicyChange::DeletePlan { name }, answer).await
}

fn user_from(path: &str) -> Result<String, ApiError> {
    validate_id("user", path).map(str::to_string)
}

pub(super) async fn get_user_plan(
    _: Authorized,
    user: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_from(&user)?;
    let (plan, source) = state
        .policy
        .plan_of(&user)
        .ok_or_else(|| ApiError::field("plan", "no default plan: the rules give users no plan"))?;
    let limit = state.policy.rules().plan(&plan).map(|l| limit_json(&l));
    Ok(HttpResponse::Ok().json(json!({
        "user": user, "plan": plan, "source": source.as_str(), "limit": limit,
    })))
}

pub(super) async fn put_user_plan(
    _: Authorized,
    user: web::Path<String>,
    JsonBody(body): JsonBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_from(&user)?;
    let mut scratch = Vec::new();
    let plan = String::try_from(parse_body::<UserPlanBody>(&body, &mut scratch)?)?;
    let answer = json!({ "user": user, "plan": plan, "source": "moved" });
    commit(&state, PolicyChange::SetUserPlan { user, plan }, answer).await
}

pub(super) async fn delete_user_plan(
    _: Authorized,
    user: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_from(&user)?;
    let answer = json!({ "user": user, "moved": false });
    commit(&state, PolicyChange::ClearUserPlan { user }, answer).await
}

pub(super) async fn put_rule_limit(
    _: Authorized,
    name: web::Path<String>,
    JsonBody(body): JsonBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_from(&body, &state)?;
    let rule = name.into_inner();
    let mut answer = limit_json(&limit);
    answer["rule"] = json!(rule);
    commit(&state, PolicyChange::SetRuleLimit { rule, limit }, answer).await
}

pub(super) async fn delete_rule_limit(
    _: Authorized,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = name.into_inner();
    let answer = json!({ "rule": rule, "limit": "rules_file" });
    commit(&state, PolicyChange::ClearRuleLimit { rule }, answer).await
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;

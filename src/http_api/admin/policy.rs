//! The rules, plans and users' plans of the admin API: list them, and
//! change a plan, a user's plan or a rule's limit.

use std::borrow::Cow;
use std::num::NonZeroU32;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Number, Value};

use super::access::Authorized;
use super::commit::commit;
use super::rules_view::{plan_rows, rule_rows, LimitRow};
use crate::http_api::wire::body::JsonBody;
use crate::http_api::wire::error::{validate_id, ApiError};
use crate::http_api::wire::request::{parse_body, Body, Field, Scalar};
use crate::http_api::AppState;
use crate::limiter::rate::{RateText, RATE_HINT};
use crate::limiter::Limit;
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

/// A limit as sent: `{"capacity": N, "refill_per_sec": 10 | 0.5 | "1/60"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitBody {
    pub capacity: Field<u64>,
    pub refill_per_sec: Field<RateText>,
}

impl Body<'_> for LimitBody {
    const UNKNOWN: &'static str = "unknown field; send capacity and refill_per_sec";
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

impl TryFrom<LimitBody> for Limit {
    type Error = ApiError;

    fn try_from(body: LimitBody) -> Result<Self, ApiError> {
        const CAPACITY: &str = "a whole number of tokens, at least 1";
        let capacity = u32::try_from(*body.capacity.required("capacity", CAPACITY)?)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| ApiError::field("capacity", CAPACITY))?;
        let interval = body
            .refill_per_sec
            .required("refill_per_sec", RATE_HINT)?
            .interval()
            .map_err(|e| ApiError::field("refill_per_sec", e))?;
        Limit::new(capacity, interval).map_err(|e| ApiError::field("refill_per_sec", e.to_string()))
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
fn limit_from(body: &[u8]) -> Result<Limit, ApiError> {
    let mut scratch = Vec::new();
    Limit::try_from(parse_body::<LimitBody>(body, &mut scratch)?)
}

pub(super) async fn put_plan(
    _: Authorized,
    name: web::Path<String>,
    JsonBody(body): JsonBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = limit_from(&body)?;
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
    let limit = limit_from(&body)?;
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

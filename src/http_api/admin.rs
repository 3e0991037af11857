//! The admin API under `/v1/admin/`: list the rules and plans in effect,
//! change plans, users' plans and rule limits (made durable before they are
//! acknowledged), inspect and reset buckets (`buckets.rs`), list the most
//! refused keys (`limited.rs`), and manage API keys (`api_keys.rs`). Every
//! call needs the admin bearer token.

use std::borrow::Cow;
use std::future::{ready, Ready};
use std::num::NonZeroU32;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::web;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Number, Value};

use super::body::JsonBody;
use super::error::{validate_id, ApiError};
use super::request::{parse_body, Body, Field, Scalar};
use super::rules_view::{plan_rows, rule_rows, LimitRow};
use super::tokens::{bearer, same};
use super::{buckets, AppState};
use crate::limiter::rate::{RateText, RATE_HINT};
use crate::limiter::Limit;
use crate::policy::PolicyChange;
use crate::policy_log::PolicyLog;

/// Most moved users listed by `GET /v1/admin/rules`.
const MAX_LISTED_USERS: usize = 1000;

/// The admin API's settings.
pub struct Admin {
    /// The bearer token.
    pub token: String,
    /// Where changes are committed.
    pub log: Arc<dyn PolicyLog>,
    /// Held while an API-key change is checked and committed, so two calls
    /// on this node cannot both find a key free and both take it.
    pub(super) key_changes: tokio::sync::Mutex<()>,
}

impl Admin {
    pub fn new(token: String, log: Arc<dyn PolicyLog>) -> Self {
        Self {
            token,
            log,
            key_changes: tokio::sync::Mutex::new(()),
        }
    }
}

/// Registers the admin routes under `/v1/admin`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str, allow: &'static str| {
        web::resource(path).default_service(web::to(move |_: Authorized| async move {
            Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
                route: "this admin route",
                allow,
            })
        }))
    };
    let [keys, key] = super::api_keys::routes(resource);
    cfg.service(
        web::scope("/v1/admin")
            .service(resource("/rules", "GET").route(web::get().to(list_rules)))
            .service(resource("/plans", "GET").route(web::get().to(list_plans)))
            .service(
                resource("/plans/{name}", "PUT, DELETE")
                    .route(web::put().to(put_plan))
                    .route(web::delete().to(delete_plan)),
            )
            .service(
                resource("/users/{user}/plan", "GET, PUT, DELETE")
                    .route(web::get().to(get_user_plan))
                    .route(web::put().to(put_user_plan))
                    .route(web::delete().to(delete_user_plan)),
            )
            .service(
                resource("/rules/{name}/limit", "PUT, DELETE")
                    .route(web::put().to(put_rule_limit))
                    .route(web::delete().to(delete_rule_limit)),
            )
            .service(
                resource("/buckets/{key:.*}", "GET, DELETE")
                    .route(web::get().to(buckets::get_bucket))
                    .route(web::delete().to(buckets::reset_bucket)),
            )
            .service(
                resource("/users/{user}/reset", "POST").route(web::post().to(buckets::reset_user)),
            )
            .service(resource("/limited", "GET").route(web::get().to(super::limited::limited)))
            .service(keys)
            .service(key)
            .default_service(web::to(|_: Authorized| async {
                Err::<HttpResponse, _>(ApiError::NoSuchAdminRoute)
            })),
    );
}

/// Proof that the request carries the admin token. As an extractor it runs
/// before the body is read and before any route's work.
pub struct Authorized;

impl FromRequest for Authorized {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(admin) = req
            .app_data::<web::Data<AppState>>()
            .and_then(|state| state.admin.as_ref())
        else {
            return ready(Err(ApiError::AdminDisabled));
        };
        let presented = req.headers().get(AUTHORIZATION).and_then(bearer);
        ready(match presented {
            Some(token) if admin.accepts(token) => Ok(Authorized),
            _ => Err(ApiError::Unauthorized),
        })
    }
}

impl Admin {
    /// Whether `presented` is the admin token.
    pub(super) fn accepts(&self, presented: &[u8]) -> bool {
        same(presented, self.token.as_bytes())
    }
}

pub(super) fn admin(state: &AppState) -> &Admin {
    // Authorized exists only when the admin API is on.
    state
        .admin
        .as_ref()
        .expect("authorized implies an admin API")
}

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

async fn list_rules(_: Authorized, state: web::Data<AppState>) -> HttpResponse {
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

async fn list_plans(_: Authorized, state: web::Data<AppState>) -> HttpResponse {
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

/// Validates `change` against the rules in effect, commits it, and answers `body`.
pub(super) async fn commit(
    state: &AppState,
    change: PolicyChange,
    body: Value,
) -> Result<HttpResponse, ApiError> {
    state
        .policy
        .validate(&change)
        .map_err(|e| ApiError::field(e.field.clone(), e.reason.clone()))?;
    admin(state)
        .log
        .commit(change.clone())
        .await
        .map_err(ApiError::NotCommitted)?;
    tracing::info!(?change, "admin change committed");
    Ok(HttpResponse::Ok().json(body))
}

async fn put_plan(
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

async fn delete_plan(
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

async fn get_user_plan(
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

async fn put_user_plan(
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

async fn delete_user_plan(
    _: Authorized,
    user: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_from(&user)?;
    let answer = json!({ "user": user, "moved": false });
    commit(&state, PolicyChange::ClearUserPlan { user }, answer).await
}

async fn put_rule_limit(
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

async fn delete_rule_limit(
    _: Authorized,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let rule = name.into_inner();
    let answer = json!({ "rule": rule, "limit": "rules_file" });
    commit(&state, PolicyChange::ClearRuleLimit { rule }, answer).await
}

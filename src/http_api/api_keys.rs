//! The admin API's API keys, for the gateway's `api_key` identity: add one
//! (a key the node makes, one the caller chose, or only its hash), change
//! whom it belongs to, list them, and revoke one. Changes are durable before
//! they are acknowledged and reach every node through the policy log, like
//! plan changes. Only hashes are kept; a key is shown once, when made here.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use compact_str::CompactString;
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{commit, Authorized};
use super::error::{validate_id, ApiError};
use super::request::{parse_body, Body, Field};
use super::AppState;
use crate::gateway::identity::api_keys::MAX_KEY_BYTES;
use crate::policy::api_keys::{KeyHash, KeyOwner};
use crate::policy::rules::valid_name;
use crate::policy::PolicyChange;

/// Most keys one listing shows.
const MAX_LISTED: usize = 1000;
/// How a key made here starts (so a leaked one is easy to search for).
const MADE_PREFIX: &str = "crl_";

/// Registers the routes (inside the admin scope, which checks the token).
pub(super) fn routes(
    resource: impl Fn(&str, &'static str) -> actix_web::Resource,
) -> [actix_web::Resource; 2] {
    [
        resource("/api-keys", "GET, POST")
            .route(web::get().to(list))
            .route(web::post().to(add)),
        resource("/api-keys/{hash}", "GET, PUT, DELETE")
            .route(web::get().to(get))
            .route(web::put().to(put))
            .route(web::delete().to(revoke)),
    ]
}

/// A key's owner as sent: `{"user": ID, "plan": NAME?}`, and for `POST` the
/// key itself, if the caller chose it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct KeyBody<'a> {
    #[serde(borrow)]
    user: Field<Cow<'a, str>>,
    #[serde(borrow)]
    plan: Field<Cow<'a, str>>,
    #[serde(borrow)]
    key: Field<Cow<'a, str>>,
}

impl<'a> Body<'a> for KeyBody<'a> {
    const UNKNOWN: &'static str = "unknown field; send user, and optionally plan and key";
}

impl KeyBody<'_> {
    fn owner(&self) -> Result<KeyOwner, ApiError> {
        let user = self
            .user
            .text("user")?
            .ok_or_else(|| ApiError::field("user", "required"))?;
        validate_id("user", user)?;
        let plan = self.plan.text("plan")?;
        if let Some(plan) = plan {
            valid_name(plan).map_err(|e| ApiError::field("plan", e))?;
        }
        Ok(KeyOwner {
            user: user.into(),
            plan: plan.map(CompactString::from),
        })
    }
}

fn owner_json(hash: &KeyHash, owner: &KeyOwner) -> Value {
    json!({
        "hash": hash.to_string(),
        "user": owner.user.as_str(),
        "plan": owner.plan.as_deref(),
    })
}

fn hash_from(path: &str) -> Result<KeyHash, ApiError> {
    KeyHash::parse(path).map_err(|e| ApiError::field("hash", e))
}

/// A key the gateway file lists wins over the admin API's, so adding or
/// revoking it here would change nothing.
fn not_in_file(state: &AppState, hash: &KeyHash) -> Result<(), ApiError> {
    let gateway = state.gateway.as_ref();
    match gateway.is_some_and(|g| g.peek().has_file_key(hash)) {
        true => Err(ApiError::Conflict(
            "this key is in this node's gateway file, which wins; change it there".into(),
        )),
        false => Ok(()),
    }
}

/// A new key: 32 random bytes, URL-safe base64.
fn made_key() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::NotCommitted(format!("no randomness for a key: {e}")))?;
    Ok(format!("{MADE_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// `POST /v1/admin/api-keys`: adds a key for `user` (and `plan`). Without
/// `key` the node makes one and answers it, the only time it is shown.
async fn add(
    _: Authorized,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut scratch = Vec::new();
    let sent = parse_body::<KeyBody>(&body, &mut scratch)?;
    let owner = sent.owner()?;
    let key = match sent.key.text("key")? {
        Some(key) if key.is_empty() || key.len() > MAX_KEY_BYTES => {
            let reason = format!("must be 1-{MAX_KEY_BYTES} bytes");
            return Err(ApiError::field("key", reason));
        }
        Some(key) if !key.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(ApiError::field("key", "must be visible ASCII, no spaces"));
        }
        Some(key) => key.to_string(),
        None => made_key()?,
    };
    let hash = KeyHash::of(&key);
    not_in_file(&state, &hash)?;
    if state.policy.api_key(&hash).is_some() {
        return Err(ApiError::Conflict(format!(
            "this key is added already; PUT /v1/admin/api-keys/{hash} changes its user or plan"
        )));
    }
    let mut answer = owner_json(&hash, &owner);
    if sent.key.text("key")?.is_none() {
        answer["key"] = json!(key);
    }
    let mut response = commit(&state, PolicyChange::SetApiKey { hash, owner }, answer).await?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// `PUT /v1/admin/api-keys/{hash}`: adds the key of that hash (the key
/// itself never sent), or changes whom it belongs to.
async fn put(
    _: Authorized,
    hash: web::Path<String>,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_from(&hash)?;
    let mut scratch = Vec::new();
    let sent = parse_body::<KeyBody>(&body, &mut scratch)?;
    if !matches!(sent.key, Field::Absent) {
        return Err(ApiError::field(
            "key",
            "send the key to POST /v1/admin/api-keys; here the path gives its hash",
        ));
    }
    let owner = sent.owner()?;
    not_in_file(&state, &hash)?;
    let answer = owner_json(&hash, &owner);
    commit(&state, PolicyChange::SetApiKey { hash, owner }, answer).await
}

/// `GET /v1/admin/api-keys/{hash}`: whom the key belongs to, and where that is said.
async fn get(
    _: Authorized,
    hash: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_from(&hash)?;
    if not_in_file(&state, &hash).is_err() {
        return Ok(HttpResponse::Ok().json(json!({
            "hash": hash.to_string(), "source": "gateway_file",
        })));
    }
    let owner = state
        .policy
        .api_key(&hash)
        .ok_or_else(|| ApiError::UnknownApiKey(hash.to_string()))?;
    let mut answer = owner_json(&hash, &owner);
    answer["source"] = json!("admin_api");
    Ok(HttpResponse::Ok().json(answer))
}

/// `DELETE /v1/admin/api-keys/{hash}`: revokes the key on every node.
async fn revoke(
    _: Authorized,
    hash: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_from(&hash)?;
    not_in_file(&state, &hash)?;
    state
        .policy
        .api_key(&hash)
        .ok_or_else(|| ApiError::UnknownApiKey(hash.to_string()))?;
    let answer = json!({ "hash": hash.to_string(), "revoked": true });
    commit(&state, PolicyChange::ClearApiKey { hash }, answer).await
}

/// The `?user=` of a listing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    user: Option<String>,
}

/// `GET /v1/admin/api-keys[?user=ID]`: the keys added here (hashes, users,
/// plans), at most 1,000, with `truncated` saying if there were more.
async fn list(
    _: Authorized,
    query: Result<web::Query<ListQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.map_err(|_| ApiError::field("user", "the only query parameter is user"))?;
    if let Some(user) = &query.user {
        validate_id("user", user)?;
    }
    let (keys, truncated) = state.policy.api_keys(query.user.as_deref(), MAX_LISTED);
    let keys: Vec<Value> = keys.iter().map(|(h, o)| owner_json(h, o)).collect();
    Ok(HttpResponse::Ok().json(json!({ "keys": keys, "truncated": truncated })))
}

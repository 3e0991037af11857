//! The admin API's API keys, for the gateway's `api_key` identity: add one
//! (a key the node makes, one the caller chose, or only its hash), change
//! whom it belongs to, list them, and revoke one. Changes are durable before
//! they are acknowledged and reach every node through the policy log, like
//! plan changes. Only hashes are kept; a key is shown once, when made here.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::web;
use actix_web::HttpResponse;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use compact_str::CompactString;
use serde::Deserialize;
use serde_json::{json, Value};

use super::access::{admin, Authorized};
use super::commit::commit;
use crate::gateway::identity::api_keys::MAX_KEY_BYTES;
use crate::http_api::wire::body::JsonBody;
use crate::http_api::wire::error::{validate_id, ApiError};
use crate::http_api::wire::request::{parse_body, Body, Field};
use crate::http_api::AppState;
use crate::policy::api_keys::{KeyHash, KeyOwner, MAX_LIVE_KEYS};
use crate::policy::rules::valid_name;
use crate::policy::PolicyChange;

/// Most keys one listing shows.
const MAX_LISTED: usize = 1000;
/// How a key made here starts (so a leaked one is easy to search for).
const MADE_PREFIX: &str = "crl_";
/// Longest wait for the node's API-key lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Shortest key a caller may choose: a short key is guessed, and its
/// unsalted hash is as good as the key.
const MIN_CHOSEN_BYTES: usize = 16;

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
/// key itself, if the caller chose it. No `Debug`: it may hold a key.
#[derive(Default, Deserialize)]
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

    /// The key the caller chose, if any: long enough not to be guessed.
    fn chosen_key(&self) -> Result<Option<&str>, ApiError> {
        let Some(key) = self.key.text("key")? else {
            return Ok(None);
        };
        if !(MIN_CHOSEN_BYTES..=MAX_KEY_BYTES).contains(&key.len())
            || !key.bytes().all(|b| b.is_ascii_graphic())
        {
            let reason = format!(
                "must be {MIN_CHOSEN_BYTES}-{MAX_KEY_BYTES} visible ASCII characters (no spaces); \
                 leave it out and the node makes one"
            );
            return Err(ApiError::field("key", reason));
        }
        Ok(Some(key))
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

fn in_file(state: &AppState, hash: &KeyHash) -> bool {
    let gateway = state.gateway.as_ref();
    gateway.is_some_and(|g| g.peek().has_file_key(hash))
}

/// A key this node's gateway file lists wins over the admin API's, so adding
/// or changing it here would change nothing on this node.
fn not_in_file(state: &AppState, hash: &KeyHash) -> Result<(), ApiError> {
    match in_file(state, hash) {
        true => Err(ApiError::Conflict(
            "this key is in this node's gateway file, which wins; change it there".into(),
        )),
        false => Ok(()),
    }
}

/// Room for one more key (or `hash` is known already).
fn room_for(state: &AppState, hash: &KeyHash) -> Result<(), ApiError> {
    match state.policy.has_room_for_api_key(hash) {
        true => Ok(()),
        false => Err(ApiError::Conflict(format!(
            "the admin API keeps at most {MAX_LIVE_KEYS} keys; revoke some first"
        ))),
    }
}

/// The node's API-key lock, waited for at most [`LOCK_WAIT`]: behind a
/// broker that is slow to take changes, a caller is told so rather than kept.
async fn one_at_a_time(state: &AppState) -> Result<tokio::sync::MutexGuard<'_, ()>, ApiError> {
    tokio::time::timeout(LOCK_WAIT, admin(state).key_changes.lock())
        .await
        .map_err(|_| {
            ApiError::NotCommitted(
                "other API-key changes on this node are still waiting to be stored".into(),
            )
        })
}

/// A plan that does not exist, or a bad user, before any conflict is looked for.
fn checked(state: &AppState, change: &PolicyChange) -> Result<(), ApiError> {
    state
        .policy
        .validate(change)
        .map_err(|e| ApiError::field(e.field.clone(), e.reason.clone()))
}

/// A new key: 32 random bytes, URL-safe base64.
fn made_key() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::NotCommitted(format!("no randomness for a key: {e}")))?;
    Ok(format!("{MADE_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Commits `change` (additions under the API-key lock, held by the caller); a change
/// not confirmed stored says what to do about `hash`, which may still land.
async fn commit_key(
    state: &AppState,
    change: PolicyChange,
    answer: Value,
    if_lost: &str,
) -> Result<HttpResponse, ApiError> {
    commit(state, change, answer)
        .await
        .map_err(|error| match error {
            ApiError::NotCommitted(why) => ApiError::NotCommitted(format!("{why}; {if_lost}")),
            other => other,
        })
}

/// `POST /v1/admin/api-keys`: adds a key for `user` (and `plan`). Without
/// `key` the node makes one and answers it, the only time it is shown.
async fn add(
    _: Authorized,
    JsonBody(body): JsonBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut scratch = Vec::new();
    let sent = parse_body::<KeyBody>(&body, &mut scratch)?;
    let owner = sent.owner()?;
    let chosen = sent.chosen_key()?;
    let key = match chosen {
        Some(key) => key.to_string(),
        None => made_key()?,
    };
    let hash = KeyHash::of(&key);
    let mut answer = owner_json(&hash, &owner);
    let if_lost = match chosen {
        Some(_) => format!("repeat it as PUT /v1/admin/api-keys/{hash}"),
        None => {
            answer["key"] = json!(key);
            format!("the key is not shown, and if it is stored later nobody holds it: DELETE /v1/admin/api-keys/{hash}, then POST again")
        }
    };
    let change = PolicyChange::SetApiKey { hash, owner };
    checked(&state, &change)?;
    let _one_at_a_time = one_at_a_time(&state).await?;
    not_in_file(&state, &hash)?;
    if state.policy.api_key(&hash).is_some() {
        return Err(ApiError::Conflict(format!(
            "this key is added already; PUT /v1/admin/api-keys/{hash} changes its user or plan"
        )));
    }
    room_for(&state, &hash)?;
    let mut response = commit_key(&state, change, answer, &if_lost).await?;
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// `PUT /v1/admin/api-keys/{hash}`: adds the key of that hash (the key
/// itself never sent), or changes whom it belongs to.
async fn put(
    _: Authorized,
    hash: web::Path<String>,
    JsonBody(body): JsonBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_from(&hash)?;
    let mut scratch = Vec::new();
    let sent = parse_body::<KeyBody>(&body, &mut scratch)?;
    if !matches!(sent.key, Field::Absent) {
        let reason = "send the key to POST /v1/admin/api-keys; here the path gives its hash";
        return Err(ApiError::field("key", reason));
    }
    let owner = sent.owner()?;
    let mut answer = owner_json(&hash, &owner);
    let change = PolicyChange::SetApiKey { hash, owner };
    checked(&state, &change)?;
    let _one_at_a_time = one_at_a_time(&state).await?;
    not_in_file(&state, &hash)?;
    room_for(&state, &hash)?;
    answer["created"] = json!(state.policy.api_key(&hash).is_none());
    commit_key(
        &state,
        change,
        answer,
        "repeat it (the same value twice is harmless)",
    )
    .await
}

/// `GET /v1/admin/api-keys/{hash}`: whom the key belongs to, and where that is said.
async fn get(
    _: Authorized,
    hash: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_from(&hash)?;
    if in_file(&state, &hash) {
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

/// `DELETE /v1/admin/api-keys/{hash}`: revokes the key on every node. The
/// revocation is committed whatever this node knows (a node behind the log
/// must still be able to revoke), repeating it is harmless, and it waits for
/// no other key change: a tombstone needs no check first.
async fn revoke(
    _: Authorized,
    hash: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_from(&hash)?;
    let known = state.policy.api_key(&hash);
    if let Some(owner) = &known {
        tracing::info!(user = %owner.user, plan = ?owner.plan, "revoking an API key");
    }
    let mut answer = json!({ "hash": hash.to_string(), "revoked": true, "known": known.is_some() });
    // Revoked in the admin API, yet the file's entry still lets it in here.
    if in_file(&state, &hash) {
        answer["gateway_file"] =
            json!("still lists the key, which works on this node until removed there");
    }
    let change = PolicyChange::ClearApiKey { hash };
    commit_key(&state, change, answer, "repeat it").await
}

/// The query of a listing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    user: Option<String>,
    after: Option<String>,
}

/// `GET /v1/admin/api-keys[?user=ID][&after=HASH]`: the keys added here
/// (hashes, users, plans), 1,000 at a time in hash order; `next` is the
/// `after` of the next page.
async fn list(
    _: Authorized,
    query: Result<web::Query<ListQuery>, actix_web::Error>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = query.map_err(|_| ApiError::field("query", "send only user and after"))?;
    if let Some(user) = &query.user {
        validate_id("user", user)?;
    }
    let after = match &query.after {
        Some(text) => Some(KeyHash::parse(text).map_err(|e| ApiError::field("after", e))?),
        None => None,
    };
    let (keys, more) = state
        .policy
        .api_keys(query.user.as_deref(), after.as_ref(), MAX_LISTED);
    let next = keys
        .last()
        .filter(|_| more)
        .map(|(hash, _)| hash.to_string());
    let keys: Vec<Value> = keys.iter().map(|(h, o)| owner_json(h, o)).collect();
    Ok(HttpResponse::Ok().json(json!({ "keys": keys, "truncated": more, "next": next })))
}

//! The record format of policy changes, shared by every log: key
//! `plan/NAME`, `user/ID`, `rule/NAME` or `apikey/sha256:HEX`; value a small
//! versioned JSON object carrying the change and its [`Version`] (when and by
//! whom it was made: the latest version of a key wins, whatever order the
//! records arrive in). Forgetting a key's change is a value too
//! (`"cleared":true`), so it keeps its version. A record with no value (from
//! before versions) forgets the key at version zero. Anything unexpected is
//! refused. A limit is a token bucket in a version 1 value, a window in a
//! version 2 one ([`limit`]), so nodes from before windows refuse just those.

use serde::{Deserialize, Serialize};

mod limit;

use limit::{WireLimit, VERSION, VERSION_WINDOW};

use crate::limiter::Limit;
use crate::policy::api_keys::{KeyHash, KeyOwner};
use crate::policy::rules::{valid_id, valid_name};
use crate::policy::PolicyChange;

/// Largest record value accepted.
const MAX_VALUE: usize = 1024;

/// A record value.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireValue {
    v: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<WireLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan: Option<String>,
    /// An API key's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    /// The key's change is forgotten (the rules file's, or none, is in effect).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    cleared: bool,
    /// When the change was made (ns since the Unix epoch, as its node's log clock gave it).
    #[serde(default, skip_serializing_if = "is_zero")]
    at: u64,
    /// Who made it (a hash of its node's ID): breaks ties between equal `at`s.
    #[serde(default, skip_serializing_if = "is_zero")]
    by: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// When a change was made and by whom. Ordered by `at`, then `by`: of two
/// records of a key, the greater version is in effect. Records from before
/// versions have version zero, and among them the log's order decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Nanoseconds since the Unix epoch.
    pub at: u64,
    /// A hash of the node's ID.
    pub by: u64,
}

impl WireValue {
    fn new() -> Self {
        Self {
            v: VERSION,
            limit: None,
            plan: None,
            user: None,
            deleted: false,
            cleared: false,
            at: 0,
            by: 0,
        }
    }
}

impl WireValue {
    /// Nothing but the version (what a cleared record holds).
    fn carries_nothing(&self) -> bool {
        !self.deleted && self.limit.is_none() && self.plan.is_none() && self.user.is_none()
    }
}

/// A change made at `version` as a record: its key and its value.
pub fn encode(change: &PolicyChange, version: Version) -> (String, Vec<u8>) {
    let mut value = WireValue::new();
    value.at = version.at;
    value.by = version.by;
    match change {
        PolicyChange::SetPlan { limit, .. } | PolicyChange::SetRuleLimit { limit, .. } => {
            let (wire, v) = WireLimit::of(limit);
            (value.limit, value.v) = (Some(wire), v);
        }
        PolicyChange::DeletePlan { .. } => value.deleted = true,
        PolicyChange::SetUserPlan { plan, .. } => value.plan = Some(plan.clone()),
        PolicyChange::SetApiKey { owner, .. } => {
            value.user = Some(owner.user.to_string());
            value.plan = owner.plan.as_ref().map(|p| p.to_string());
        }
        PolicyChange::ClearPlan { .. }
        | PolicyChange::ClearUserPlan { .. }
        | PolicyChange::ClearRuleLimit { .. }
        | PolicyChange::ClearApiKey { .. } => value.cleared = true,
    }
    // A struct of integers and strings always serializes.
    let bytes = serde_json::to_vec(&value).expect("a config record serializes");
    (change.key(), bytes)
}

/// A record this node cannot read: what is wrong with it (an API key's
/// hash never in it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// A record back to the change it stands for and its version; anything
/// unexpected is an error.
pub fn decode(key: &str, value: Option<&[u8]>) -> Result<(PolicyChange, Version), DecodeError> {
    decode_record(key, value).map_err(DecodeError)
}

fn decode_record(key: &str, value: Option<&[u8]>) -> Result<(PolicyChange, Version), String> {
    let (kind, name) = key
        .split_once('/')
        .ok_or_else(|| format!("key `{}` is not kind/name", shown(key)))?;
    // Errors name the key as `shown` gives it: an API key's hash never
    // reaches a log.
    let named = shown(key);
    match kind {
        "user" => valid_id(name).map_err(|e| e.to_string()),
        "plan" | "rule" => valid_name(name).map_err(|e| e.to_string()),
        "apikey" => canonical_hash(name).map(drop),
        _ => Err(format!("unknown kind `{kind}`")),
    }
    .map_err(|e| format!("key `{named}`: {e}"))?;
    let cleared = || PolicyChange::cleared(key).ok_or_else(|| format!("key `{named}`"));
    let Some(value) = value else {
        return Ok((cleared()?, Version::default()));
    };
    if value.len() > MAX_VALUE {
        return Err(format!("value of {} bytes", value.len()));
    }
    let value: WireValue = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    let window = value.limit.as_ref().is_some_and(WireLimit::is_window);
    match value.v {
        VERSION if window => return Err("a window limit in a version 1 value".into()),
        VERSION_WINDOW if !window => return Err("a version 2 value without a window".into()),
        VERSION | VERSION_WINDOW => {}
        v => return Err(format!("unknown version {v}")),
    }
    if kind != "apikey" && value.user.is_some() {
        return Err(format!("key `{named}`: `user` belongs to API keys alone"));
    }
    let version = Version {
        at: value.at,
        by: value.by,
    };
    if value.cleared {
        return match value.carries_nothing() {
            true => Ok((cleared()?, version)),
            false => Err(format!(
                "key `{named}`: a cleared record carries nothing else"
            )),
        };
    }
    Ok((change_of(kind, name, named, &value)?, version))
}

/// The change a (not cleared) value of key `kind/name` stands for.
fn change_of(
    kind: &str,
    name: &str,
    named: &str,
    value: &WireValue,
) -> Result<PolicyChange, String> {
    let limit = || -> Result<Limit, String> {
        let wire = value.limit.as_ref().ok_or("no limit")?;
        wire.limit().map_err(|e| format!("key `{named}`: {e}"))
    };
    let name = name.to_string();
    Ok(match (kind, value.deleted) {
        ("plan", true) => PolicyChange::DeletePlan { name },
        ("plan", false) => PolicyChange::SetPlan {
            name,
            limit: limit()?,
        },
        ("rule", _) => PolicyChange::SetRuleLimit {
            rule: name,
            limit: limit()?,
        },
        ("apikey", false) => api_key(name, value)?,
        ("user", false) => PolicyChange::SetUserPlan {
            user: name,
            plan: value.plan.clone().ok_or("no plan")?,
        },
        (_, _) => return Err(format!("key `{named}`: only a plan can be deleted")),
    })
}

/// `key` fit for an error message: an API key's without its hash.
fn shown(key: &str) -> &str {
    match key.starts_with("apikey/") {
        true => "apikey/…",
        false => key,
    }
}

/// The hash an `apikey/` record names, in the one spelling `encode` writes
/// (lowercase): two spellings of one hash would be two keys to compaction,
/// and a tombstone under one would not forget a value under the other.
fn canonical_hash(name: &str) -> Result<KeyHash, String> {
    let hash = KeyHash::parse(name).map_err(|e| e.to_string())?;
    match hash.to_string() == name {
        true => Ok(hash),
        false => Err("the hash must be in lowercase hex".into()),
    }
}

/// An API key's record: its user, and its plan if any, both checked.
fn api_key(name: String, value: &WireValue) -> Result<PolicyChange, String> {
    let hash = canonical_hash(&name)?;
    let user = value.user.as_deref().ok_or("no user")?;
    valid_id(user).map_err(|e| format!("user: {e}"))?;
    if let Some(plan) = &value.plan {
        valid_name(plan).map_err(|e| format!("plan: {e}"))?;
    }
    if value.limit.is_some() {
        return Err("an API key has no limit".into());
    }
    Ok(PolicyChange::SetApiKey {
        hash,
        owner: KeyOwner {
            user: user.into(),
            plan: value.plan.as_deref().map(Into::into),
        },
    })
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;

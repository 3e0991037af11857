//! The claims of a verified token: each named once (a repeated claim is
//! refused), `exp` (required) and `nbf` with a leeway, `iss` and `aud` when
//! configured, and the user, plan and tenant claims, each an ID by the rule
//! used everywhere else (1–256 bytes of visible ASCII).

use std::time::{SystemTime, UNIX_EPOCH};

use compact_str::CompactString;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{shown, IdentityError};
use super::Found;
use crate::policy::rules::valid_id;

/// Default leeway on `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// What a token's claims must say, and where the identity is in them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRules {
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Accepted `iss` values; empty: `iss` is not checked.
    pub issuers: Vec<String>,
    /// Accepted `aud` values (one is enough); empty: `aud` is not checked.
    pub audiences: Vec<String>,
    /// The claim naming the user (`sub` by default); required.
    pub user_claim: String,
    /// The claim naming the plan; when absent from a token, no plan.
    pub plan_claim: Option<String>,
    /// The claim naming the tenant; when absent from a token, no tenant.
    pub tenant_claim: Option<String>,
}

impl Default for ClaimRules {
    fn default() -> Self {
        Self {
            leeway_secs: DEFAULT_LEEWAY_SECS,
            issuers: Vec::new(),
            audiences: Vec::new(),
            user_claim: "sub".to_string(),
            plan_claim: None,
            tenant_claim: None,
        }
    }
}

/// The claims of a token's payload (its JSON, decoded from base64url).
/// RFC 7519 §4 lets a reader keep the last of a repeated name, but which
/// one another reader of the same token keeps (a proxy, the upstream) is
/// anyone's guess, so a repeated claim is refused.
pub fn parse(json: &[u8], credential: &'static str) -> Result<Map<String, Value>, IdentityError> {
    let error = match serde_json::from_slice::<UniqueClaims>(json) {
        Ok(UniqueClaims(claims)) => return Ok(claims),
        Err(error) => error.to_string(),
    };
    let reason = match error.strip_prefix(REPEATED) {
        // serde_json adds where it was; the name is enough.
        Some(rest) => {
            let name = rest.split(" at line ").next().unwrap_or_default();
            format!("the payload repeats the claim{name}")
        }
        None => "the payload is not the JSON of a JWT".to_string(),
    };
    Err(IdentityError::Malformed { credential, reason })
}

/// How the parser's error starts when a claim is repeated.
const REPEATED: &str = "repeated claim";

/// A JSON object whose member names are all different.
struct UniqueClaims(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = UniqueClaims;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueClaims, A::Error> {
        let mut claims = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            if claims.contains_key(&name) {
                return Err(de::Error::custom(format!("{REPEATED} {}", shown(&name))));
            }
            claims.insert(name, value);
        }
        Ok(UniqueClaims(claims))
    }
}

/// Checks the claims of a token whose signature verified, at `now`.
pub fn check(
    rules: &ClaimRules,
    claims: &Map<String, Value>,
    now: SystemTime,
) -> Result<Found, IdentityError> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let leeway = rules.leeway_secs as i64;
    let exp = time(claims, "exp")?.ok_or_else(|| IdentityError::claim("exp", "is required"))?;
    if now > exp.saturating_add(leeway) {
        return Err(IdentityError::Expired {
            ago_secs: now.saturating_sub(exp).unsigned_abs(),
        });
    }
    if let Some(nbf) = time(claims, "nbf")? {
        if now.saturating_add(leeway) < nbf {
            return Err(IdentityError::NotYetValid {
                in_secs: nbf.saturating_sub(now).unsigned_abs(),
            });
        }
    }
    if !rules.issuers.is_empty() {
        match claims.get("iss") {
            Some(Value::String(iss)) if rules.issuers.contains(iss) => {}
            _ => return Err(IdentityError::BadIssuer),
        }
    }
    if !rules.audiences.is_empty() && !audience_ok(&rules.audiences, claims.get("aud")) {
        return Err(IdentityError::BadAudience);
    }
    let user = id(claims, &rules.user_claim)?
        .ok_or_else(|| IdentityError::claim(&rules.user_claim, "is required"))?;
    let optional = |claim: &Option<String>| match claim {
        Some(name) => id(claims, name),
        None => Ok(None),
    };
    Ok(Found {
        user,
        plan: optional(&rules.plan_claim)?,
        tenant: optional(&rules.tenant_claim)?,
    })
}

/// A NumericDate claim (seconds since the epoch; a fraction is dropped).
fn time(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, IdentityError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| IdentityError::claim(name, "is not a time")),
        Some(_) => Err(IdentityError::claim(name, "is not a number of seconds")),
    }
}

/// `aud`: a string or an array of strings, one of them accepted.
fn audience_ok(accepted: &[String], aud: Option<&Value>) -> bool {
    match aud {
        Some(Value::String(aud)) => accepted.contains(aud),
        Some(Value::Array(auds)) => auds
            .iter()
            .any(|a| a.as_str().is_some_and(|a| accepted.iter().any(|x| x == a))),
        _ => false,
    }
}

/// An ID claim, if present.
fn id(claims: &Map<String, Value>, name: &str) -> Result<Option<CompactString>, IdentityError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => valid_id(value)
            .map(|()| Some(CompactString::from(value.as_str())))
            .map_err(|reason| IdentityError::claim(name, reason)),
        Some(_) => Err(IdentityError::claim(name, "is not a string")),
    }
}

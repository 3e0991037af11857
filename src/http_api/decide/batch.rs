//! `POST /v1/checks`: up to [`MAX_BATCH`] `/v1/check` bodies decided in one
//! call, in order, each answered with the bytes `/v1/check` answers for it.

use std::cell::Cell;
use std::fmt;
use std::time::Instant;

use actix_web::http::header::ContentType;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::HttpResponse;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::check::{self, write_result, Check, CheckBody};
use crate::http_api::wire::body::JsonBody;
use crate::http_api::wire::error::ApiError;
use crate::http_api::wire::request::{parse_body, parse_object, Body};
use crate::http_api::wire::tokens::MayDecide;
use crate::http_api::AppState;

/// Most checks in one call (gubernator's bound too).
pub const MAX_BATCH: usize = 1_000;

/// Most bytes of a `/v1/checks` body: [`MAX_BATCH`] items of 2 KiB. The
/// largest valid item written plainly (user and tenant of 256 bytes, a
/// 512-byte route, a 32-byte method, an IPv6 address, the largest cost) is
/// about 1,200 bytes, so any full batch of valid items fits with room for
/// spacing and escapes; a larger declared body is refused with 413 unread.
pub const MAX_BATCH_BYTES: usize = MAX_BATCH * 2_048;

/// Items of a batch timed for `limiter_decision_duration_seconds`: one in
/// this many, each timed alone (every item is counted).
const TIME_ONE_IN: usize = 16;

/// Room for one result (most are ~100 bytes), so the buffer rarely grows.
const RESULT_BYTES: usize = 112;

/// Decides `{"checks": [CHECK, ...]}` and answers `{"results": [RESULT, ...]}`
/// (200, no rate-limit headers: each result carries its own numbers).
pub async fn checks(
    _: MayDecide,
    JsonBody(body): JsonBody,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let results =
        decide_all(&state, &body).inspect_err(|e| state.telemetry.bad_request(e.code()))?;
    Ok(HttpResponse::Ok()
        .insert_header(ContentType::json())
        .body(results))
}

/// Parses and validates every item, then, only if all are valid, decides
/// them in order at one `now` (so item 2 sees what item 1 took, and a bad
/// item changes nothing) and writes every result into one buffer. An item
/// `/v1/check` would refuse after deciding (a cost more than its rule can
/// ever hold; it takes nothing) gets that error body as its result.
pub fn decide_all(state: &AppState, body: &[u8]) -> Result<Bytes, ApiError> {
    let mut scratch = Vec::new();
    let wire = parse(body, &mut scratch)?;
    let checks = validate(&wire)?;
    let now = state.clock.now();
    let mut buf = BytesMut::with_capacity(16 + checks.len() * RESULT_BYTES);
    buf.extend_from_slice(br#"{"results":["#);
    for (i, check) in checks.iter().enumerate() {
        if i > 0 {
            buf.extend_from_slice(b",");
        }
        // Reading the clock twice for every item was 11% of a batch (perf).
        let started = (i % TIME_ONE_IN == 0).then(Instant::now);
        let verdict = state
            .policy
            .check(&state.store, &check.request, check.cost, now);
        if let Some(started) = started {
            state.telemetry.decision_time(started.elapsed());
        }
        state.telemetry.count(verdict.as_ref());
        match check::over_capacity(verdict.as_ref(), check.cost) {
            Some(refused) => {
                state.telemetry.bad_request(refused.code());
                refused.write_json(&mut buf);
            }
            None => {
                super::note(state, verdict.as_ref(), &check.request, now);
                write_result(&mut buf, verdict.as_ref())
            }
        }
    }
    buf.extend_from_slice(b"]}");
    Ok(buf.freeze())
}

thread_local! {
    /// About how many items the body being parsed on this thread holds: serde
    /// tells a visitor no length for a JSON list, and growing a list of 1,000
    /// items by doubling copies each item about twice more.
    static EXPECTED: Cell<usize> = const { Cell::new(0) };
}

/// A `/v1/checks` body as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecksBody<'a> {
    #[serde(borrow)]
    pub checks: Items<'a>,
}

impl<'a> Body<'a> for ChecksBody<'a> {
    const UNKNOWN: &'static str = "unknown field; the only field is checks";
}

/// The `checks` field as sent; like a [`crate::http_api::wire::request::Field`], a wrong
/// type is kept so that the error can name the field.
#[derive(Debug, Default)]
pub enum Items<'a> {
    /// Not in the body.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// Not a list.
    WrongType,
    /// At most [`MAX_BATCH`] items.
    List(Vec<Item<'a>>),
    /// More than [`MAX_BATCH`]: only counted, never kept.
    TooMany(usize),
}

/// One item of `checks` as sent.
#[derive(Debug)]
pub enum Item<'a> {
    /// An object, read as a `/v1/check` body.
    Body(CheckBody<'a>),
    /// Any other JSON value.
    NotObject,
}

/// Parses a `/v1/checks` body. A body that only the rare path of
/// [`parse_body`] reads (an unknown or repeated field) is read as a tree
/// first, so an item's unknown field is named with its index; the first
/// invalid item is the one named, whatever its mistake.
pub fn parse<'a>(body: &'a [u8], scratch: &'a mut Vec<u8>) -> Result<ChecksBody<'a>, ApiError> {
    // Under 32 bytes an item is rare (`{"user":"a"}` is 12).
    EXPECTED.set((body.len() / 32).min(MAX_BATCH));
    // serde would also read a struct from an array; only objects are bodies.
    if body.iter().find(|b| !b" \t\n\r".contains(b)) == Some(&b'{') {
        if let Ok(parsed) = serde_json::from_slice(body) {
            return Ok(parsed);
        }
    }
    let map = parse_object(body)?;
    if let Some(unknown) = map.keys().find(|k| *k != "checks") {
        return Err(ApiError::field(unknown, ChecksBody::UNKNOWN));
    }
    if let Some(Value::Array(items)) = map.get("checks") {
        // Too many is said before any item's mistake, as on the fast path.
        if items.len() > MAX_BATCH {
            return Err(too_many(items.len()));
        }
        for (i, item) in items.iter().enumerate() {
            item_mistake(i, item)?;
        }
    }
    // Repeated fields: the map kept each one's last value.
    *scratch = serde_json::to_vec(&map).expect("a map of JSON values serializes");
    let canonical: &'a Vec<u8> = scratch;
    serde_json::from_slice(canonical).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// What `/v1/check` would say of `item`, named `checks[i].FIELD`.
fn item_mistake(i: usize, item: &Value) -> Result<(), ApiError> {
    if !item.is_object() {
        return Err(not_object(i));
    }
    let bytes = serde_json::to_vec(item).expect("a JSON value serializes");
    let mut scratch = Vec::new();
    let wire: CheckBody = parse_body(&bytes, &mut scratch).map_err(|e| at(i, e))?;
    Check::try_from(&wire).map(drop).map_err(|e| at(i, e))
}

/// Every item as a [`Check`], or the first mistake: of `checks` itself, or
/// of the first invalid item, as `/v1/check` names it but with the item's
/// index (`checks[3].user`).
pub fn validate<'a>(wire: &'a ChecksBody<'_>) -> Result<Vec<Check<'a>>, ApiError> {
    let bound = || format!("a list of 1 to {MAX_BATCH} /v1/check bodies");
    let items = match &wire.checks {
        Items::Absent => return Err(ApiError::field("checks", "required")),
        Items::Null | Items::WrongType => return Err(ApiError::field("checks", bound())),
        Items::TooMany(n) => return Err(too_many(*n)),
        Items::List(items) if items.is_empty() => {
            return Err(ApiError::field(
                "checks",
                format!("empty; send {}", bound()),
            ))
        }
        Items::List(items) => items,
    };
    // Sized at once: collecting through `Result` would grow it by doubling.
    let mut checks = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        checks.push(match item {
            Item::Body(body) => Check::try_from(body).map_err(|e| at(i, e))?,
            Item::NotObject => return Err(not_object(i)),
        });
    }
    Ok(checks)
}

/// `error` of item `i`, its field named as part of the batch.
fn at(i: usize, error: ApiError) -> ApiError {
    match error {
        ApiError::InvalidField { field, reason } => {
            ApiError::field(format!("checks[{i}].{field}"), reason)
        }
        other => other,
    }
}

fn too_many(n: usize) -> ApiError {
    let reason = format!("{n} checks; at most {MAX_BATCH} in one call");
    ApiError::field("checks", reason)
}

fn not_object(i: usize) -> ApiError {
    ApiError::field(
        format!("checks[{i}]"),
        "must be an object, a /v1/check body",
    )
}

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ItemsVisitor)
    }
}

struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Items<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items<'de>, A::Error> {
        let mut items = Vec::with_capacity(EXPECTED.get());
        while items.len() < MAX_BATCH {
            match seq.next_element()? {
                Some(item) => items.push(item),
                None => return Ok(Items::List(items)),
            }
        }
        // Past the bound: count the rest, to say how many, without keeping them.
        let mut n = items.len();
        while seq.next_element::<IgnoredAny>()?.is_some() {
            n += 1;
        }
        Ok(if n > MAX_BATCH {
            Items::TooMany(n)
        } else {
            Items::List(items)
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Items<'de>, E> {
        Ok(Items::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Items<'de>, E> {
        Ok(Items::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Items<'de>, E> {
        Ok(Items::WrongType)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Items<'de>, E> {
        Ok(Items::WrongType)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Items<'de>, E> {
        Ok(Items::WrongType)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Items<'de>, E> {
        Ok(Items::WrongType)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Items<'de>, E> {
        Ok(Items::WrongType)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Items<'de>, A::Error> {
        IgnoredAny.visit_map(map).map(|_| Items::WrongType)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Item<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Item<'de>, A::Error> {
        CheckBody::deserialize(MapAccessDeserializer::new(map)).map(Item::Body)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Item<'de>, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| Item::NotObject)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }
    fn visit_none<E: de::Error>(self) -> Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;

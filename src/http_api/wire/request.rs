//! Reading JSON request bodies into typed wire structs, with every mistake
//! reported as a 400 that names its field.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use super::error::ApiError;

/// A wire struct: a request body as sent, derived with `deny_unknown_fields`
/// and made of [`Field`]s, converted to domain types with `TryFrom`.
pub trait Body<'a>: Deserialize<'a> {
    /// Why an unknown field is refused, naming the right ones.
    const UNKNOWN: &'static str;
}

/// Reads a JSON object `body` into the wire struct `T`. A body that is not
/// JSON or not an object is `invalid_json`; an unknown field is named.
/// `scratch` holds a rewritten body when the sent one repeats a field, so `T`
/// can borrow from it.
pub fn parse_body<'a, T: Body<'a>>(
    body: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Result<T, ApiError> {
    // serde would also read a struct from an array; only objects are bodies.
    let object = body.iter().find(|b| !b" \t\n\r".contains(b)) == Some(&b'{');
    if object {
        if let Ok(parsed) = serde_json::from_slice(body) {
            return Ok(parsed);
        }
    }
    // The rare path: the answer a `serde_json::Value` reading gives, so syntax
    // errors say what they always said, a repeated field counts its last
    // value, and of several unknown fields the first in sorted order is named.
    let map = parse_object(body)?;
    *scratch = serde_json::to_vec(&map).expect("a map of JSON values serializes");
    let canonical: &'a Vec<u8> = scratch;
    serde_json::from_slice(canonical).map_err(|e| match unknown_field(&e.to_string()) {
        Some(field) => ApiError::field(field, T::UNKNOWN),
        None => ApiError::InvalidJson(e.to_string()),
    })
}

/// Parses a JSON object body into a map (for bodies read as a whole).
pub(crate) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::InvalidJson("not an object".into())),
        Err(e) => Err(ApiError::InvalidJson(e.to_string())),
    }
}

/// The field serde's `unknown field `NAME`, expected …` error names.
fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    // The expected names follow the last "`, expected "; the field may contain anything.
    rest.rfind("`, expected ").map(|end| &rest[..end])
}

/// One field of a wire struct as sent. A value of the wrong JSON type is kept
/// as such rather than failing the parse, so the error can name the field and
/// fields are judged in the order their conversion checks them.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field<T> {
    /// Not in the body.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value of the expected type.
    Value(T),
    /// A value of another JSON type.
    WrongType,
}

impl<T> Field<T> {
    /// The value of an optional field (`null` counts as absent); a wrong type is `reason`.
    pub fn optional(&self, name: &str, reason: &str) -> Result<Option<&T>, ApiError> {
        match self {
            Field::Absent | Field::Null => Ok(None),
            Field::Value(value) => Ok(Some(value)),
            Field::WrongType => Err(ApiError::field(name, reason)),
        }
    }

    /// The value of a required field: absent is "required"; `null` or a wrong type is `reason`.
    pub fn required(&self, name: &str, reason: &str) -> Result<&T, ApiError> {
        match self {
            Field::Absent => Err(ApiError::field(name, "required")),
            Field::Value(value) => Ok(value),
            Field::Null | Field::WrongType => Err(ApiError::field(name, reason)),
        }
    }
}

impl<'a> Field<Cow<'a, str>> {
    /// An optional string field (`null` counts as absent).
    pub fn text(&self, name: &str) -> Result<Option<&str>, ApiError> {
        Ok(self.optional(name, "must be a string")?.map(|s| &**s))
    }
}

/// A type a [`Field`] holds, and which JSON scalars make one.
pub trait Scalar<'de>: Sized {
    /// From a JSON string.
    fn from_str(_: Cow<'de, str>) -> Option<Self> {
        None
    }
    /// From a JSON number.
    fn from_number(_: Number) -> Option<Self> {
        None
    }
}

/// A JSON string, borrowed from the body unless it has escapes.
impl<'de: 'a, 'a> Scalar<'de> for Cow<'a, str> {
    fn from_str(s: Cow<'de, str>) -> Option<Self> {
        Some(s)
    }
}

/// A whole number from 0 to `u64::MAX`.
impl Scalar<'_> for u64 {
    fn from_number(n: Number) -> Option<Self> {
        n.as_u64()
    }
}

impl<'de, T: Scalar<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor(PhantomData))
    }
}

struct FieldVisitor<T>(PhantomData<T>);

impl<T> FieldVisitor<T> {
    fn kept(value: Option<T>) -> Field<T> {
        value.map_or(Field::WrongType, Field::Value)
    }
}

impl<'de, T: Scalar<'de>> Visitor<'de> for FieldVisitor<T> {
    type Value = Field<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Field<T>, E> {
        Ok(Field::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Field<T>, E> {
        Ok(Field::WrongType)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Field<T>, E> {
        Ok(Self::kept(T::from_number(n.into())))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Field<T>, E> {
        Ok(Self::kept(T::from_number(n.into())))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Field<T>, E> {
        Ok(Self::kept(Number::from_f64(n).and_then(T::from_number)))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Field<T>, E> {
        Ok(Self::kept(T::from_str(Cow::Borrowed(s))))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Field<T>, E> {
        Ok(Self::kept(T::from_str(Cow::Owned(s.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Field<T>, E> {
        Ok(Self::kept(T::from_str(Cow::Owned(s))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Field<T>, A::Error> {
        // Read to its end, or the parser stops inside it.
        IgnoredAny.visit_seq(seq).map(|_| Field::WrongType)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field<T>, A::Error> {
        IgnoredAny.visit_map(map).map(|_| Field::WrongType)
    }
}

/// The `name=value` pairs of a query string, in order; a name not in
/// `known` is refused, naming it (cut to 64 characters) and the known ones.
pub(crate) fn query_pairs<'q>(
    query: &'q str,
    known: &[&str],
) -> Result<Vec<(&'q str, &'q str)>, ApiError> {
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !known.contains(&name) {
            let name: String = name.chars().take(64).collect();
            let send = known.join(" or ");
            return Err(ApiError::field(
                name,
                format!("unknown query parameter; send {send}"),
            ));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;

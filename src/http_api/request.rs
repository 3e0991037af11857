//! Reading JSON request bodies, with every mistake reported as a 400 that
//! names its field.

use serde_json::{Map, Value};

use super::error::ApiError;

/// Parses a JSON object body.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::InvalidJson("not an object".into())),
        Err(e) => Err(ApiError::InvalidJson(e.to_string())),
    }
}

/// A string field, if present.
pub fn string_field<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::field(field, "must be a string")),
    }
}

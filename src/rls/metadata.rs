//! The dynamic metadata of an answer (`--rls-response-metadata`), as
//! envoyproxy/ratelimit's RESPONSE_DYNAMIC_METADATA writes it: the request's
//! `domain`, its `descriptors` (`entries` as `key=value`, a `limit`
//! override, a `hitsAddend`), the request's `hitsAddend` if set, and the
//! `metadata` of every descriptor that passed, merged (the first file's
//! value wins where two disagree, maps merge key by key).

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest;
use envoy_types::pb::google::protobuf::{value::Kind, ListValue, Struct, Value};

use crate::policy::descriptors::{DescriptorVerdict, Outcome};

/// The dynamic metadata answering `request`, whose descriptors ended as `verdicts`.
pub fn dynamic_metadata(request: &RateLimitRequest, verdicts: &[DescriptorVerdict]) -> Struct {
    let mut fields = Struct::default();
    let mut put = |name: &str, kind| fields.fields.insert(name.into(), value(kind));
    put("domain", Kind::StringValue(request.domain.clone()));
    let descriptors = request.descriptors.iter().map(descriptor).collect();
    put(
        "descriptors",
        Kind::ListValue(ListValue {
            values: descriptors,
        }),
    );
    if request.hits_addend != 0 {
        put(
            "hitsAddend",
            Kind::NumberValue(f64::from(request.hits_addend)),
        );
    }
    let mut passed = Struct::default();
    let metadata = verdicts
        .iter()
        .filter(|v| matches!(v.outcome, Outcome::Ok | Outcome::ShadowOverLimit))
        .filter_map(|v| v.limit.as_ref()?.metadata.as_deref());
    for metadata in metadata {
        if let Kind::StructValue(from) = json(metadata) {
            merge(&mut passed, from);
        }
    }
    if !passed.fields.is_empty() {
        put("metadata", Kind::StructValue(passed));
    }
    fields
}

fn descriptor(descriptor: &RateLimitDescriptor) -> Value {
    let mut fields = Struct::default();
    let entries = descriptor
        .entries
        .iter()
        .map(|e| value(Kind::StringValue(format!("{}={}", e.key, e.value))))
        .collect();
    let list = Kind::ListValue(ListValue { values: entries });
    fields.fields.insert("entries".into(), value(list));
    if let Some(limit) = &descriptor.limit {
        // As Go prints the message: envoyproxy/ratelimit writes it so.
        let unit = RateLimitUnit::try_from(limit.unit)
            .map_or_else(|_| limit.unit.to_string(), |u| u.as_str_name().into());
        let text = format!("requests_per_unit:{} unit:{unit}", limit.requests_per_unit);
        fields
            .fields
            .insert("limit".into(), value(Kind::StringValue(text)));
    }
    if let Some(hits) = &descriptor.hits_addend {
        let hits = Kind::NumberValue(hits.value as f64);
        fields.fields.insert("hitsAddend".into(), value(hits));
    }
    value(Kind::StructValue(fields))
}

/// Adds `from`'s fields to `into`'s: new ones as they are, maps into maps;
/// any other field `into` has already stays.
fn merge(into: &mut Struct, from: Struct) {
    for (name, from) in from.fields {
        match (into.fields.get_mut(&name), from.kind) {
            (None, kind) => {
                into.fields.insert(name, Value { kind });
            }
            (
                Some(Value {
                    kind: Some(Kind::StructValue(into)),
                }),
                Some(Kind::StructValue(from)),
            ) => merge(into, from),
            (Some(_), _) => {}
        }
    }
}

fn value(kind: Kind) -> Value {
    Value { kind: Some(kind) }
}

/// A JSON value as protobuf's; numbers become doubles, as in any `Struct`.
fn json(from: &serde_json::Value) -> Kind {
    match from {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(|i| value(json(i))).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), value(json(v))))
                .collect(),
        }),
    }
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod tests;

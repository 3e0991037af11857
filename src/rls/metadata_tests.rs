//! The dynamic metadata of an answer: the request, and the merged
//! `metadata` of the descriptors that passed.

use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::{
    Entry, RateLimitOverride,
};
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest;
use envoy_types::pb::google::protobuf::{value::Kind, Struct, UInt64Value};
use serde_json::json;

use super::dynamic_metadata;
use crate::policy::descriptors::{DescriptorLimit, DescriptorVerdict, LimitKind, Outcome, Unit};

fn verdict(outcome: Outcome, metadata: serde_json::Value) -> DescriptorVerdict {
    let limit = DescriptorLimit {
        path: "d.k".into(),
        name: None,
        requests_per_unit: 1,
        unit: Unit::Second,
        kind: LimitKind::of(1, Unit::Second).unwrap(),
        shadow: false,
        replaces: Vec::new(),
        detailed_metric: false,
        value_to_metric: false,
        quota_mode: true,
        metadata: Some(Arc::new(metadata)),
        overridden: false,
    };
    DescriptorVerdict {
        outcome,
        limit: Some(Arc::new(limit)),
        remaining: 0,
        reset: Duration::ZERO,
    }
}

fn field<'s>(fields: &'s Struct, path: &[&str]) -> Option<&'s Kind> {
    let (last, path) = path.split_last()?;
    let mut at = fields;
    for name in path {
        match at.fields.get(*name)?.kind.as_ref()? {
            Kind::StructValue(inner) => at = inner,
            _ => return None,
        }
    }
    at.fields.get(*last)?.kind.as_ref()
}

fn text(kind: Option<&Kind>) -> Option<&str> {
    match kind? {
        Kind::StringValue(s) => Some(s),
        _ => None,
    }
}

#[test]
fn passed_descriptors_metadata_merge_the_first_kept_and_maps_joined() {
    let request = RateLimitRequest {
        domain: "d".into(),
        descriptors: vec![RateLimitDescriptor {
            entries: vec![Entry {
                key: "k".into(),
                value: "v".into(),
            }],
            limit: Some(RateLimitOverride {
                requests_per_unit: 10,
                unit: 2,
            }),
            hits_addend: Some(UInt64Value { value: 0 }),
            ..Default::default()
        }],
        hits_addend: 3,
    };
    let verdicts = [
        verdict(Outcome::Ok, json!({"svc": {"name": "one"}, "n": 1})),
        verdict(Outcome::OverLimit, json!({"over": true})),
        verdict(
            Outcome::Ok,
            json!({"svc": {"name": "two", "zone": "b"}, "n": 2}),
        ),
    ];
    let answer = dynamic_metadata(&request, &verdicts);
    assert_eq!(text(field(&answer, &["domain"])), Some("d"));
    assert_eq!(
        field(&answer, &["hitsAddend"]),
        Some(&Kind::NumberValue(3.0))
    );
    assert_eq!(
        text(field(&answer, &["metadata", "svc", "name"])),
        Some("one")
    );
    assert_eq!(
        text(field(&answer, &["metadata", "svc", "zone"])),
        Some("b")
    );
    assert_eq!(
        field(&answer, &["metadata", "n"]),
        Some(&Kind::NumberValue(1.0))
    );
    assert_eq!(field(&answer, &["metadata", "over"]), None, "not passed");
    let Some(Kind::ListValue(descriptors)) = field(&answer, &["descriptors"]) else {
        panic!("descriptors: a list");
    };
    let Some(Kind::StructValue(first)) = &descriptors.values[0].kind else {
        panic!("a descriptor: a map");
    };
    assert_eq!(
        text(field(first, &["limit"])),
        Some("requests_per_unit:10 unit:MINUTE")
    );
    assert_eq!(field(first, &["hitsAddend"]), Some(&Kind::NumberValue(0.0)));
}

#[test]
fn without_passed_metadata_there_is_no_metadata_field() {
    let request = RateLimitRequest {
        domain: "d".into(),
        ..Default::default()
    };
    let answer = dynamic_metadata(&request, &[verdict(Outcome::OverLimit, json!({"a": 1}))]);
    assert!(field(&answer, &["metadata"]).is_none());
    assert!(field(&answer, &["hitsAddend"]).is_none());
}

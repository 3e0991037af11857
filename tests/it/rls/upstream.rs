//! envoyproxy/ratelimit's configuration keys and behaviours over gRPC: its
//! example file with `quota_mode` and `metadata` (and the dynamic metadata
//! they drive), wildcards anywhere, statistics names, merged domains,
//! Envoy's limit override, `hits_addend: 0` and nothing remaining when over.

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::RateLimitOverride;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::google::protobuf::{value::Kind, Struct, UInt64Value};
use serde_json::{json, Value};

use super::{ok, request, Rls};

/// envoyproxy/ratelimit's `examples/ratelimit/config/example.yaml`, unchanged.
const UPSTREAM_EXAMPLE: &str =
    include_str!("../../fixtures/envoyproxy-ratelimit/examples/ratelimit/config/example.yaml");

/// Asks `domain` about one-entry descriptors `(key, value, hits_addend)`.
fn ask(
    rls: &mut Rls,
    domain: &str,
    descriptors: &[(&str, &str, Option<u64>)],
) -> super::RateLimitResponse {
    let entries: Vec<[(&str, &str); 1]> = descriptors.iter().map(|(k, v, _)| [(*k, *v)]).collect();
    let slices: Vec<&[(&str, &str)]> = entries.iter().map(|e| &e[..]).collect();
    let mut request = request(domain, &slices, 0);
    for (descriptor, (_, _, hits)) in request.descriptors.iter_mut().zip(descriptors) {
        descriptor.hits_addend = hits.map(|value| UInt64Value { value });
    }
    rls.call(request).unwrap()
}

/// A protobuf `Struct` as JSON, to compare.
fn to_json(fields: &Struct) -> Value {
    fn one(kind: &Option<Kind>) -> Value {
        match kind {
            Some(Kind::StringValue(s)) => json!(s),
            Some(Kind::NumberValue(n)) => json!(n),
            Some(Kind::BoolValue(b)) => json!(b),
            Some(Kind::StructValue(s)) => to_json(s),
            Some(Kind::ListValue(l)) => l.values.iter().map(|v| one(&v.kind)).collect(),
            Some(Kind::NullValue(_)) | None => Value::Null,
        }
    }
    fields
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), one(&v.kind)))
        .collect()
}

#[test]
fn upstream_example_quota_mode_and_metadata_pick_the_service_with_quota() {
    let files = [("example.yaml", UPSTREAM_EXAMPLE)];
    let mut rls = Rls::start_with("rls-upstream-quota", &files, &["--rls-response-metadata"]);
    let both = [
        ("service", "service_1", Some(0)),
        ("service", "service_2", Some(0)),
    ];
    let first = ask(&mut rls, "rl", &both);
    assert!(ok(&first));
    let metadata = to_json(first.dynamic_metadata.as_ref().unwrap());
    assert_eq!(metadata["domain"], "rl");
    assert_eq!(
        metadata["descriptors"][0]["entries"],
        json!(["service=service_1"])
    );
    assert_eq!(metadata["descriptors"][0]["hitsAddend"], 0.0);
    // Both passed: the first's metadata wins where they meet.
    assert_eq!(
        metadata["metadata"]["service_with_quota"]["name"],
        "service_1"
    );
    // Spent on the response path (hits 1): service_1 is over, service_2 is left.
    assert!(ok(&ask(
        &mut rls,
        "rl",
        &[("service", "service_1", Some(1))]
    )));
    let second = ask(&mut rls, "rl", &both);
    assert!(ok(&second), "a quota limit over alone refuses nothing");
    assert_eq!(second.statuses[0].code, Code::OverLimit as i32);
    assert_eq!(second.statuses[0].limit_remaining, 0);
    let metadata = to_json(second.dynamic_metadata.as_ref().unwrap());
    assert_eq!(
        metadata["metadata"]["service_with_quota"]["name"],
        "service_2"
    );
    for _ in 0..2 {
        ask(&mut rls, "rl", &[("service", "service_2", Some(1))]);
    }
    let third = ask(&mut rls, "rl", &both);
    assert_eq!(
        third.overall_code,
        Code::OverLimit as i32,
        "every quota limit is over"
    );
    let metadata = to_json(third.dynamic_metadata.as_ref().unwrap());
    assert_eq!(metadata.get("metadata"), None);
}

#[test]
fn hits_addend_zero_checks_without_spending_like_envoys_token_quota() {
    let files = [("example.yaml", UPSTREAM_EXAMPLE)];
    let mut rls = Rls::start_with("rls-upstream-token", &files, &[]);
    let check = [("service", "service_2", Some(0))];
    let spend = [("service", "service_2", Some(1))];
    for _ in 0..2 {
        let checked = ask(&mut rls, "rl", &check);
        assert!(ok(&checked));
        assert!(ok(&ask(&mut rls, "rl", &spend)));
    }
    let refused = ask(&mut rls, "rl", &check);
    assert_eq!(refused.overall_code, Code::OverLimit as i32);
    assert_eq!(refused.statuses[0].limit_remaining, 0);
    // The request's own 0 still means one hit, as Envoy sends it.
    assert!(ok(&ask(&mut rls, "rl", &[("foo", "x", None)])));
    assert!(ok(&ask(&mut rls, "rl", &[("foo", "x", None)])));
    assert!(
        !ok(&ask(&mut rls, "rl", &[("foo", "x", None)])),
        "2 a minute"
    );
}

const WILD: &str = r#"
domain: wild
descriptors:
  - {key: midWild, value: "bar*b", rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: shared, value: "/api*v1", share_threshold: true, rate_limit: {unit: minute, requests_per_unit: 1}}
  - {key: route, value: "/r/*", value_to_metric: true, rate_limit: {unit: minute, requests_per_unit: 5}}
"#;

#[test]
fn wildcards_anywhere_each_value_its_bucket_unless_shared() {
    let mut rls = Rls::start_with("rls-upstream-wild", &[("wild.yaml", WILD)], &[]);
    assert!(ok(&ask(&mut rls, "wild", &[("midWild", "barab", None)])));
    assert!(!ok(&ask(&mut rls, "wild", &[("midWild", "barab", None)])));
    assert!(
        ok(&ask(&mut rls, "wild", &[("midWild", "bar123b", None)])),
        "its own bucket"
    );
    let other = ask(&mut rls, "wild", &[("midWild", "xbarb", None)]);
    assert!(other.statuses[0].current_limit.is_none(), "no match");
    assert!(ok(&ask(&mut rls, "wild", &[("shared", "/api/a/v1", None)])));
    assert!(
        !ok(&ask(&mut rls, "wild", &[("shared", "/api/b/v1", None)])),
        "one shared bucket"
    );
    // value_to_metric: counted under the request's value.
    ask(&mut rls, "wild", &[("route", "/r/x", None)]);
    let named = r#"limiter_rls_descriptors_total{descriptor="wild.route_/r/x",outcome="ok"}"#;
    assert_eq!(rls.node.metric(named), 1.0);
    let midwild =
        r#"limiter_rls_descriptors_total{descriptor="wild.midWild_bar*b",outcome="over_limit"}"#;
    assert_eq!(rls.node.metric(midwild), 1.0);
}

#[test]
fn a_domain_in_two_files_is_refused_unless_merged() {
    let key1 = "domain: test-domain\ndescriptors:\n  - {key: key1, value: value1, rate_limit: {unit: minute, requests_per_unit: 10}}";
    let key2 = "domain: test-domain\ndescriptors:\n  - {key: key2, value: value2, rate_limit: {unit: minute, requests_per_unit: 20}}";
    let files = [
        ("merge_domain_key1.yaml", key1),
        ("merge_domain_key2.yaml", key2),
    ];
    let dir = crate::helpers::temp_dir("rls-upstream-unmerged");
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    let args = ["crdt-limiter", "--rls-config", dir.to_str().unwrap()];
    let refused = crdt_limiter::settings::Config::load_from(args)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("rls-config") && refused.contains("test-domain"),
        "{refused}"
    );
    let mut rls = Rls::start_with("rls-upstream-merged", &files, &["--rls-merge-domains"]);
    for (key, value, limit) in [("key1", "value1", 10), ("key2", "value2", 20)] {
        let answer = ask(&mut rls, "test-domain", &[(key, value, None)]);
        assert_eq!(
            answer.statuses[0]
                .current_limit
                .as_ref()
                .unwrap()
                .requests_per_unit,
            limit
        );
    }
}

#[test]
fn a_limit_override_in_the_request_is_honoured_in_its_own_bucket() {
    let mut rls = Rls::start("rls-upstream-override", &[]);
    let with_override = |requests_per_unit, unit| {
        let mut call = request("edge", &[&[("user", "alice")]], 0);
        call.descriptors[0].limit = Some(RateLimitOverride {
            requests_per_unit,
            unit,
        });
        call
    };
    // 2 a day (Envoy's RateLimitUnit DAY = 4), whatever the file says (3 a minute).
    for remaining in [1, 0] {
        let answer = rls.call(with_override(2, 4)).unwrap();
        assert_eq!(answer.statuses[0].limit_remaining, remaining);
        let limit = answer.statuses[0].current_limit.as_ref().unwrap();
        assert_eq!((limit.requests_per_unit, limit.unit), (2, 4));
    }
    let refused = rls.call(with_override(2, 4)).unwrap();
    assert_eq!(refused.statuses[0].code, Code::OverLimit as i32);
    assert_eq!(refused.statuses[0].limit_remaining, 0);
    // The configured limit's bucket is another.
    assert_eq!(
        rls.ask(&[&[("user", "alice")]]).statuses[0].limit_remaining,
        2
    );
    let counted =
        r#"limiter_rls_descriptors_total{descriptor="edge.user_alice",outcome="over_limit"}"#;
    assert_eq!(rls.node.metric(counted), 1.0);
    let bad = rls.call(with_override(2, 0)).unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(
        bad.message().starts_with("descriptors[0].limit.unit: "),
        "{}",
        bad.message()
    );
}

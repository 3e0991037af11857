//! upstream's config corpus, the files that need branch `rlsconfig`'s
//! features: `share_threshold.yaml` (wildcards anywhere, `value_to_metric`),
//! `metadata.yaml` (a limit's `metadata` in the response) and the
//! per-request limit override of `TestConfigLimitOverride`.

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::RateLimitOverride;
use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::google::protobuf::value::Kind;
use envoy_types::pb::google::protobuf::Struct;

use super::corpus::{replay, serving, Lookup};
use super::harness::{request, Entries, Status, RESPONSE_METADATA};

const fn at(entries: Entries, rpu: u32, stats: &'static str) -> Lookup {
    Lookup {
        entries,
        limit: Some((rpu, Unit::Minute)),
        stats,
    }
}

/// config_test.go `TestShareThreshold`, every case.
const SHARED: &[Lookup] = &[
    at(&[("files", "files/a.pdf")], 100, "files_files/*"),
    at(&[("files", "files/b.csv")], 100, "files_files/*"),
    at(
        &[("route", "api/v1"), ("method", "GET")],
        60,
        "route_api/*.method",
    ),
    at(
        &[("service", "svc/user"), ("endpoint", "get")],
        80,
        "service_svc/*.endpoint_get",
    ),
    at(
        &[("nested", "parent"), ("files", "nested/file1.txt")],
        200,
        "nested_parent.files_nested/*",
    ),
    at(
        &[("files", "top/file1.txt"), ("files", "nested/file1.txt")],
        300,
        "files_top/*.files_nested/*",
    ),
    at(
        &[("path", "path/foo"), ("file", "file/doc1"), ("type", "pdf")],
        120,
        "path_path/*.file_file/*.type",
    ),
    at(
        &[
            ("user", "user/alice"),
            ("resource", "res/file1"),
            ("action", "read"),
        ],
        150,
        "user_user/*.resource_res/*.action",
    ),
    at(&[("file", "test1")], 50, "file_test1"),
    at(&[("file", "test2")], 100, "file_test*"),
    at(&[("file", "testing")], 100, "file_test*"),
    at(&[("midpath", "/api/v1")], 100, "midpath_/api*v1"),
    at(&[("midpath", "/api/users/v1")], 100, "midpath_/api*v1"),
    at(&[("multiroute", "svcAepBrpc")], 50, "multiroute_svc*ep*rpc"),
    at(&[("midroute", "/api/v2")], 80, "midroute_/api*v2"),
    at(&[("midroute", "/api-beta-v2")], 80, "midroute_/api*v2"),
    at(
        &[("tenant", "t1prod"), ("resource", "resAv2")],
        60,
        "tenant_t*prod.resource_res*v2",
    ),
    at(
        &[("tenant", "t99prod"), ("resource", "resBBBv2")],
        60,
        "tenant_t*prod.resource_res*v2",
    ),
    Lookup {
        entries: &[("midpath", "/api/v2")],
        limit: None,
        stats: "",
    },
    Lookup {
        entries: &[("multiroute", "svcABCrpc")],
        limit: None,
        stats: "",
    },
];

#[test]
fn share_threshold_yaml_shares_as_upstream() {
    let rls = serving("share_threshold.yaml", &[]);
    replay(&rls, "TestShareThreshold", SHARED);
    // Every value under a shared wildcard counts in one series (and bucket).
    assert_eq!(rls.counted("test-domain.files_files/*", "ok"), 2.0);
    assert_eq!(rls.counted("test-domain.file_test*", "ok"), 2.0);
    assert_eq!(rls.counted("test-domain.file_test1", "ok"), 1.0);
}

/// The string at `path` in a response's `dynamic_metadata`.
fn metadata_text(metadata: &Struct, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    let mut here = metadata;
    for key in parents {
        match here.fields.get(*key)?.kind.as_ref()? {
            Kind::StructValue(inner) => here = inner,
            _ => return None,
        }
    }
    match here.fields.get(*last)?.kind.as_ref()? {
        Kind::StringValue(text) => Some(text.clone()),
        _ => None,
    }
}

/// config_test.go `TestMetadata`: a limit's `metadata` comes back in the
/// response's `dynamic_metadata` under `metadata` (what Envoy reads with
/// `%DYNAMIC_METADATA(envoy.filters.http.ratelimit:metadata:…)%`).
#[test]
fn metadata_yaml_returns_each_limits_metadata() {
    let rls = serving("metadata.yaml", &[RESPONSE_METADATA]);
    let cases: &[(Entries, u32, &[&str], &str)] = &[
        (
            &[("key1", "value1"), ("subkey1", "something")],
            5,
            &["metadata", "name"],
            "service_1",
        ),
        (
            &[("key2", "something")],
            20,
            &["metadata", "service_with_quota", "name"],
            "service_2",
        ),
    ];
    for (entries, rpu, path, want) in cases {
        let step = format!("TestMetadata {entries:?}");
        let response = rls.call(&step, request("test-domain", &[entries], 1));
        assert_eq!(
            Status::of(&response.statuses[0]).limit.map(|l| l.0),
            Some(*rpu),
            "{step}"
        );
        let metadata = response.dynamic_metadata.unwrap_or_default();
        assert_eq!(
            metadata_text(&metadata, path).as_deref(),
            Some(*want),
            "{step}: {metadata:?}"
        );
    }
}

/// config_test.go `TestConfigLimitOverride`: a descriptor's own `limit`
/// replaces the file's, counted under the value it was asked with.
#[test]
fn basic_config_yaml_honours_the_per_request_limit_override() {
    let rls = serving("basic_config.yaml", &[]);
    let cases = [
        ("something", 10, RateLimitUnit::Day, Unit::Day),
        ("something", 42, RateLimitUnit::Hour, Unit::Hour),
        ("something_else", 42, RateLimitUnit::Hour, Unit::Hour),
    ];
    for (value, rpu, asked, unit) in cases {
        let step = format!("TestConfigLimitOverride subkey1={value} {rpu}/{unit:?}");
        let mut call = request(
            "test-domain",
            &[&[("key1", "value1"), ("subkey1", value)]],
            1,
        );
        call.descriptors[0].limit = Some(RateLimitOverride {
            requests_per_unit: rpu,
            unit: asked as i32,
        });
        let status = Status::of(&rls.call(&step, call).statuses[0]);
        assert_eq!(status.limit(), Some((rpu, unit as i32)), "{step}");
        let stats = format!("test-domain.key1_value1.subkey1_{value}");
        assert!(
            rls.counted(&stats, "ok") >= 1.0,
            "{step}: nothing under {stats}"
        );
    }
    // The override applies only where the domain has a descriptor.
    let mut unknown = request("foo_domain", &[&[("key1", "value1")]], 1);
    unknown.descriptors[0].limit = Some(RateLimitOverride {
        requests_per_unit: 10,
        unit: RateLimitUnit::Day as i32,
    });
    let status = Status::of(
        &rls.call("TestConfigLimitOverride foo_domain", unknown)
            .statuses[0],
    );
    assert_eq!(status.limit, None, "TestConfigLimitOverride foo_domain");
}

//! How descriptors count when a call is over the limit, over gRPC on
//! upstream's `examples/ratelimit/config/example.yaml` in fixed windows. Our
//! default takes nothing for a refused call (upstream's
//! `STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT=true`), so Envoy's token quota
//! admits exactly `requests_per_unit`; `--rls-count-over-limit` counts every
//! descriptor's hits as upstream's default does, which `token-quota.sh` and
//! `multiservice-tokenquota.sh` rely on (run in `scripts.rs`). And Envoy's
//! per-request `limit` override counts under `--rls-algorithm` too.

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::RateLimitOverride;
use envoy_types::pb::envoy::r#type::v3::RateLimitUnit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitResponse;
use envoy_types::pb::google::protobuf::UInt64Value;

use super::harness::{
    config_dir, fixed_window_flags, request, upstream_default_flags, Entries, Rls, Status,
};

const EXAMPLE: &str = "examples/ratelimit/config/example.yaml";
const SERVICE_2: Entries = &[("service", "service_2")];
/// `foo`: 2 a minute, any value.
const FOO: Entries = &[("foo", "a")];
/// `source_cluster: proxy` / `destination_cluster: mock`: 1 a minute.
const MOCK: Entries = &[("source_cluster", "proxy"), ("destination_cluster", "mock")];

/// A node on upstream's example file with `flags`; `how` names it in failures.
fn node(name: &str, how: &str, flags: &[&str]) -> Rls {
    let dir = config_dir(name, &[EXAMPLE]);
    Rls::start(&format!("{EXAMPLE} ({how})"), &dir, flags)
}

/// One call of domain `rl`, each descriptor with its own `hits_addend`.
fn ask(rls: &Rls, step: &str, descriptors: &[(Entries, u64)]) -> RateLimitResponse {
    let entries: Vec<Entries> = descriptors.iter().map(|(e, _)| *e).collect();
    let mut call = request("rl", &entries, 0);
    for (descriptor, (_, hits)) in call.descriptors.iter_mut().zip(descriptors) {
        descriptor.hits_addend = Some(UInt64Value { value: *hits });
    }
    rls.call(step, call)
}

fn passed(response: &RateLimitResponse) -> bool {
    response.overall_code == Code::Ok as i32
}

/// token-quota.sh's calls: a check of service_2 (2 a minute) with 0 hits
/// on the request path, one hit on the response path; how many pass.
fn token_quota_admitted(rls: &Rls) -> u32 {
    for n in 1..=5 {
        if !passed(&ask(rls, &format!("check {n}"), &[(SERVICE_2, 0)])) {
            return n - 1;
        }
        ask(rls, &format!("response {n}"), &[(SERVICE_2, 1)]);
    }
    5
}

#[test]
fn by_default_envoys_token_quota_admits_exactly_requests_per_unit() {
    let rls = node("count-default-quota", "default", &fixed_window_flags());
    assert_eq!(token_quota_admitted(&rls), 2, "{}", rls.source);
}

#[test]
fn counting_over_the_limit_envoys_token_quota_admits_as_upstream() {
    let flags = upstream_default_flags();
    let rls = node("count-over-quota", "--rls-count-over-limit", &flags);
    assert_eq!(token_quota_admitted(&rls), 3, "{}", rls.source);
}

/// A call over `destination_cluster: mock` (1 a minute) with `foo` (2 a
/// minute): what `foo` has left after. By default the refused call took
/// nothing from it; counted over the limit, it took its hit.
#[test]
fn a_refused_call_takes_from_no_descriptor_unless_counting_over_the_limit() {
    let upstream = upstream_default_flags();
    for (how, flags, left) in [
        ("default", fixed_window_flags(), Some(0)),
        ("--rls-count-over-limit", upstream, None),
    ] {
        let rls = node("count-refused", how, &flags);
        assert!(passed(&ask(&rls, "first", &[(FOO, 1), (MOCK, 1)])));
        let refused = ask(&rls, "second", &[(FOO, 1), (MOCK, 1)]);
        assert!(!passed(&refused), "{how}: mock is spent");
        let foo = ask(&rls, "foo alone", &[(FOO, 1)]);
        let remaining = passed(&foo).then(|| foo.statuses[0].limit_remaining);
        assert_eq!(remaining, left, "{how}: foo after the refused call");
    }
}

/// A `limit` override of 2 an hour on a fixed-window node counts in the
/// hour's window: after one hit it is full again when the hour ends (a
/// token bucket would be full in half an hour), and two hits spend it.
#[test]
fn a_limit_override_counts_in_fixed_windows_on_a_fixed_window_node() {
    let rls = node("count-override", "fixed windows", &fixed_window_flags());
    let call = || {
        let mut call = request("rl", &[FOO], 1);
        call.descriptors[0].limit = Some(RateLimitOverride {
            requests_per_unit: 2,
            unit: RateLimitUnit::Hour as i32,
        });
        Status::of(&rls.call("override 2/hour", call).statuses[0])
    };
    let first = call();
    assert_eq!((first.code, first.remaining), (Code::Ok, 1));
    let reset = first.reset.expect("duration_until_reset");
    assert!((3500..=3600).contains(&reset), "the hour's end: {reset} s");
    assert_eq!(call().code, Code::Ok);
    assert_eq!(call().code, Code::OverLimit, "2 in the hour");
}

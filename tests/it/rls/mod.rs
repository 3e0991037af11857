//! The Envoy rate-limit service over real gRPC (tonic's client, as Envoy
//! speaks it): decisions and statuses, errors, metrics, the buckets in the
//! admin API, and reloads of the descriptor files; envoyproxy/ratelimit's
//! keys and behaviours in [`upstream`].

use std::time::Duration;

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use envoy_types::pb::google::protobuf::UInt64Value;

use crate::helpers::{self, tools, TestNode};

mod settings;
mod upstream;

const CONFIG: &str = r#"
domain: edge
descriptors:
  - key: user
    rate_limit:
      name: per_user
      unit: minute
      requests_per_unit: 3
  - key: path
    value: "/login*"
    rate_limit:
      unit: hour
      requests_per_unit: 2
  - key: tenant
    detailed_metric: true
    rate_limit:
      unit: hour
      requests_per_unit: 100
  - key: plan
    value: trial
    shadow_mode: true
    rate_limit:
      unit: hour
      requests_per_unit: 1
"#;

/// A node serving the rate-limit service, and a client of it. The client
/// goes first when dropped (fields drop in order), so the node's graceful
/// shutdown finds no connection open.
struct Rls {
    client: RateLimitServiceClient<tonic::transport::Channel>,
    runtime: tokio::runtime::Runtime,
    node: TestNode,
    dir: std::path::PathBuf,
}

impl Rls {
    fn start(name: &str, extra: &[&str]) -> Self {
        Self::start_with(name, &[("edge.yaml", CONFIG)], extra)
    }

    /// A node reading `files` (name, text): the file if one, else their directory.
    fn start_with(name: &str, files: &[(&str, &str)], extra: &[&str]) -> Self {
        let dir = helpers::temp_dir(name);
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        let port = tools::free_port().to_string();
        let grpc = format!("127.0.0.1:{port}");
        let config = match files {
            [(file, _)] => dir.join(file),
            _ => dir.clone(),
        };
        let mut flags = vec![
            "--grpc-listen",
            &grpc,
            "--rls-config",
            config.to_str().unwrap(),
        ];
        flags.extend_from_slice(extra);
        let node = TestNode::start(&flags);
        let (runtime, client) = crate::helpers::rls::client(&grpc);
        Self {
            node,
            runtime,
            client,
            dir,
        }
    }

    fn call(&mut self, request: RateLimitRequest) -> Result<RateLimitResponse, tonic::Status> {
        let mut client = self.client.clone();
        self.runtime
            .block_on(client.should_rate_limit(request))
            .map(|r| r.into_inner())
    }

    /// `request` with `metadata` (name, value) as Envoy's `initial_metadata` adds it.
    fn call_with(
        &mut self,
        request: RateLimitRequest,
        metadata: (&'static str, &str),
    ) -> Result<RateLimitResponse, tonic::Status> {
        let mut request = tonic::Request::new(request);
        let value = metadata.1.parse().unwrap();
        request.metadata_mut().insert(metadata.0, value);
        let mut client = self.client.clone();
        self.runtime
            .block_on(client.should_rate_limit(request))
            .map(|r| r.into_inner())
    }

    fn ask(&mut self, descriptors: &[&[(&str, &str)]]) -> RateLimitResponse {
        self.call(request("edge", descriptors, 0)).unwrap()
    }
}

fn descriptor(entries: &[(&str, &str)]) -> RateLimitDescriptor {
    RateLimitDescriptor {
        entries: entries
            .iter()
            .map(|(key, value)| Entry {
                key: key.to_string(),
                value: value.to_string(),
            })
            .collect(),
        ..Default::default()
    }
}

fn request(domain: &str, descriptors: &[&[(&str, &str)]], hits: u32) -> RateLimitRequest {
    RateLimitRequest {
        domain: domain.into(),
        descriptors: descriptors.iter().map(|d| descriptor(d)).collect(),
        hits_addend: hits,
    }
}

fn ok(response: &RateLimitResponse) -> bool {
    response.overall_code == Code::Ok as i32
}

#[test]
fn within_then_over_the_limit_with_envoys_fields() {
    let mut rls = Rls::start("rls-basic", &[]);
    for remaining in [2, 1, 0] {
        let response = rls.ask(&[&[("user", "alice")]]);
        assert!(ok(&response));
        let status = &response.statuses[0];
        assert_eq!(status.code, Code::Ok as i32);
        assert_eq!(status.limit_remaining, remaining);
        let limit = status.current_limit.as_ref().unwrap();
        assert_eq!(
            (limit.requests_per_unit, limit.unit, limit.name.as_str()),
            (3, 2, "per_user")
        );
        assert!(status.duration_until_reset.is_some());
    }
    let refused = rls.ask(&[&[("user", "alice")]]);
    assert_eq!(refused.overall_code, Code::OverLimit as i32);
    assert_eq!(refused.statuses[0].code, Code::OverLimit as i32);
    // One token a minute/3: the next one comes within 20 s.
    let reset = refused.statuses[0].duration_until_reset.unwrap();
    assert!((1..=20).contains(&reset.seconds), "{reset:?}");
    let retry = &refused.response_headers_to_add[0];
    assert_eq!(retry.key, "retry-after");
    assert_eq!(retry.value, reset.seconds.max(1).to_string());
    // Other users, unknown domains and unconfigured descriptors are not limited.
    assert!(ok(&rls.ask(&[&[("user", "bob")]])));
    let unknown = rls
        .call(request("elsewhere", &[&[("user", "alice")]], 0))
        .unwrap();
    assert!(ok(&unknown));
    assert!(unknown.statuses[0].current_limit.is_none());

    // Time passes on the node's clock: alice earns a token back.
    rls.node.clock.advance(Duration::from_secs(20));
    assert!(ok(&rls.ask(&[&[("user", "alice")]])));
}

#[test]
fn descriptors_are_decided_together_and_hits_addend_is_honoured() {
    let mut rls = Rls::start("rls-together", &[]);
    let login: &[(&str, &str)] = &[("path", "/login/form")];
    // Two hits at once: the login limit (2 an hour) is spent, alice has 1 of 3 left.
    let both = rls
        .call(request("edge", &[&[("user", "alice")], login], 2))
        .unwrap();
    assert!(ok(&both));
    assert_eq!(both.statuses[0].limit_remaining, 1);
    assert_eq!(both.statuses[1].limit_remaining, 0);
    // Login refuses: nothing is taken from alice either.
    let refused = rls.ask(&[&[("user", "alice")], login]);
    assert!(!ok(&refused));
    assert_eq!(refused.statuses[0].code, Code::Ok as i32);
    assert_eq!(refused.statuses[1].code, Code::OverLimit as i32);
    let alone = rls.ask(&[&[("user", "alice")]]);
    assert!(ok(&alone));
    assert_eq!(
        alone.statuses[0].limit_remaining, 0,
        "alice's last token was still there"
    );

    // A descriptor's own hits_addend wins over the request's.
    let mut own = request("edge", &[&[("user", "carol")]], 1);
    own.descriptors[0].hits_addend = Some(UInt64Value { value: 3 });
    assert_eq!(rls.call(own).unwrap().statuses[0].limit_remaining, 0);
}

#[test]
fn shadow_mode_counts_but_never_refuses() {
    let mut rls = Rls::start("rls-shadow", &[]);
    for _ in 0..3 {
        let response = rls.ask(&[&[("plan", "trial")]]);
        assert!(ok(&response));
        assert_eq!(response.statuses[0].code, Code::Ok as i32);
    }
    let metric =
        r#"limiter_rls_descriptors_total{descriptor="edge.plan_trial",outcome="shadow_limited"}"#;
    assert_eq!(rls.node.metric(metric), 2.0);
    let ok_calls = r#"limiter_rls_requests_total{outcome="ok"}"#;
    assert_eq!(rls.node.metric(ok_calls), 3.0);
    // detailed_metric: counted under the request's value.
    rls.ask(&[&[("tenant", "acme")]]);
    let detailed = r#"limiter_rls_descriptors_total{descriptor="edge.tenant_acme",outcome="ok"}"#;
    assert_eq!(rls.node.metric(detailed), 1.0);
}

#[test]
fn malformed_requests_are_invalid_argument_naming_the_field() {
    let mut rls = Rls::start("rls-invalid", &[]);
    let too_long = "x".repeat(513);
    let cases: Vec<(RateLimitRequest, &str)> = vec![
        (request("", &[&[("user", "a")]], 0), "domain: "),
        (request("edge", &[], 0), "descriptors: "),
        (
            request("edge", &[&[("user", "a")], &[]], 0),
            "descriptors[1].entries: ",
        ),
        (
            request("edge", &[&[("user", "a"), ("", "b")]], 0),
            "descriptors[0].entries[1].key: ",
        ),
        (
            request("edge", &[&[("user", &too_long)]], 0),
            "descriptors[0].entries[0].value: ",
        ),
        (
            request("edge", &vec![&[("user", "a")][..]; 65], 0),
            "descriptors: more than 64",
        ),
    ];
    for (request, field) in cases {
        let status = rls.call(request).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().starts_with(field), "{}", status.message());
    }
    let mut huge = request("edge", &[&[("user", "a")]], 0);
    huge.descriptors[0].hits_addend = Some(UInt64Value {
        value: u64::from(u32::MAX) + 1,
    });
    let status = rls.call(huge).unwrap_err();
    assert!(status.message().starts_with("descriptors[0].hits_addend"));
    assert_eq!(
        rls.node
            .metric(r#"limiter_rls_requests_total{outcome="invalid_argument"}"#),
        7.0
    );
    // Nothing was taken by any of them.
    assert_eq!(rls.ask(&[&[("user", "a")]]).statuses[0].limit_remaining, 2);
}

#[test]
fn with_a_decision_token_only_callers_sending_it_are_answered() {
    const TOKEN: &str = "rls-decision-token-0123";
    let mut rls = Rls::start("rls-token", &["--decision-token", TOKEN]);
    let user = || request("edge", &[&[("user", "a")]], 0);
    let status = rls.call(user()).unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("x-limiter-token"));
    let wrong = rls.call_with(user(), ("x-limiter-token", "not-the-token-at-all"));
    assert_eq!(wrong.unwrap_err().code(), tonic::Code::Unauthenticated);
    let answered = rls.call_with(user(), ("x-limiter-token", TOKEN)).unwrap();
    assert_eq!(answered.statuses[0].limit_remaining, 2);
    let bearer = format!("bearer {TOKEN}");
    let answered = rls.call_with(user(), ("authorization", &bearer)).unwrap();
    assert_eq!(answered.statuses[0].limit_remaining, 1);
    let refused = r#"limiter_rls_requests_total{outcome="unauthenticated"}"#;
    assert_eq!(rls.node.metric(refused), 2.0);
}

#[test]
fn descriptor_buckets_are_in_the_admin_api() {
    let token = "an-admin-token-of-enough-length";
    let data = helpers::temp_dir("rls-admin-data");
    let flags = ["--admin-token", token, "--data-dir", data.to_str().unwrap()];
    let mut rls = Rls::start("rls-admin", &flags);
    rls.ask(&[&[("user", "a b%")]]);
    // The key, escaped in the bucket and then in the URL.
    let key = "@rls edge user=a%20b%25";
    let url_key = key.replace('%', "%25").replace(' ', "%20");
    let reply = rls.node.send(
        "GET",
        &format!("/v1/admin/buckets/{url_key}"),
        Some(token),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let bucket = reply.json();
    assert_eq!(bucket["rule"], "edge.user");
    assert_eq!(bucket["tokens"], 2, "{bucket}");
}

#[test]
fn the_descriptor_files_reload_when_they_change_and_a_bad_one_is_refused() {
    let mut rls = Rls::start("rls-reload", &[]);
    assert_eq!(rls.ask(&[&[("user", "a")]]).statuses[0].limit_remaining, 2);
    let file = rls.dir.join("edge.yaml");
    std::fs::write(
        &file,
        CONFIG.replace("requests_per_unit: 3", "requests_per_unit: 30"),
    )
    .unwrap();
    helpers::eventually(
        Duration::from_secs(10),
        "the changed descriptor file in effect",
        || {
            let response = rls.ask(&[&[("user", "b")]]);
            response.statuses[0]
                .current_limit
                .as_ref()
                .unwrap()
                .requests_per_unit
                == 30
        },
    );
    std::fs::write(
        &file,
        "domain: edge\ndescriptors: [{key: user, rate_limit: {unit: fortnight}}]",
    )
    .unwrap();
    helpers::eventually(
        Duration::from_secs(10),
        "the bad descriptor file refused",
        || {
            rls.node
                .metric(r#"limiter_rls_config_reloads_total{outcome="refused"}"#)
                == 1.0
        },
    );
    let response = rls.ask(&[&[("user", "c")]]);
    assert_eq!(
        response.statuses[0]
            .current_limit
            .as_ref()
            .unwrap()
            .requests_per_unit,
        30
    );
}

#[test]
fn fixed_windows_count_down_and_reset_at_the_window_end_like_upstream() {
    let mut rls = Rls::start("rls-fixed-window", &["--rls-algorithm", "fixed-window"]);
    // The node's clock stands at 1_700_000_000 s: 20 s into its minute, 40 s to go.
    for round in 0..2 {
        for remaining in [2, 1, 0] {
            let response = rls.ask(&[&[("user", "alice")]]);
            assert!(ok(&response), "round {round}");
            let status = &response.statuses[0];
            assert_eq!(status.limit_remaining, remaining);
            let reset = status.duration_until_reset.unwrap();
            assert_eq!((reset.seconds, reset.nanos), (40, 0));
        }
        // count + hits > requests_per_unit: over, until the window's end.
        let refused = rls.ask(&[&[("user", "alice")]]);
        assert_eq!(refused.overall_code, Code::OverLimit as i32);
        assert_eq!(refused.statuses[0].limit_remaining, 0);
        assert_eq!(
            refused.statuses[0].duration_until_reset.unwrap().seconds,
            40
        );
        assert_eq!(refused.response_headers_to_add[0].value, "40");
        // Nothing comes back within the window, all of it at the next.
        rls.node.clock.advance(Duration::from_secs(39));
        assert!(!ok(&rls.ask(&[&[("user", "alice")]])));
        rls.node.clock.advance(Duration::from_secs(21));
    }
    // A request of more hits than remain is refused (count + hits > limit, as
    // upstream decides) and, unlike upstream's counter, takes nothing.
    assert!(!ok(&rls
        .call(request("edge", &[&[("user", "bob")]], 4))
        .unwrap()));
    assert!(ok(&rls
        .call(request("edge", &[&[("user", "bob")]], 3))
        .unwrap()));
}

//! The suite's own harness: the vendored upstream files, the binary serving
//! the rate-limit service from them, a gRPC client, and the settings that
//! make a node behave as envoyproxy/ratelimit (named once, here).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{Code, DescriptorStatus};
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};

use crate::helpers::{temp_dir, NodeProcess};

/// A descriptor's entries (key, value), as a table writes them.
pub type Entries = &'static [(&'static str, &'static str)];

/// Fixed windows, as envoyproxy/ratelimit counts (branch `windows`).
pub const FIXED_WINDOW: &[&str] = &["--rls-algorithm", "fixed-window"];
/// Sets the node's clock at start (branch `windows`); it runs on from there.
pub const CLOCK_START: &str = "--clock-start";
/// A whole day, hour and minute: every window of a node started there
/// begins with it, so a test that takes less than a minute never straddles one.
pub const WINDOW_START: &str = "2030-01-01T00:00:00Z";
/// One domain from several files, as upstream merges them (branch `rlsconfig`).
pub const MERGE_DOMAINS: &str = "--rls-merge-domains";
/// Answers carry dynamic metadata (upstream's `RESPONSE_DYNAMIC_METADATA`).
pub const RESPONSE_METADATA: &str = "--rls-response-metadata";
/// Every descriptor's hits counted, over the limit or not: upstream's
/// default, `STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT=false` (branch `upcount`).
pub const COUNT_OVER_LIMIT: &str = "--rls-count-over-limit";

/// The flags of a node counting in fixed windows from a window's start.
pub fn fixed_window_flags() -> Vec<&'static str> {
    let mut flags = FIXED_WINDOW.to_vec();
    flags.extend([CLOCK_START, WINDOW_START]);
    flags
}

/// The flags of a node set as upstream's integration-test stack sets its
/// service: fixed windows from a window's start, every descriptor's hits
/// counted over the limit too (upstream's default), and dynamic metadata in
/// the answers (`RESPONSE_DYNAMIC_METADATA=true` in its compose file: what
/// routes the multi-service token quota to the service with quota left).
pub fn upstream_default_flags() -> Vec<&'static str> {
    let mut flags = fixed_window_flags();
    flags.extend([COUNT_OVER_LIMIT, RESPONSE_METADATA]);
    flags
}

/// A file or directory of the vendored upstream tree.
pub fn upstream(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/envoyproxy-ratelimit")
        .join(path)
}

/// A directory holding copies of these upstream files (a directory of
/// several, as upstream's runtime directory holds them).
pub fn config_dir(name: &str, files: &[&str]) -> PathBuf {
    let dir = temp_dir(name);
    for file in files {
        let from = upstream(file);
        let to = dir.join(from.file_name().unwrap());
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    dir
}

/// The real binary serving the rate-limit service, and a client of it. The
/// client goes first when dropped, so the node finds no connection open.
pub struct Rls {
    client: RateLimitServiceClient<tonic::transport::Channel>,
    runtime: tokio::runtime::Runtime,
    pub node: NodeProcess,
    /// What the failure messages name: the upstream file replayed.
    pub source: String,
}

impl Rls {
    /// The binary with `--rls-config config` and `extra` flags.
    pub fn start(source: &str, config: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["--grpc-listen", "127.0.0.1:0"];
        args.extend(["--rls-config", config.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let node = NodeProcess::start(&args);
        node.wait_ready(Duration::from_secs(20));
        let grpc = node.grpc.expect("the node logs its gRPC address");
        let (runtime, client) = crate::helpers::rls::client(grpc);
        Self {
            client,
            runtime,
            node,
            source: source.to_string(),
        }
    }

    /// One call; a gRPC error fails the test naming the upstream source and `step`.
    pub fn call(&self, step: &str, request: RateLimitRequest) -> RateLimitResponse {
        let mut client = self.client.clone();
        self.runtime
            .block_on(client.should_rate_limit(request))
            .map(|r| r.into_inner())
            .unwrap_or_else(|e| panic!("{} {step}: gRPC error {e:?}", self.source))
    }

    /// One descriptor of `entries` in `domain`, `hits` at once (0: Envoy's default, 1).
    pub fn one(&self, step: &str, domain: &str, entries: &[(&str, &str)], hits: u32) -> Status {
        let response = self.call(step, request(domain, &[entries], hits));
        Status::of(&response.statuses[0])
    }

    /// A descriptor series' count on /metrics (`limiter_rls_descriptors_total`).
    pub fn counted(&self, descriptor: &str, outcome: &str) -> f64 {
        let series = format!(
            r#"limiter_rls_descriptors_total{{descriptor="{descriptor}",outcome="{outcome}"}}"#
        );
        self.node.metric(&series)
    }
}

/// A request as Envoy sends it.
pub fn request(domain: &str, descriptors: &[&[(&str, &str)]], hits: u32) -> RateLimitRequest {
    let descriptor = |entries: &&[(&str, &str)]| RateLimitDescriptor {
        entries: entries
            .iter()
            .map(|(key, value)| Entry {
                key: key.to_string(),
                value: value.to_string(),
            })
            .collect(),
        ..Default::default()
    };
    RateLimitRequest {
        domain: domain.into(),
        descriptors: descriptors.iter().map(descriptor).collect(),
        hits_addend: hits,
    }
}

/// What a test compares of one descriptor's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    /// `current_limit`: requests per unit, unit (Envoy's enum), name.
    pub limit: Option<(u32, i32, String)>,
    pub remaining: u32,
    /// `duration_until_reset`, in whole seconds.
    pub reset: Option<i64>,
}

impl Status {
    pub fn of(status: &DescriptorStatus) -> Self {
        Self {
            code: Code::try_from(status.code).unwrap_or(Code::Unknown),
            limit: status
                .current_limit
                .as_ref()
                .map(|l| (l.requests_per_unit, l.unit, l.name.clone())),
            remaining: status.limit_remaining,
            reset: status.duration_until_reset.map(|d| d.seconds),
        }
    }

    /// Requests per unit and unit of `current_limit`, if any.
    pub fn limit(&self) -> Option<(u32, i32)> {
        self.limit.as_ref().map(|(rpu, unit, _)| (*rpu, *unit))
    }
}

/// Starts the binary with `config` and expects it to refuse to start; returns
/// what it wrote. Bounded: a node that starts after all is killed and fails the test.
pub fn refused_at_start(source: &str, config: &Path, extra: &[&str]) -> String {
    let dir = temp_dir("rls-refused");
    let log = dir.join("node.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = NodeProcess::command()
        .args(["--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
        .arg("--rls-config")
        .arg(config)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{source}: the node started with {}", config.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!status.success(), "{source}: exit {status} with\n{text}");
    text
}

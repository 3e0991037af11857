//! Configuration files reloaded as they change on disk, on the real binary,
//! laid out as Kubernetes mounts a ConfigMap (`name -> ..data/name`,
//! `..data -> ..TIMESTAMP`, updated by swapping `..data`): the rules, the
//! gateway and the descriptor files each take effect within seconds, an
//! invalid one is refused and counted while what is in effect stays, and an
//! update that leaves a file's content as it was is counted as unchanged.

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::time::Duration;

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest;

use crate::helpers::echo::Echo;
use crate::helpers::{self, eventually, temp_dir, NodeProcess};

/// A directory as the kubelet keeps a mounted ConfigMap.
pub struct ConfigMap {
    pub dir: PathBuf,
    version: u32,
}

impl ConfigMap {
    /// A ConfigMap holding `files` (name, text).
    pub fn new(name: &str, files: &[(&str, &str)]) -> Self {
        let mut map = Self {
            dir: temp_dir(name),
            version: 0,
        };
        map.update(files);
        map
    }

    /// The path a pod reads `name` at.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }

    /// What the kubelet does on an update: the files in a new timestamped
    /// directory, a `..data_tmp` link to it renamed over `..data` (atomic),
    /// then the old directory removed.
    pub fn update(&mut self, files: &[(&str, &str)]) {
        let old = format!("..2026_12_05_10_00_00.{}", self.version);
        self.version += 1;
        let new = format!("..2026_12_05_10_00_00.{}", self.version);
        std::fs::create_dir(self.dir.join(&new)).unwrap();
        for (name, text) in files {
            std::fs::write(self.dir.join(&new).join(name), text).unwrap();
        }
        symlink(&new, self.dir.join("..data_tmp")).unwrap();
        std::fs::rename(self.dir.join("..data_tmp"), self.dir.join("..data")).unwrap();
        for (name, _) in files {
            let link = self.dir.join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                symlink(format!("..data/{name}"), link).unwrap();
            }
        }
        let _ = std::fs::remove_dir_all(self.dir.join(old));
    }
}

/// The series of `limiter_config_reloads_total` for `file` and `outcome`.
pub fn reloads(node: &NodeProcess, file: &str, outcome: &str) -> f64 {
    node.metric(&format!(
        "limiter_config_reloads_total{{file=\"{file}\",outcome=\"{outcome}\"}}"
    ))
}

/// Polls files often, so a test waits a fraction of a second per change.
pub const POLL: [&str; 2] = ["--config-poll-ms", "200"];

pub const RULES: &str =
    "[[rules]]\nname = \"per-user\"\nkey = \"user\"\ncapacity = CAP\nrefill_per_sec = 1\n";

/// The limit `POST /v1/check` reports for a fresh user.
fn limit_for_new_user(node: &NodeProcess, user: &str) -> u64 {
    let body = format!(r#"{{"user":"{user}"}}"#);
    let reply = node.send("POST", "/v1/check", None, Some(&body));
    reply.json()["limit"].as_u64().unwrap()
}

#[test]
fn a_configmap_update_of_the_rules_file_changes_the_limit_and_a_bad_one_is_refused() {
    let rules = |cap: &str| RULES.replace("CAP", cap);
    let mut map = ConfigMap::new("live-rules", &[("rules.toml", &rules("3"))]);
    let path = map.path("rules.toml");
    let node = NodeProcess::start(&[&["--rules", &path][..], &POLL].concat());
    assert_eq!(limit_for_new_user(&node, "a"), 3);

    map.update(&[("rules.toml", &rules("7"))]);
    eventually(Duration::from_secs(10), "the new limit in effect", || {
        limit_for_new_user(&node, "b") == 7
    });
    assert_eq!(reloads(&node, "rules", "applied"), 1.0);

    // Another key of the ConfigMap changed: every file is in a new
    // directory, this one with the same text. Nothing is reloaded.
    map.update(&[("rules.toml", &rules("7")), ("other.toml", "x = 1")]);
    eventually(
        Duration::from_secs(10),
        "the update seen as unchanged",
        || reloads(&node, "rules", "unchanged") == 1.0,
    );
    assert_eq!(reloads(&node, "rules", "applied"), 1.0);

    map.update(&[("rules.toml", &rules("0"))]);
    eventually(
        Duration::from_secs(10),
        "the bad rules file refused",
        || reloads(&node, "rules", "refused") == 1.0,
    );
    assert_eq!(limit_for_new_user(&node, "c"), 7, "the old rules stay");
    let refused = node.logged("refused the reloaded rules file");
    assert!(
        refused
            .iter()
            .any(|l| l.contains(&path) && l.contains("capacity")),
        "the log names the file and the problem: {refused:?}"
    );
    // The older per-file counter still counts.
    assert_eq!(
        node.metric("limiter_rules_reloads_total{outcome=\"refused\"}"),
        1.0
    );

    // Fixed again: applied, and SIGHUP still reloads it too.
    map.update(&[("rules.toml", &rules("9"))]);
    eventually(Duration::from_secs(10), "the fixed file applied", || {
        limit_for_new_user(&node, "d") == 9
    });
    node.signal("HUP");
    eventually(Duration::from_secs(10), "a reload on SIGHUP", || {
        reloads(&node, "rules", "applied") == 3.0
    });
}

fn route(name: &str, prefix: &str, echo: &Echo) -> String {
    format!(
        "[[routes]]\nname = \"{name}\"\nprefix = \"{prefix}\"\nupstreams = [\"http://{}\"]\n",
        echo.addr
    )
}

#[test]
fn a_configmap_update_of_the_gateway_file_changes_routes_and_a_bad_one_is_refused() {
    let echo = Echo::start();
    let identity = "[identity]\nmethods = [\"ip\"]\n";
    let one = format!("{identity}{}", route("a", "/a", &echo));
    let mut map = ConfigMap::new("live-gateway", &[("gateway.toml", &one)]);
    let node = NodeProcess::start(&[&["--gateway", &map.path("gateway.toml")][..], &POLL].concat());
    node.wait_ready(Duration::from_secs(10));
    assert_eq!(node.get("/a/x").status, 200);
    assert_eq!(node.get("/b/x").status, 404);

    let two = format!("{one}{}", route("b", "/b", &echo));
    map.update(&[("gateway.toml", &two)]);
    eventually(Duration::from_secs(10), "the new route in effect", || {
        node.get("/b/x").status == 200
    });
    assert_eq!(reloads(&node, "gateway", "applied"), 1.0);

    map.update(&[("gateway.toml", "[[routes]]\nname = \"broken\"\n")]);
    eventually(
        Duration::from_secs(10),
        "the bad gateway file refused",
        || reloads(&node, "gateway", "refused") == 1.0,
    );
    assert_eq!(node.get("/b/x").status, 200, "both routes stay");
    assert_eq!(node.get("/a/x").status, 200);
}

const DESCRIPTORS: &str =
    "domain: edge\ndescriptors:\n  - key: user\n    rate_limit: {unit: minute, requests_per_unit: N}\n";

/// The `requests_per_unit` the rate-limit service reports for a fresh `user`.
fn rls_limit(runtime: &tokio::runtime::Runtime, grpc: std::net::SocketAddr, user: &str) -> u32 {
    let request = RateLimitRequest {
        domain: "edge".into(),
        descriptors: vec![RateLimitDescriptor {
            entries: vec![Entry {
                key: "user".into(),
                value: user.into(),
            }],
            ..Default::default()
        }],
        hits_addend: 1,
    };
    runtime.block_on(async {
        let mut client = RateLimitServiceClient::connect(format!("http://{grpc}"))
            .await
            .unwrap();
        let response = client.should_rate_limit(request).await.unwrap();
        let status = &response.into_inner().statuses[0];
        status.current_limit.as_ref().unwrap().requests_per_unit
    })
}

#[test]
fn a_configmap_update_of_the_descriptor_directory_is_reloaded_and_a_bad_one_refused() {
    let text = |n: &str| DESCRIPTORS.replace('N', n);
    let mut map = ConfigMap::new("live-rls", &[("edge.yaml", &text("3"))]);
    // The mounted directory itself: its `..data` and `..TIMESTAMP` entries are not read.
    let dir = map.dir.to_str().unwrap().to_owned();
    let flags = [
        &["--grpc-listen", "127.0.0.1:0", "--rls-config", &dir][..],
        &POLL,
    ]
    .concat();
    let node = NodeProcess::start(&flags);
    let grpc = node.grpc.expect("the node logs its gRPC address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(rls_limit(&runtime, grpc, "a"), 3);

    map.update(&[("edge.yaml", &text("30"))]);
    eventually(Duration::from_secs(10), "the new limit in effect", || {
        rls_limit(&runtime, grpc, "b") == 30
    });
    assert_eq!(reloads(&node, "rls", "applied"), 1.0);

    map.update(&[(
        "edge.yaml",
        "domain: edge\ndescriptors: [{key: user, rate_limit: {unit: fortnight}}]",
    )]);
    eventually(Duration::from_secs(10), "the bad file refused", || {
        reloads(&node, "rls", "refused") == 1.0
    });
    assert_eq!(rls_limit(&runtime, grpc, "c"), 30, "the old limits stay");
    assert!(
        !node.logged("fortnight").is_empty(),
        "the log names the problem"
    );
    assert_eq!(
        helpers::metric(
            &node.get("/metrics").body,
            "limiter_rls_config_reloads_total{outcome=\"refused\"}"
        ),
        1.0
    );
}

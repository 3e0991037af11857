//! The shipped alerts and dashboard against real programs: promtool checks
//! and unit-tests deploy/prometheus/rules.yml, and a real Prometheus loaded
//! with those rules scrapes three real nodes on a real broker: every
//! expression of deploy/grafana/crdt-limiter.json returns data, bad records
//! fire the decode alert, and a frozen broker fires the Kafka and partition
//! alerts, which clear once it is thawed.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_client::RateLimitServiceClient;
use envoy_types::pb::envoy::service::ratelimit::v3::RateLimitRequest;
use serde_json::Value;

use crate::helpers::cluster::{node, produce_raw, topic, OwnBroker};
use crate::helpers::prometheus::Prometheus;
use crate::helpers::{tools, NodeProcess};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const RULES: &str = "deploy/prometheus/rules.yml";
const RULES_TEST: &str = "deploy/prometheus/rules_test.yml";
const DASHBOARD: &str = "deploy/grafana/crdt-limiter.json";
/// Counted only when the broker refuses the node's TLS or SASL, or refuses
/// its records: the test broker does neither.
const ONLY_ON_FAULTS: [&str; 2] = [
    "limiter_kafka_errors_total",
    "limiter_sync_publish_failures_total",
];
/// Alerts a healthy cluster never fires, besides the outage's.
const HEALTHY_QUIET: [&str; 5] = [
    "LimiterKafkaRefused",
    "LimiterBootstrapStuck",
    "LimiterSyncPublishGivingUp",
    "LimiterEvictingUnderPressure",
    "LimiterBucketsNearCap",
];
/// How long Prometheus gets for each step (scrape, evaluate, alert): seconds
/// at 1 s intervals, so this only bounds a test that is failing.
const PATIENCE: Duration = Duration::from_secs(30);

fn promtool(args: &[&str]) {
    let out = Command::new(tools::path("promtool"))
        .args(args)
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_checks_the_shipped_rules() {
    promtool(&["check", "rules", RULES]);
}

#[test]
fn every_alert_fires_and_stays_quiet_in_promtools_unit_tests() {
    promtool(&["test", "rules", RULES_TEST]);
    // Each alert of rules.yml has a case in the unit tests.
    let rules = std::fs::read_to_string(Path::new(ROOT).join(RULES)).unwrap();
    let tests = std::fs::read_to_string(Path::new(ROOT).join(RULES_TEST)).unwrap();
    let untested: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .filter(|alert| !tests.contains(&format!("alertname: {alert}\n")))
        .collect();
    assert!(untested.is_empty(), "no unit test fires {untested:?}");
}

#[test]
fn every_alert_is_explained_in_the_operations_guide() {
    let rules = std::fs::read_to_string(Path::new(ROOT).join(RULES)).unwrap();
    let guide = std::fs::read_to_string(Path::new(ROOT).join("docs/operations.md")).unwrap();
    let section = guide
        .split("\n## ")
        .find(|s| s.starts_with("Alerts and dashboards"))
        .expect("an Alerts and dashboards section");
    let missing: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .filter(|alert| !section.contains(&format!("| `{alert}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "no row in the alerts table: {missing:?}"
    );
}

/// The shipped rules with every `for:` cut to 2 s: production waits minutes
/// before paging, a test can watch pending turn to firing in seconds. The
/// expressions themselves are the shipped ones.
fn rules_for_the_test() -> String {
    let rules = std::fs::read_to_string(Path::new(ROOT).join(RULES)).unwrap();
    let lines: Vec<String> = rules
        .lines()
        .map(|line| match line.split_once("for: ") {
            Some((indent, _)) if indent.trim().is_empty() => format!("{indent}for: 2s"),
            _ => line.to_string(),
        })
        .collect();
    lines.join("\n")
}

/// Every PromQL expression of the dashboard, with Grafana's variables
/// replaced as Grafana would with "All" selected and a short range.
fn dashboard_exprs() -> Vec<String> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(expr)) = map.get("expr") {
                    out.push(expr.clone());
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(Path::new(ROOT).join(DASHBOARD)).unwrap();
    let mut exprs = Vec::new();
    walk(&serde_json::from_str(&text).unwrap(), &mut exprs);
    assert!(exprs.len() >= 20, "only {} expressions found", exprs.len());
    exprs
        .iter()
        .map(|e| {
            e.replace("$__rate_interval", "30s")
                .replace("$__range", "5m")
                .replace("$job", ".+")
                .replace("$instance", ".+")
        })
        .collect()
}

/// Importable as is: Grafana asks for nothing but the data source, which
/// every query takes from the dashboard's own variable.
#[test]
fn the_dashboard_takes_its_data_source_from_a_variable() {
    let text = std::fs::read_to_string(Path::new(ROOT).join(DASHBOARD)).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    assert!(dashboard.get("__inputs").is_none(), "no import-time inputs");
    assert_eq!(dashboard["uid"], "crdt-limiter");
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    let source = variables.iter().find(|v| v["type"] == "datasource");
    assert_eq!(
        source.expect("a data source variable")["query"],
        "prometheus"
    );
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "{panel}: id reused"
        );
        let grid = &panel["gridPos"];
        let right = grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap();
        assert!(
            right <= 24,
            "{}: past the grid's 24 columns",
            panel["title"]
        );
        for target in panel["targets"].as_array().into_iter().flatten() {
            for source in [&panel["datasource"], &target["datasource"]] {
                assert_eq!(source["uid"], "${datasource}", "{}", panel["title"]);
            }
        }
    }
}

/// Freezes the broker (SIGSTOP) until dropped, so a failing test thaws it too.
struct Frozen<'a>(&'a OwnBroker);

impl<'a> Frozen<'a> {
    fn new(broker: &'a OwnBroker) -> Self {
        broker.script("pause");
        Self(broker)
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        if !self.0.try_script("resume") {
            eprintln!("could not resume the broker on port {}", self.0.port);
        }
    }
}

/// Polls until `condition` returns `None`; otherwise panics with its last
/// `Some(what is missing)` after [`PATIENCE`].
#[track_caller]
fn until(what: &str, mut condition: impl FnMut() -> Option<String>) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match condition() {
            None => return,
            Some(missing) if Instant::now() > deadline => {
                panic!("{what}: not within {PATIENCE:?}; {missing}")
            }
            Some(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Which of `alerts` is not firing on each of `instances` (`want`), or is
/// firing on any (`!want`).
fn alerts_differ(
    prometheus: &Prometheus,
    alerts: &[&str],
    instances: &[String],
    want: bool,
) -> Option<String> {
    let firing: BTreeSet<(String, String)> = prometheus.firing().into_iter().collect();
    let wrong: Vec<String> = alerts
        .iter()
        .flat_map(|a| instances.iter().map(move |i| (a.to_string(), i.clone())))
        .filter(|pair| firing.contains(pair) != want)
        .map(|(a, i)| format!("{a} on {i}"))
        .collect();
    let verb = if want { "not firing" } else { "firing" };
    (!wrong.is_empty()).then(|| format!("{verb}: {wrong:?} (firing: {firing:?})"))
}

/// Requests that leave a mark on every panel: allowed and refused decisions
/// on each node, a 400, and one call to each node's rate-limit service.
fn drive_traffic(nodes: &[NodeProcess]) {
    for round in 0..4 {
        for (i, node) in nodes.iter().enumerate() {
            for user in 0..4 {
                // Capacity 5, nothing refills: a user's 6th request is refused.
                node.protected(&format!("user-{i}-{user}"));
                node.protected(&format!("user-{i}-{user}"));
            }
        }
        if round < 3 {
            std::thread::sleep(Duration::from_millis(700));
        }
    }
    let bad = nodes[0].send("POST", "/protected", None, None);
    assert_eq!(bad.status, 400, "{bad:?}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for node in nodes {
        let grpc = node.grpc.expect("the node logs its gRPC address");
        let request = RateLimitRequest {
            domain: "edge".into(),
            descriptors: vec![RateLimitDescriptor {
                entries: vec![Entry {
                    key: "user".into(),
                    value: "alice".into(),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        runtime.block_on(async {
            let mut client = RateLimitServiceClient::connect(format!("http://{grpc}"))
                .await
                .unwrap();
            client.should_rate_limit(request).await.unwrap();
        });
    }
}

fn start_nodes(broker: &OwnBroker, state_topic: &str) -> Vec<NodeProcess> {
    let rls = Path::new(ROOT).join("examples/proxies/ratelimit.yaml");
    let flags = [
        "--grpc-listen",
        "127.0.0.1:0",
        "--rls-config",
        rls.to_str().unwrap(),
    ];
    let nodes: Vec<NodeProcess> = (1..=3)
        .map(|i| node(&broker.address(), state_topic, &format!("p{i}"), &flags))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    nodes
}

/// Every dashboard expression returns data from `prometheus`.
fn every_dashboard_expression_returns_data(prometheus: &Prometheus) {
    let exprs = dashboard_exprs();
    // A fallback to 0 ("none is healthy") only where the metric appears
    // with a fault this test does not cause, lest it hide a wrong name.
    for expr in exprs.iter().filter(|e| e.contains("or vector(0)")) {
        assert!(
            ONLY_ON_FAULTS.iter().any(|m| expr.contains(m)),
            "{expr}: falls back to 0 for a metric this test can show"
        );
    }
    until("every dashboard expression returns data", || {
        let empty: Vec<&String> = exprs
            .iter()
            .filter(|e| prometheus.query(e).is_empty())
            .collect();
        (!empty.is_empty()).then(|| format!("no data: {empty:#?}"))
    });
}

#[test]
fn prometheus_graphs_the_dashboard_and_alerts_on_bad_records_and_a_frozen_broker() {
    // A broker of the test's own: freezing the shared one would stall other tests.
    let broker = OwnBroker::reserve();
    broker.script("start");
    let state_topic = topic("prometheus");
    let nodes = start_nodes(&broker, &state_topic);
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let instances: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    let prometheus = Prometheus::start(&addrs, &rules_for_the_test());

    drive_traffic(&nodes);
    // Records no node wrote, on both topics: each node skips and counts them.
    produce_raw(
        &broker.address(),
        &state_topic,
        &[(b"junk", b"\xff not a state")],
    );
    produce_raw(
        &broker.address(),
        "rate-limit-config",
        &[(b"junk", b"\xff not a change")],
    );
    until("decode errors alert", || {
        alerts_differ(&prometheus, &["LimiterDecodeErrors"], &instances, true)
    });
    let outage = ["LimiterKafkaDisconnected", "LimiterPartitioned"];
    // Not the load-dependent ones (lag, slow bootstrap) on a shared machine.
    let healthy = [&outage[..], &HEALTHY_QUIET].concat();
    if let Some(wrong) = alerts_differ(&prometheus, &healthy, &instances, false) {
        panic!("a healthy cluster alerts: {wrong}");
    }

    let frozen = Frozen::new(&broker);
    until("Kafka and partition alerts with the broker frozen", || {
        alerts_differ(&prometheus, &outage, &instances, true)
    });
    drop(frozen);
    until(
        "Kafka and partition alerts cleared with the broker thawed",
        || alerts_differ(&prometheus, &outage, &instances, false),
    );

    every_dashboard_expression_returns_data(&prometheus);
    // Prometheus first, then the nodes, then the broker: nothing is left running.
    drop(prometheus);
    drop(nodes);
}

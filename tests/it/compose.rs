//! Keeps docker-compose.yml and deploy/ honest: the nodes set only settings the
//! binary has, reach the Kafka service on its advertised listener, have their
//! own IDs, wait for the broker, and are scraped and balanced.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use serde_norway::Value;

/// A service's environment: `None` for a bare `KEY` taken from the host shell.
type Environment = BTreeMap<String, Option<String>>;

/// A limiter node of the compose file: a service that sets LIMITER_ variables.
struct Node {
    name: String,
    env: Environment,
    service: Value,
}

impl Node {
    fn var(&self, key: &str) -> Option<&str> {
        self.env.get(key).and_then(|v| v.as_deref())
    }

    /// The HTTP address inside its container: as set, or the binary's default.
    fn listen(&self) -> String {
        self.var("LIMITER_LISTEN")
            .map(str::to_owned)
            .unwrap_or_else(|| help_default("LIMITER_LISTEN"))
    }

    fn port(&self) -> u16 {
        let listen = self.listen();
        port_of(&listen).unwrap_or_else(|| panic!("{}: bad LIMITER_LISTEN {listen}", self.name))
    }
}

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn yaml(path: &str) -> Value {
    let mut value: Value =
        serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Compose resolves `<<: *anchor` merge keys; so must we, or shared settings vanish.
    value.apply_merge().unwrap();
    value
}

fn services() -> BTreeMap<String, Value> {
    let compose = yaml("docker-compose.yml");
    let services = compose["services"]
        .as_mapping()
        .expect("docker-compose.yml has services");
    services
        .iter()
        .map(|(name, service)| (name.as_str().unwrap().to_owned(), service.clone()))
        .collect()
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// Both forms compose accepts: a map, or a list of `KEY=VALUE` / `KEY`.
fn environment(service: &Value) -> Environment {
    match &service["environment"] {
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| (k.as_str().unwrap().to_owned(), scalar(v)))
            .collect(),
        Value::Sequence(list) => list
            .iter()
            .map(|item| {
                let item = item.as_str().expect("environment entries are strings");
                match item.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (item.to_owned(), None),
                }
            })
            .collect(),
        _ => Environment::new(),
    }
}

fn nodes() -> Vec<Node> {
    let nodes: Vec<Node> = services()
        .into_iter()
        .map(|(name, service)| Node {
            env: environment(&service),
            name,
            service,
        })
        .filter(|node| node.env.keys().any(|k| k.starts_with("LIMITER_")))
        .collect();
    assert!(
        nodes.len() >= 3,
        "a cluster needs at least 3 limiter nodes, found {:?}",
        nodes.iter().map(|n| &n.name).collect::<Vec<_>>()
    );
    nodes
}

fn image(service: &Value) -> &str {
    service["image"].as_str().unwrap_or("")
}

/// The image name without registry prefix, tag or digest.
fn image_repository(service: &Value) -> &str {
    let image = image(service);
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    image.split(['@', ':']).next().unwrap()
}

fn port_of(host_port: &str) -> Option<u16> {
    host_port.rsplit_once(':')?.1.parse().ok()
}

/// `crdt-limiter --help` of the binary under test.
fn help() -> &'static str {
    static HELP: OnceLock<String> = OnceLock::new();
    HELP.get_or_init(|| {
        let out = Command::new(env!("CARGO_BIN_EXE_crdt-limiter"))
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    })
}

/// Every `[env: LIMITER_…=` the binary documents: its real settings.
fn settings() -> BTreeSet<String> {
    let settings: BTreeSet<String> = help()
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.split(['=', ']']).next().unwrap().to_owned())
        .collect();
    // Guards the parsing: an empty set would make every check below vacuous.
    assert!(
        settings.contains("LIMITER_KAFKA_BROKERS"),
        "no settings parsed from --help:\n{}",
        help()
    );
    settings
}

/// The `[default: …]` on the help line of this setting.
fn help_default(env: &str) -> String {
    let line = help()
        .lines()
        .find(|l| l.contains(&format!("[env: {env}=")))
        .unwrap_or_else(|| panic!("{env} not in --help"));
    let rest = line.split("[default: ").nth(1).unwrap();
    rest.split(']').next().unwrap().to_owned()
}

#[test]
fn nodes_set_only_settings_the_binary_has() {
    let settings = settings();
    let unknown: Vec<String> = nodes()
        .iter()
        .flat_map(|node| {
            node.env
                .keys()
                .filter(|k| k.starts_with("LIMITER_") && !settings.contains(*k))
                .map(move |k| format!("{}: {k}", node.name))
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "not settings of crdt-limiter (see --help): {unknown:?}"
    );
}

/// Per Kafka service, the ports it advertises under its own service name: the
/// listeners a client on the compose network is sent back to after bootstrap.
fn kafka_internal_ports() -> BTreeMap<String, BTreeSet<u16>> {
    services()
        .iter()
        .filter(|(_, s)| matches!(image_repository(s), "apache/kafka" | "apache/kafka-native"))
        .map(|(name, service)| {
            let env = environment(service);
            let listeners = |key: &str| -> Vec<(String, String)> {
                env.get(key)
                    .cloned()
                    .flatten()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|l| l.trim().split_once("://"))
                    .map(|(n, a)| (n.to_owned(), a.to_owned()))
                    .collect()
            };
            let bound = listeners("KAFKA_LISTENERS");
            let ports = listeners("KAFKA_ADVERTISED_LISTENERS")
                .into_iter()
                .filter(|(_, addr)| addr.rsplit_once(':').map(|(h, _)| h) == Some(name.as_str()))
                .map(|(listener, addr)| {
                    let port = port_of(&addr).unwrap();
                    // The advertised port must be one the broker listens on:
                    // inside the network no port mapping translates it.
                    assert!(
                        bound.is_empty()
                            || bound
                                .iter()
                                .any(|(n, a)| *n == listener && port_of(a) == Some(port)),
                        "{name}: advertised {listener}://{addr} but KAFKA_LISTENERS is {bound:?}"
                    );
                    port
                })
                .collect();
            (name.clone(), ports)
        })
        .collect()
}

#[test]
fn nodes_reach_the_kafka_service_on_its_advertised_internal_listener() {
    let kafka = kafka_internal_ports();
    assert!(!kafka.is_empty(), "no service uses an apache/kafka image");
    for node in nodes() {
        let brokers = node.var("LIMITER_KAFKA_BROKERS").unwrap_or_else(|| {
            panic!(
                "{}: no LIMITER_KAFKA_BROKERS, it would run alone",
                node.name
            )
        });
        for broker in brokers.split(',') {
            let (host, port) = broker.trim().rsplit_once(':').unwrap_or((broker, ""));
            let ports = kafka.get(host).unwrap_or_else(|| {
                panic!(
                    "{}: broker {broker} is not a Kafka service: {kafka:?}",
                    node.name
                )
            });
            assert!(
                port.parse().is_ok_and(|p: u16| ports.contains(&p)),
                "{}: broker {broker}, but {host} advertises itself on {ports:?}",
                node.name
            );
        }
    }
}

#[test]
fn node_ids_are_distinct() {
    let mut seen = BTreeMap::new();
    for node in nodes() {
        let id = node
            .var("LIMITER_NODE_ID")
            .unwrap_or_else(|| panic!("{}: no LIMITER_NODE_ID", node.name));
        if let Some(other) = seen.insert(id.to_owned(), node.name.clone()) {
            panic!("{} and {other} share LIMITER_NODE_ID {id}", node.name);
        }
    }
}

#[test]
fn nodes_wait_for_a_healthy_broker() {
    let services = services();
    for node in nodes() {
        let depends = &node.service["depends_on"];
        let brokers = node.var("LIMITER_KAFKA_BROKERS").unwrap_or_default();
        for host in brokers.split(',').filter_map(|b| b.trim().rsplit_once(':')) {
            let name = host.0;
            let condition = match depends {
                Value::Sequence(list) => list
                    .iter()
                    .any(|d| d.as_str() == Some(name))
                    .then_some("service_started"),
                Value::Mapping(_) => depends
                    .get(name)
                    .map(|d| d["condition"].as_str().unwrap_or("service_started")),
                _ => None,
            };
            // Started is not enough: the JVM takes seconds to open its listeners.
            assert_eq!(
                condition,
                Some("service_healthy"),
                "{}: must depend on {name} being healthy",
                node.name
            );
            // Compose refuses `service_healthy` on a service without a healthcheck.
            let healthcheck = services.get(name).map(|s| &s["healthcheck"]["test"]);
            assert!(
                healthcheck.is_some_and(|t| !t.is_null()),
                "{name} has no healthcheck"
            );
        }
    }
}

#[test]
fn nodes_serve_on_the_port_they_publish_and_on_every_interface() {
    for node in nodes() {
        let (listen, port) = (node.listen(), node.port());
        // Loopback inside a container is unreachable from its neighbours.
        assert!(
            listen.starts_with("0.0.0.0:") || listen.starts_with("[::]:"),
            "{}: LIMITER_LISTEN {listen} is not reachable from other containers",
            node.name
        );
        for published in node.service["ports"].as_sequence().into_iter().flatten() {
            let target = match published {
                Value::Mapping(_) => published["target"].as_u64(),
                _ => scalar(published)
                    .and_then(|p| p.rsplit(':').next()?.split('/').next()?.parse().ok()),
            };
            assert_eq!(
                target,
                Some(u64::from(port)),
                "{}: publishes {published:?} but serves on {port}",
                node.name
            );
        }
    }
}

/// `host:port` of every node, as peers on the compose network reach it.
fn node_addresses() -> BTreeSet<String> {
    nodes()
        .iter()
        .map(|n| format!("{}:{}", n.name, n.port()))
        .collect()
}

#[test]
fn prometheus_scrapes_every_node() {
    let prometheus = services()
        .into_values()
        .find(|s| image_repository(s) == "prom/prometheus")
        .expect("a prom/prometheus service");
    let volumes: Vec<&str> = prometheus["volumes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mounted = volumes.iter().any(|v| {
        v.starts_with("./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml")
    });
    assert!(
        mounted,
        "prometheus does not mount deploy/prometheus/prometheus.yml"
    );

    let config = yaml("deploy/prometheus/prometheus.yml");
    // The shipped rules, where the config looks for them.
    for file in config["rule_files"].as_sequence().into_iter().flatten() {
        let file = file.as_str().unwrap();
        let wanted = format!("./deploy/prometheus/rules.yml:{file}");
        assert!(
            volumes.iter().any(|v| v.starts_with(&wanted)),
            "{file} is not deploy/prometheus/rules.yml in {volumes:?}"
        );
    }
    let mut targets = BTreeSet::new();
    for job in config["scrape_configs"].as_sequence().unwrap() {
        let path = job["metrics_path"].as_str().unwrap_or("/metrics");
        assert_eq!(path, "/metrics", "{job:?}");
        for group in job["static_configs"].as_sequence().into_iter().flatten() {
            for target in group["targets"].as_sequence().unwrap() {
                targets.insert(target.as_str().unwrap().to_owned());
            }
        }
    }
    let missing: Vec<_> = node_addresses().difference(&targets).cloned().collect();
    assert!(
        missing.is_empty(),
        "not scraped: {missing:?} (targets {targets:?})"
    );
}

#[test]
fn load_balancer_forwards_to_every_node() {
    let Some(lb) = services()
        .into_values()
        .find(|s| image_repository(s) == "nginx")
    else {
        return; // the load balancer is optional; the nodes publish their own ports
    };
    assert!(
        format!("{:?}", lb["volumes"]).contains("./deploy/nginx.conf:"),
        "nginx does not mount deploy/nginx.conf"
    );
    let upstreams: BTreeSet<String> = read("deploy/nginx.conf")
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("server "))
        .filter_map(|l| l.trim_end_matches(';').split_whitespace().next())
        .filter(|address| *address != "{") // the `server {` block itself
        .map(str::to_owned)
        .collect();
    let missing: Vec<_> = node_addresses().difference(&upstreams).cloned().collect();
    assert!(
        missing.is_empty(),
        "not upstream: {missing:?} (upstream {upstreams:?})"
    );
}

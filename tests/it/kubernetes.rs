//! deploy/kubernetes/ as a cluster would take it: each overlay rendered by
//! real kustomize (kubectl 1.37) and every object validated against the
//! schemas of Kubernetes 1.37 (kubernetes-validate, both installed by
//! `scripts/tools.sh`); the Deployment's settings and mounted files handed to
//! the real binary, which must take them, answer its probes and drain within
//! the grace period; and the proxy resources of docs/kubernetes.md checked by
//! Envoy itself where Envoy can check them (`kubernetes/proxies.rs`).

mod pod;
mod proxies;
mod render;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_norway::Value;

use crate::helpers::{tools, NodeProcess};
use pod::Pod;
use render::{str_of, Rendered, ADMIN_TOKEN, DECISION_TOKEN, OVERLAYS};

/// Custom resources: no schema of Kubernetes' own; validated against their
/// CRDs' schemas instead, and what they point at checked by a test here.
const CUSTOM_KINDS: [&str; 2] = ["ServiceMonitor", "PrometheusRule"];

#[test]
fn every_overlay_renders_and_every_object_validates_against_kubernetes_1_37() {
    for overlay in OVERLAYS {
        let rendered = Rendered::overlay(overlay);
        let out = Command::new(tools::path("kubernetes-validate"))
            .args(["--strict", "--kubernetes-version", "1.37.0"])
            .arg(&rendered.file)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{overlay}: {report}");
        for object in &rendered.objects {
            let kind = str_of(&object["kind"]);
            let name = str_of(&object["metadata"]["name"]);
            let passed = format!(
                "passed for resource {}/{name} against version 1.37",
                kind.to_lowercase()
            );
            let known = CUSTOM_KINDS.contains(&kind) && report.contains(&format!("kind {kind} "));
            assert!(
                report.contains(&passed) || known,
                "{overlay}: {kind}/{name}: {report}"
            );
        }
        let custom: Vec<&Value> = (rendered.objects.iter())
            .filter(|o| CUSTOM_KINDS.contains(&str_of(&o["kind"])))
            .collect();
        render::validate_custom_resources(overlay, &custom);
        let kinds = rendered.kinds();
        let replicated = overlay != "standalone";
        for (kind, wanted) in [
            ("Deployment", true),
            ("Service", true),
            ("ConfigMap", true),
            ("Secret", true),
            ("ServiceMonitor", true),
            ("PrometheusRule", true),
            ("PodDisruptionBudget", replicated),
            ("HorizontalPodAutoscaler", replicated),
            ("PersistentVolumeClaim", !replicated),
        ] {
            assert_eq!(
                kinds.iter().any(|k| k == kind),
                wanted,
                "{overlay}: {kind} in {kinds:?}"
            );
        }
    }
}

/// The PrometheusRule is the shipped rules file (deploy/prometheus/rules.yml,
/// which tests/it/prometheus.rs loads into a real Prometheus), not a copy
/// that drifted from it.
#[test]
fn the_prometheusrule_holds_the_shipped_rules_as_they_are() {
    let rendered = Rendered::overlay("kafka");
    let rule = rendered.get("PrometheusRule", "crdt-limiter");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus/rules.yml");
    let shipped: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(rule["spec"], shipped, "regenerate it as its header says");
}

/// `crdt-limiter --help` of the binary under test.
fn help() -> &'static str {
    static HELP: OnceLock<String> = OnceLock::new();
    HELP.get_or_init(|| {
        let out = NodeProcess::command().arg("--help").output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    })
}

/// The `LIMITER_…` variables and `--flags` the binary has.
fn settings() -> (BTreeSet<String>, BTreeSet<String>) {
    let vars: BTreeSet<String> = help()
        .split("[env: ")
        .skip(1)
        .map(|rest| rest.split(['=', ']']).next().unwrap().to_owned())
        .collect();
    let flags: BTreeSet<String> = help()
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .map(|l| format!("--{}", l.split([' ', '[', '=']).next().unwrap()))
        .collect();
    // Guards the parsing: empty sets would make the check below vacuous.
    assert!(vars.contains("LIMITER_KAFKA_SASL_PASSWORD_FILE") && flags.contains("--rls-config"));
    (vars, flags)
}

#[test]
fn every_setting_in_the_manifests_is_one_the_binary_has_and_ports_agree() {
    let (vars, flags) = settings();
    for overlay in OVERLAYS {
        let rendered = Rendered::overlay(overlay);
        let container = rendered.container();
        // Settings are variables only, so overlays merge them by name.
        assert!(
            container["args"].is_null() && container["command"].is_null(),
            "{overlay}"
        );
        for var in container["env"].as_sequence().unwrap() {
            let name = str_of(&var["name"]);
            assert!(
                vars.contains(name),
                "{overlay}: {name} is no setting of crdt-limiter --help"
            );
            let flag = format!(
                "--{}",
                name["LIMITER_".len()..].to_lowercase().replace('_', "-")
            );
            assert!(
                flags.contains(&flag),
                "{overlay}: {name} has no flag {flag}"
            );
        }
        let env = |name| {
            let var = container["env"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name);
            str_of(&var.unwrap_or_else(|| panic!("{overlay}: no {name}"))["value"]).to_owned()
        };
        for (port, var) in [("http", "LIMITER_LISTEN"), ("grpc", "LIMITER_GRPC_LISTEN")] {
            let declared = container["ports"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|p| p["name"] == port);
            let number = declared.unwrap_or_else(|| panic!("{overlay}: no port {port}"))
                ["containerPort"]
                .as_u64();
            let listen = env(var);
            assert_eq!(
                listen.rsplit_once(':').unwrap().1.parse().ok(),
                number,
                "{overlay}: {var}"
            );
        }
    }
}

#[test]
fn the_pod_runs_restricted_and_mounts_directories_never_subpaths() {
    for overlay in OVERLAYS {
        let rendered = Rendered::overlay(overlay);
        let (pod, container) = (rendered.pod(), rendered.container());
        let security = &pod["securityContext"];
        assert_eq!(security["runAsNonRoot"], true, "{overlay}");
        assert_eq!(
            security["seccompProfile"]["type"], "RuntimeDefault",
            "{overlay}"
        );
        let security = &container["securityContext"];
        assert_eq!(security["allowPrivilegeEscalation"], false, "{overlay}");
        assert_eq!(security["readOnlyRootFilesystem"], true, "{overlay}");
        assert_eq!(security["capabilities"]["drop"][0], "ALL", "{overlay}");
        assert!(security["capabilities"]["add"].is_null(), "{overlay}");
        let data_dir = container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "LIMITER_DATA_DIR");
        let data_dir = str_of(&data_dir.expect("--data-dir set")["value"]);
        for mount in container["volumeMounts"].as_sequence().unwrap() {
            let path = str_of(&mount["mountPath"]);
            // subPath mounts never see a changed ConfigMap or Secret.
            assert!(
                mount["subPath"].is_null(),
                "{overlay}: {path} is a subPath mount"
            );
            let writable = path == data_dir;
            assert_eq!(
                mount["readOnly"].as_bool().unwrap_or(false),
                !writable,
                "{overlay}: {path}"
            );
        }
        for kind in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                assert!(
                    container["resources"][kind][resource].is_string(),
                    "{overlay}: {kind}.{resource}"
                );
            }
        }
    }
}

#[test]
fn the_servicemonitor_scrapes_metrics_from_the_http_service() {
    let rendered = Rendered::overlay("kafka");
    let monitor = rendered.get("ServiceMonitor", "crdt-limiter");
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .unwrap();
    let services: Vec<&Value> = rendered
        .objects
        .iter()
        .filter(|o| o["kind"] == "Service")
        .collect();
    let selected: Vec<&&Value> = services
        .iter()
        .filter(|s| {
            selector
                .iter()
                .all(|(k, v)| &s["metadata"]["labels"][str_of(k)] == v)
        })
        .collect();
    assert_eq!(selected.len(), 1, "one Service selected: {selector:?}");
    let service = selected[0];
    assert_eq!(service["metadata"]["name"], "crdt-limiter");
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    let ports = service["spec"]["ports"].as_sequence().unwrap();
    assert!(
        ports.iter().any(|p| p["name"] == endpoint["port"]),
        "port {:?}",
        endpoint["port"]
    );
    // The pods it finds are the Deployment's.
    let pods =
        &rendered.get("Deployment", "crdt-limiter")["spec"]["template"]["metadata"]["labels"];
    for (key, value) in service["spec"]["selector"].as_mapping().unwrap() {
        assert_eq!(&pods[str_of(key)], value);
    }
}

#[test]
fn the_standalone_overlay_starts_the_binary_with_its_settings_and_files() {
    starts_answers_and_drains("standalone");
}

#[test]
fn the_kafka_overlay_starts_the_binary_with_its_settings_and_files() {
    starts_answers_and_drains("kafka");
}

#[test]
fn the_gateway_overlay_starts_the_binary_with_its_settings_and_files() {
    starts_answers_and_drains("gateway");
}

/// The rendered settings and files given to the binary (the Kafka overlays'
/// broker unreachable here: the node decides locally, as it would then).
fn starts_answers_and_drains(overlay: &'static str) {
    let rendered = Rendered::overlay(overlay);
    let root = tempfile::tempdir().unwrap();
    let pod = Pod::lay_out(&rendered, root.path());
    let env: Vec<(&str, &str)> = pod
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Loopback on free ports instead of 0.0.0.0:8000 and :8081.
    let mut node = NodeProcess::start_with_env(&["--grpc-listen", "127.0.0.1:0"], &env);
    answers_its_probes(&rendered, &node);
    reads_the_mounted_secrets(overlay, &pod, &node);
    configmap_changes_reach_the_node(&pod, &node);
    drains_within_the_grace_period(&rendered, &mut node);
}

/// The probes' paths, the ServiceMonitor's, and the gRPC port answer.
fn answers_its_probes(rendered: &Rendered, node: &NodeProcess) {
    let overlay = rendered.overlay;
    let container = rendered.container();
    let live = str_of(&container["livenessProbe"]["httpGet"]["path"]);
    assert_eq!(node.get(live).status, 200, "{overlay}: {live}");
    let ready = str_of(&container["readinessProbe"]["httpGet"]["path"]);
    // Standalone: ready at once. The Kafka overlays: not ready while the
    // state topic is unread (their broker is unreachable here), so a pod
    // takes no traffic before it knows the cluster's buckets.
    let want = if overlay == "standalone" { 200 } else { 503 };
    let readiness = node.get(ready);
    assert_eq!(readiness.status, want, "{overlay}: {ready}: {readiness:?}");
    assert_eq!(node.get("/metrics").status, 200, "{overlay}");
    assert!(
        node.grpc.is_some(),
        "{overlay}: the rate-limit service serves"
    );
}

/// The token files and the gateway's JWT secret were read from the Secrets.
fn reads_the_mounted_secrets(overlay: &str, pod: &Pod, node: &NodeProcess) {
    // The Secrets' token files were read: the admin API is on, decisions need the token.
    assert_eq!(
        node.send("GET", "/v1/admin/rules", Some(ADMIN_TOKEN), None)
            .status,
        200
    );
    assert_eq!(
        node.protected("alice").status,
        401,
        "{overlay}: no decision token"
    );
    assert_eq!(
        node.send(
            "POST",
            "/v1/check",
            Some(DECISION_TOKEN),
            Some(r#"{"user":"alice"}"#)
        )
        .status,
        200
    );
    if overlay == "gateway" {
        // The gateway file's route, its JWT secret read from the mounted Secret.
        assert_eq!(
            node.get("/api/orders").status,
            401,
            "{overlay}: a route without a JWT"
        );
    }
    if overlay != "standalone" {
        assert_eq!(pod.var("LIMITER_KAFKA_SASL_USERNAME"), Some("limiter"));
    }
}

/// A changed RLS ConfigMap, swapped into the directory mount as the kubelet
/// does, is read again by the running node (a subPath mount never changes).
fn configmap_changes_reach_the_node(pod: &Pod, node: &NodeProcess) {
    let dir = pod.mount("/etc/crdt-limiter/rls");
    let text = std::fs::read_to_string(dir.join("ratelimit.yaml")).unwrap();
    let applied = r#"limiter_rls_config_reloads_total{outcome="applied"}"#;
    let before = node.metric(applied);
    pod::swap(
        dir,
        "ratelimit.yaml",
        &format!("{text}\n# changed in the ConfigMap\n"),
    );
    crate::helpers::eventually(Duration::from_secs(10), "the swapped RLS file read", || {
        node.metric(applied) > before
    });
}

/// SIGTERM after preStop: the node must exit 0 before the kubelet's SIGKILL.
fn drains_within_the_grace_period(rendered: &Rendered, node: &mut NodeProcess) {
    let grace = rendered.pod()["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    let pre_stop = &rendered.container()["lifecycle"]["preStop"]["exec"]["command"];
    assert_eq!(pre_stop[0], "sleep");
    let pre_stop: u64 = str_of(&pre_stop[1]).parse().unwrap();
    // The code's bound: HTTP and gRPC calls drain together (rls::GRACE, the
    // HTTP server's 10 s, +1 s for the gRPC runtime), then replication stops
    // (a Kafka admin call, 5 s) and flushes pending state (5 s).
    let bound = crdt_limiter::rls::GRACE.as_secs() + 1 + 5 + 5;
    assert!(
        pre_stop + bound < grace,
        "{}: preStop {pre_stop} s + drain {bound} s",
        rendered.overlay
    );
    let started = Instant::now();
    let status = node.terminate(Duration::from_secs(grace - pre_stop));
    eprintln!(
        "{}: drained in {:?} after SIGTERM",
        rendered.overlay,
        started.elapsed()
    );
    assert!(status.success(), "{}: {status:?}", rendered.overlay);
}

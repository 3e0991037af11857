//! The proxy resources of docs/kubernetes.md (deploy/kubernetes/proxies/):
//! Envoy's configuration and the Envoy parts of Istio's EnvoyFilter pass
//! `envoy --mode validate` (Envoy 1.40); Istio's and Contour's own fields,
//! which no tool here knows, are checked for what they must name: the gRPC
//! Service and its port, the RLS ConfigMap's domain and descriptor keys.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_norway::Value;

use super::render::{documents, str_of, Rendered};
use crate::helpers::tools;

fn read(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/kubernetes/proxies")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `envoy --mode validate` on `config`.
fn envoy_validates(what: &str, config: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("envoy.yaml");
    std::fs::write(&file, serde_norway::to_string(config).unwrap()).unwrap();
    let out = Command::new(tools::path("envoy"))
        .args(["--mode", "validate", "-l", "warning", "-c"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the gRPC Service answers at: `(NAME.NAMESPACE.svc.cluster.local, port)`
/// with the namespace docs/kubernetes.md deploys into.
fn grpc_service(rendered: &Rendered) -> (String, u64) {
    let service = rendered.get("Service", "crdt-limiter-grpc");
    assert_eq!(
        service["spec"]["clusterIP"], "None",
        "headless: every pod resolved"
    );
    let port = service["spec"]["ports"][0]["port"].as_u64().unwrap();
    (
        "crdt-limiter-grpc.crdt-limiter.svc.cluster.local".into(),
        port,
    )
}

/// The RLS ConfigMap's domain and every descriptor key in it, nested ones too.
fn rls_config(rendered: &Rendered) -> (String, BTreeSet<String>) {
    let config = rendered.get("ConfigMap", "crdt-limiter-rls");
    let (_, text) = config["data"].as_mapping().unwrap().iter().next().unwrap();
    let file: Value = serde_norway::from_str(str_of(text)).unwrap();
    fn keys(descriptors: &Value, out: &mut BTreeSet<String>) {
        for d in descriptors.as_sequence().into_iter().flatten() {
            out.insert(str_of(&d["key"]).to_owned());
            keys(&d["descriptors"], out);
        }
    }
    let mut out = BTreeSet::new();
    keys(&file["descriptors"], &mut out);
    (str_of(&file["domain"]).to_owned(), out)
}

/// The descriptor keys Envoy `rate_limits` actions make.
fn action_keys(rate_limits: &Value) -> Vec<String> {
    let actions = rate_limits
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|r| r["actions"].as_sequence().unwrap());
    actions
        .map(|a| match () {
            _ if !a["request_headers"].is_null() => {
                str_of(&a["request_headers"]["descriptor_key"]).to_owned()
            }
            _ if !a["generic_key"].is_null() => "generic_key".to_owned(),
            _ if !a["remote_address"].is_null() => "remote_address".to_owned(),
            _ => panic!("an action this test does not know: {a:?}"),
        })
        .collect()
}

fn filter_and_cluster(config: &Value) -> (&Value, &Value) {
    let hcm = &config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"];
    let filter = &hcm["http_filters"][0];
    let clusters = config["static_resources"]["clusters"]
        .as_sequence()
        .unwrap();
    let cluster = clusters
        .iter()
        .find(|c| c["name"] == "crdt-limiter")
        .expect("a crdt-limiter cluster");
    (filter, cluster)
}

/// The filter asks the cluster, the cluster resolves the gRPC Service, the
/// domain is the RLS ConfigMap's.
fn asks_the_grpc_service(what: &str, filter: &Value, cluster: &Value, rendered: &Rendered) {
    let config = &filter["typed_config"];
    assert_eq!(filter["name"], "envoy.filters.http.ratelimit", "{what}");
    assert_eq!(
        config["rate_limit_service"]["grpc_service"]["envoy_grpc"]["cluster_name"], cluster["name"],
        "{what}"
    );
    assert_eq!(
        cluster["type"], "STRICT_DNS",
        "{what}: every pod, not one connection's"
    );
    let socket = &cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        ["address"]["socket_address"];
    let (host, port) = grpc_service(rendered);
    assert_eq!(
        (str_of(&socket["address"]), socket["port_value"].as_u64()),
        (host.as_str(), Some(port)),
        "{what}"
    );
    let metadata = &config["rate_limit_service"]["grpc_service"]["initial_metadata"][0];
    assert_eq!(
        metadata["key"], "x-limiter-token",
        "{what}: the decision token is sent"
    );
    assert_eq!(
        str_of(&config["domain"]),
        rls_config(rendered).0,
        "{what}: the RLS ConfigMap's domain"
    );
}

#[test]
fn the_envoy_configuration_validates_and_asks_the_grpc_service_for_configured_descriptors() {
    let rendered = Rendered::overlay("kafka");
    let config: Value = serde_norway::from_str(&read("envoy.yaml")).unwrap();
    envoy_validates("envoy.yaml", &config);
    let (filter, cluster) = filter_and_cluster(&config);
    asks_the_grpc_service("envoy.yaml", filter, cluster, &rendered);
    let hcm = &config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"];
    let keys = rls_config(&rendered).1;
    for route in hcm["route_config"]["virtual_hosts"][0]["routes"]
        .as_sequence()
        .unwrap()
    {
        if !route["route"]["rate_limits"].is_null() {
            for key in action_keys(&route["route"]["rate_limits"]) {
                assert!(
                    keys.contains(&key),
                    "envoy.yaml: descriptor {key} is not in the RLS ConfigMap {keys:?}"
                );
            }
        }
    }
}

#[test]
fn the_istio_envoyfilters_envoy_parts_validate_in_envoy_and_ask_the_grpc_service() {
    let rendered = Rendered::overlay("kafka");
    let filter = &documents(&read("istio.yaml"))[0];
    assert_eq!(
        (&filter["apiVersion"], &filter["kind"]),
        (
            &"networking.istio.io/v1alpha3".into(),
            &"EnvoyFilter".into()
        )
    );
    super::render::validate_custom_resources("istio.yaml", &[filter]);
    let patches = filter["spec"]["configPatches"].as_sequence().unwrap();
    let patch = |applies_to: &str| {
        let found = patches.iter().find(|p| p["applyTo"] == applies_to);
        &found.unwrap_or_else(|| panic!("no {applies_to} patch"))["patch"]
    };
    assert_eq!(patch("HTTP_FILTER")["operation"], "INSERT_BEFORE");
    assert_eq!(patch("CLUSTER")["operation"], "ADD");
    // The patches put into the Envoy configuration above, as Istio would.
    let mut config: Value = serde_norway::from_str(&read("envoy.yaml")).unwrap();
    let hcm = &mut config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        ["typed_config"];
    hcm["http_filters"][0] = patch("HTTP_FILTER")["value"].clone();
    let rate_limits = patch("VIRTUAL_HOST")["value"]["rate_limits"].clone();
    hcm["route_config"]["virtual_hosts"][0]["rate_limits"] = rate_limits.clone();
    let clusters = config["static_resources"]["clusters"]
        .as_sequence_mut()
        .unwrap();
    clusters.retain(|c| c["name"] != "crdt-limiter");
    clusters.push(patch("CLUSTER")["value"].clone());
    envoy_validates("istio.yaml's patches", &config);
    let (filter, cluster) = filter_and_cluster(&config);
    asks_the_grpc_service("istio.yaml", filter, cluster, &rendered);
    let keys = rls_config(&rendered).1;
    for key in action_keys(&rate_limits) {
        assert!(
            keys.contains(&key),
            "istio.yaml: descriptor {key} is not in the RLS ConfigMap {keys:?}"
        );
    }
}

#[test]
fn contour_asks_the_grpc_service_for_descriptors_the_rls_config_has() {
    let rendered = Rendered::overlay("kafka");
    let objects = documents(&read("contour.yaml"));
    let find = |kind: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let extension = find("ExtensionService");
    assert_eq!(extension["apiVersion"], "projectcontour.io/v1alpha1");
    assert_eq!(
        extension["spec"]["protocol"], "h2c",
        "the node's gRPC is plaintext HTTP/2"
    );
    let service = &extension["spec"]["services"][0];
    assert_eq!(service["name"], "crdt-limiter-grpc");
    assert_eq!(service["port"].as_u64(), Some(grpc_service(&rendered).1));
    assert_eq!(extension["metadata"]["namespace"], "crdt-limiter");
    let proxy = find("HTTPProxy");
    assert_eq!(proxy["apiVersion"], "projectcontour.io/v1");
    let mut policies = vec![&proxy["spec"]["virtualhost"]["rateLimitPolicy"]];
    policies.extend(
        proxy["spec"]["routes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|r| &r["rateLimitPolicy"]),
    );
    let keys = rls_config(&rendered).1;
    let entries = policies
        .iter()
        .flat_map(|p| {
            p["global"]["descriptors"]
                .as_sequence()
                .into_iter()
                .flatten()
        })
        .flat_map(|d| d["entries"].as_sequence().unwrap());
    let mut seen = 0;
    for entry in entries {
        let key = match () {
            _ if !entry["requestHeader"].is_null() => {
                str_of(&entry["requestHeader"]["descriptorKey"])
            }
            _ if !entry["genericKey"].is_null() => "generic_key",
            _ if !entry["remoteAddress"].is_null() => "remote_address",
            _ => panic!("an entry this test does not know: {entry:?}"),
        };
        assert!(
            keys.contains(key),
            "contour.yaml: descriptor {key} is not in the RLS ConfigMap {keys:?}"
        );
        seen += 1;
    }
    assert!(seen >= 3, "contour.yaml: descriptors found: {seen}");
}

#[test]
fn the_kubernetes_page_shows_the_proxy_resources_as_tested() {
    let page =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/kubernetes.md"))
            .unwrap();
    for file in ["envoy.yaml", "istio.yaml", "contour.yaml"] {
        assert!(
            page.contains(&format!("```yaml\n{}```", read(file))),
            "docs/kubernetes.md shows {file} as it is"
        );
    }
}

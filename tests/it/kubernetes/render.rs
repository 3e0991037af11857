//! An overlay of deploy/kubernetes/ rendered by real kustomize (`kubectl
//! kustomize`, from `scripts/tools.sh`) in a copy of the tree with the
//! secret files an operator writes, and its objects read back.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_norway::Value;

use crate::helpers::tls::Ca;
use crate::helpers::tools;

/// Every overlay a platform team can deploy.
pub const OVERLAYS: [&str; 3] = ["standalone", "kafka", "gateway"];

/// The secret files each kustomization reads (none of them in git), with
/// what the test writes there.
fn secret_files(ca: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "base/secrets/admin-token",
            "admin-token-0123456789abcdef\n".into(),
        ),
        (
            "base/secrets/decision-token",
            "decision-token-0123456789abcdef\n".into(),
        ),
        ("overlays/kafka/secrets/ca.crt", ca.into()),
        // No newline: a secretKeyRef variable takes the file whole.
        ("overlays/kafka/secrets/username", "limiter".into()),
        ("overlays/kafka/secrets/password", "kafka-password\n".into()),
        (
            "overlays/gateway/secrets/jwt-secret",
            "a-jwt-secret-of-at-least-32-bytes-long\n".into(),
        ),
    ]
}

/// The admin token and decision token [`secret_files`] writes.
pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";
pub const DECISION_TOKEN: &str = "decision-token-0123456789abcdef";

/// One overlay's rendering.
pub struct Rendered {
    pub overlay: &'static str,
    /// Where the rendered objects are, as one multi-document YAML file.
    pub file: PathBuf,
    pub objects: Vec<Value>,
    _dir: tempfile::TempDir,
}

impl Rendered {
    /// `kubectl kustomize deploy/kubernetes/overlays/OVERLAY`, secrets written.
    pub fn overlay(overlay: &'static str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("kubernetes");
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes"),
            &tree,
        );
        for (path, text) in secret_files(&Ca::new("kafka test CA").pem) {
            let path = tree.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let out = Command::new(tools::path("kubectl"))
            .arg("kustomize")
            .arg(tree.join("overlays").join(overlay))
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success() && !text.is_empty(),
            "kubectl kustomize overlays/{overlay}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let file = dir.path().join(format!("{overlay}.yaml"));
        std::fs::write(&file, &text).unwrap();
        Self {
            overlay,
            file,
            objects: documents(&text),
            _dir: dir,
        }
    }

    /// The one object of `kind` named `name`.
    pub fn get(&self, kind: &str, name: &str) -> &Value {
        self.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{}: no {kind} {name}", self.overlay))
    }

    pub fn kinds(&self) -> Vec<String> {
        self.objects
            .iter()
            .map(|o| str_of(&o["kind"]).to_owned())
            .collect()
    }

    /// The Deployment's pod template.
    pub fn pod(&self) -> &Value {
        &self.get("Deployment", "crdt-limiter")["spec"]["template"]["spec"]
    }

    /// The node's container.
    pub fn container(&self) -> &Value {
        let containers = self.pod()["containers"].as_sequence().unwrap();
        assert_eq!(containers.len(), 1, "{}: one container", self.overlay);
        &containers[0]
    }
}

/// Validates custom resources against their CRDs' schemas: node running
/// `crds.mjs` over the @kubernetes-models packages `scripts/tools.sh` installs.
pub fn validate_custom_resources(what: &str, objects: &[&Value]) {
    use std::io::Write;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/kubernetes/crds.mjs");
    let mut child = Command::new("node")
        .arg(script)
        .arg(tools::path("crd-models"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node (scripts/tools.sh install crd-models installs it)");
    let json = serde_json::to_vec(objects).unwrap();
    child.stdin.take().unwrap().write_all(&json).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{what}: {report}");
    assert_eq!(
        report.matches("PASSED ").count(),
        objects.len(),
        "{what}: {report}"
    );
}

/// Each document of a multi-document YAML text.
pub fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

pub fn str_of(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value:?}"))
}

/// `from` copied to `to`, without any `secrets/` a developer may have there.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "secrets" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

//! The node's container as the kubelet would run it, in a temp dir: each
//! volume mount laid out as the kubelet lays out a ConfigMap or Secret (files
//! behind a `..data` symlink, swapped whole on a change), mount paths under
//! the temp dir, and the environment resolved from the rendered objects.

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_norway::Value;

use super::render::{str_of, Rendered};

/// The container's environment, its paths moved under `root`.
pub struct Pod {
    pub env: Vec<(String, String)>,
    /// `(mountPath, where it is here)`.
    pub mounts: Vec<(String, PathBuf)>,
}

impl Pod {
    pub fn lay_out(rendered: &Rendered, root: &Path) -> Self {
        let container = rendered.container();
        let volumes = rendered.pod()["volumes"].as_sequence().unwrap();
        let mut mounts = Vec::new();
        for mount in container["volumeMounts"].as_sequence().unwrap() {
            let path = str_of(&mount["mountPath"]).to_owned();
            let name = &mount["name"];
            let volume = volumes
                .iter()
                .find(|v| &v["name"] == name)
                .unwrap_or_else(|| panic!("{}: no volume {name:?}", rendered.overlay));
            let here = root.join(path.trim_start_matches('/'));
            mounts_files(&here, &volume_files(rendered, volume));
            mounts.push((path, here));
        }
        let mut pod = Self {
            env: Vec::new(),
            mounts,
        };
        // File contents naming a mounted path (the gateway file's JWT secret) move too.
        for (_, here) in &pod.mounts {
            pod.relocate_files(here);
        }
        pod.env = container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|var| {
                let value = env_value(rendered, container, var);
                (str_of(&var["name"]).to_owned(), pod.relocate(&value))
            })
            .collect();
        pod
    }

    /// `text` with every mount path in it moved under the temp dir.
    fn relocate(&self, text: &str) -> String {
        self.mounts
            .iter()
            .fold(text.to_owned(), |text, (path, here)| {
                text.replace(path.as_str(), here.to_str().unwrap())
            })
    }

    fn relocate_files(&self, dir: &Path) {
        let data = dir.join("..data");
        let Ok(entries) = std::fs::read_dir(&data) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if let Ok(text) = std::fs::read_to_string(&path) {
                std::fs::write(&path, self.relocate(&text)).unwrap();
            }
        }
    }

    /// Where `mount_path` is laid out here.
    pub fn mount(&self, mount_path: &str) -> &Path {
        let found = self.mounts.iter().find(|(path, _)| path == mount_path);
        &found.unwrap_or_else(|| panic!("no mount {mount_path}")).1
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The files a volume holds: a ConfigMap's or Secret's keys; none for an
/// emptyDir or a claim (a directory the node writes).
fn volume_files(rendered: &Rendered, volume: &Value) -> Option<Vec<(String, Vec<u8>)>> {
    let (kind, name) = if !volume["configMap"].is_null() {
        ("ConfigMap", &volume["configMap"]["name"])
    } else if !volume["secret"].is_null() {
        ("Secret", &volume["secret"]["secretName"])
    } else {
        assert!(
            !volume["emptyDir"].is_null() || !volume["persistentVolumeClaim"].is_null(),
            "unexpected volume {volume:?}"
        );
        return None;
    };
    let object = rendered.get(kind, str_of(name));
    let data = object["data"].as_mapping().unwrap();
    Some(
        data.iter()
            .map(|(key, value)| (str_of(key).to_owned(), decode(kind, value)))
            .collect(),
    )
}

fn decode(kind: &str, value: &Value) -> Vec<u8> {
    match kind {
        // Long values come wrapped over several lines.
        "Secret" => base64::engine::general_purpose::STANDARD
            .decode(str_of(value).split_whitespace().collect::<String>())
            .unwrap(),
        _ => str_of(value).as_bytes().to_vec(),
    }
}

/// The kubelet's layout: `DIR/..TIMESTAMP/KEY`, `DIR/..data -> ..TIMESTAMP`,
/// `DIR/KEY -> ..data/KEY`; or an empty directory to write in.
fn mounts_files(dir: &Path, files: &Option<Vec<(String, Vec<u8>)>>) {
    std::fs::create_dir_all(dir).unwrap();
    let Some(files) = files else { return };
    let stamp = "..2026_12_05_00_00_00.000000001";
    std::fs::create_dir(dir.join(stamp)).unwrap();
    for (key, bytes) in files {
        std::fs::write(dir.join(stamp).join(key), bytes).unwrap();
        std::os::unix::fs::symlink(format!("..data/{key}"), dir.join(key)).unwrap();
    }
    std::os::unix::fs::symlink(stamp, dir.join("..data")).unwrap();
}

/// A ConfigMap changed as the kubelet changes it: its files in a new
/// timestamped directory, then `..data` pointed there in one rename.
pub fn swap(dir: &Path, key: &str, text: &str) {
    let stamp = dir.join("..2026_12_05_00_01_00.000000002");
    std::fs::create_dir(&stamp).unwrap();
    for entry in std::fs::read_dir(dir.join("..data")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), stamp.join(entry.file_name())).unwrap();
    }
    std::fs::write(stamp.join(key), text).unwrap();
    std::os::unix::fs::symlink(stamp.file_name().unwrap(), dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
}

/// A variable's value: as written, or from the pod's name, its CPU limit or
/// a Secret's key.
fn env_value(rendered: &Rendered, container: &Value, var: &Value) -> String {
    if let Some(value) = var["value"].as_str() {
        return value.to_owned();
    }
    let from = &var["valueFrom"];
    if from["fieldRef"]["fieldPath"] == "metadata.name" {
        return "crdt-limiter-5d8f7c9b4-x2x7q".into();
    }
    if from["resourceFieldRef"]["resource"] == "limits.cpu" {
        assert_eq!(from["resourceFieldRef"]["divisor"], "1", "whole cores");
        let limit = str_of(&container["resources"]["limits"]["cpu"]);
        let millis: u64 = match limit.strip_suffix('m') {
            Some(m) => m.parse().unwrap(),
            None => limit.parse::<u64>().unwrap() * 1000,
        };
        // The kubelet rounds up to the divisor.
        return millis.div_ceil(1000).to_string();
    }
    let key = &from["secretKeyRef"];
    assert!(
        !key.is_null(),
        "{}: unexpected variable {var:?}",
        rendered.overlay
    );
    let secret = rendered.get("Secret", str_of(&key["name"]));
    let bytes = decode("Secret", &secret["data"][str_of(&key["key"])]);
    String::from_utf8(bytes).unwrap()
}

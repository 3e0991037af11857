//! The house rules of `src/`, checked on the source itself: dependencies
//! between top-level modules point one way (no cycle), the core (`limiter/`,
//! `policy/`) reaches nothing of HTTP, Kafka, settings, metrics, async
//! runtimes or files, and files and functions stay small enough to read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Longest source file, in lines (tests excluded).
const MAX_FILE_LINES: usize = 400;
/// Longest function, in lines (tests excluded).
const MAX_FN_LINES: usize = 60;

/// What the core may not name, with why.
const NOT_IN_CORE: &[(&str, &str)] = &[
    ("crate::http_api", "HTTP"),
    ("crate::rls", "gRPC"),
    ("tonic", "gRPC"),
    ("envoy_types", "gRPC"),
    ("crate::replication", "Kafka"),
    ("crate::policy_log", "the durable log"),
    ("crate::settings", "settings"),
    ("crate::telemetry", "metrics"),
    ("crate::node", "the composition root"),
    ("actix", "HTTP"),
    ("rdkafka", "Kafka"),
    ("metrics::", "metrics"),
    ("tokio", "an async runtime"),
    ("std::fs", "files"),
    ("std::net::Tcp", "sockets"),
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file under `src/` with its text, by path relative to `src/`.
fn files() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&root, &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The top-level module a file belongs to (`None`: the crate root or the binary).
fn module_of(file: &str) -> Option<&str> {
    match file.split_once('/') {
        Some((dir, _)) => Some(dir),
        None if file == "lib.rs" || file == "main.rs" => None,
        None => Some(file.trim_end_matches(".rs")),
    }
}

fn is_test(file: &str) -> bool {
    file.ends_with("tests.rs")
}

/// The code of `text`, without `//` comments.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
}

/// Top-level modules named by `crate::NAME` in `text`.
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code_lines(text) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in files() {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let edges = graph.entry(module.to_string()).or_default();
        edges.extend(uses(&text).into_iter().filter(|m| m != module));
    }
    graph
}

#[test]
fn the_modules_form_no_cycle() {
    let graph = graph();
    assert!(graph.contains_key("limiter") && graph.contains_key("policy"));
    // Depth-first search; a module met again while on the path closes a cycle.
    fn visit<'g>(
        module: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'g str>,
        done: &mut BTreeSet<&'g str>,
    ) {
        if let Some(start) = path.iter().position(|m| *m == module) {
            panic!("import cycle: {} -> {module}", path[start..].join(" -> "));
        }
        if !done.insert(module) {
            return;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        visit(module, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_core_reaches_nothing_outside_it() {
    let graph = graph();
    assert_eq!(
        graph["limiter"],
        BTreeSet::new(),
        "limiter uses only itself"
    );
    assert_eq!(graph["policy"], BTreeSet::from(["limiter".to_string()]));
    for (file, text) in files() {
        if is_test(&file) || !matches!(module_of(&file), Some("limiter" | "policy")) {
            continue;
        }
        for (n, line) in code_lines(&text).enumerate() {
            for (name, what) in NOT_IN_CORE {
                assert!(
                    !line.contains(name),
                    "src/{file}:{}: the core names {what} (`{name}`)",
                    n + 1
                );
            }
        }
    }
}

#[test]
fn files_and_functions_stay_small() {
    let mut too_long = Vec::new();
    for (file, text) in files() {
        assert!(
            text.starts_with("//!"),
            "src/{file} starts with a `//!` line saying what it is for"
        );
        if is_test(&file) {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        // A test module at the end of a file is not counted.
        let end = lines
            .iter()
            .position(|l| *l == "#[cfg(test)]")
            .unwrap_or(lines.len());
        if end > MAX_FILE_LINES {
            too_long.push(format!("src/{file}: {end} lines"));
        }
        for (i, line) in lines[..end].iter().enumerate() {
            let code = line.trim_start();
            let indent = &line[..line.len() - code.len()];
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(crate) fn ",
                "pub(super) fn ",
                "async fn ",
            ]
            .iter()
            .chain(&["pub async fn ", "const fn ", "pub const fn "])
            .any(|start| code.starts_with(start));
            if !is_fn || line.ends_with(';') {
                continue;
            }
            let close = format!("{indent}}}");
            if let Some(len) = lines[i..end].iter().position(|l| *l == close) {
                if len + 1 > MAX_FN_LINES {
                    too_long.push(format!(
                        "src/{file}:{}: a function of {} lines",
                        i + 1,
                        len + 1
                    ));
                }
            }
        }
    }
    assert!(too_long.is_empty(), "too long:\n{}", too_long.join("\n"));
}

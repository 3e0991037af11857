//! The house rules of `src/`, checked on the source itself: dependencies
//! between modules point one way (no cycle between top-level modules, nor
//! between sibling modules at any level), the core (`limiter/`,
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

/// The cycle in `graph`, if any, as `a -> b -> a`.
fn cycle_in(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    // Depth-first search; a module met again while on the path closes a cycle.
    fn visit<'g>(
        module: &'g str,
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'g str>,
        done: &mut BTreeSet<&'g str>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|m| *m == module) {
            return Some(format!("{} -> {module}", path[start..].join(" -> ")));
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_form_no_cycle() {
    let graph = graph();
    assert!(graph.contains_key("limiter") && graph.contains_key("policy"));
    if let Some(cycle) = cycle_in(&graph) {
        panic!("import cycle: {cycle}");
    }
}

/// The module a file is, as a path from the crate root: `a/b.rs` and
/// `a/b/mod.rs` are `a::b`; `lib.rs` and `main.rs` the root.
fn module_path(file: &str) -> Vec<String> {
    let file = file.trim_end_matches(".rs").trim_end_matches("/mod");
    match file {
        "lib" | "main" => Vec::new(),
        _ => file.split('/').map(String::from).collect(),
    }
}

/// Reads the path at the start of `s` after `prefix` (`b::c`, or a group
/// `{b, c::{d, e}}`), pushing each path it names to `out`; returns the
/// bytes read.
fn read_path(s: &str, prefix: &str, out: &mut Vec<String>) -> usize {
    let bytes = s.as_bytes();
    let skip_space = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let mut path = prefix.to_string();
    let mut i = skip_space(0);
    loop {
        if bytes.get(i) == Some(&b'{') {
            i += 1;
            while i < bytes.len() && bytes[i] != b'}' {
                i += read_path(&s[i..], &path, out);
                // Past `as name`, up to the next item or the group's end.
                while i < bytes.len() && bytes[i] != b',' && bytes[i] != b'}' {
                    i += 1;
                }
                i += usize::from(bytes.get(i) == Some(&b','));
            }
            return i + 1;
        }
        let start = i;
        while bytes
            .get(i)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            i += 1;
        }
        if start < i && &s[start..i] != "self" {
            path = format!("{path}::{}", &s[start..i]);
        }
        let after = skip_space(i);
        if !s[after..].starts_with("::") {
            out.push(path);
            return i;
        }
        i = skip_space(after + 2);
    }
}

/// Every path `code` names through `crate::`, `super::` or `self::`, groups
/// expanded, as segments from the crate root, for code in `module`.
fn named_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            let word_start = at == 0
                || !(bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':');
            if word_start {
                read_path(&code[at..], "", &mut found);
            }
        }
    }
    let mut absolute = Vec::new();
    for path in found {
        let mut segments = path.trim_start_matches("::").split("::");
        let mut base: Vec<String> = match segments.next() {
            Some("crate") => Vec::new(),
            Some("self") => module.to_vec(),
            _ => module[..module.len().saturating_sub(1)].to_vec(),
        };
        for segment in segments {
            match segment {
                "super" => {
                    base.pop();
                }
                _ => base.push(segment.to_string()),
            }
        }
        absolute.push(base);
    }
    absolute
}

/// Which sibling modules each module uses, at every level: an edge
/// `a::b -> a::c` when code in `a::b` (or below it) names `a::c` (or
/// something in it). Test files and test modules are left out.
fn sibling_graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = files();
    let modules: BTreeSet<Vec<String>> = files.keys().map(|f| module_path(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in &files {
        if is_test(file) {
            continue;
        }
        let module = module_path(file);
        let code: Vec<&str> = code_lines(text)
            .take_while(|l| *l != "#[cfg(test)]")
            .collect();
        for named in named_paths(&code.join("\n"), &module) {
            let Some(d) = (0..module.len().min(named.len())).find(|&d| module[d] != named[d])
            else {
                continue;
            };
            if modules.contains(&named[..=d]) {
                graph
                    .entry(module[..=d].join("::"))
                    .or_default()
                    .insert(named[..=d].join("::"));
            }
        }
    }
    graph
}

#[test]
fn sibling_modules_form_no_cycle_at_any_level() {
    let graph = sibling_graph();
    assert!(
        graph["http_api::decide"].contains("http_api::wire"),
        "the check sees uses inside a directory: {graph:?}"
    );
    if let Some(cycle) = cycle_in(&graph) {
        panic!("import cycle between sibling modules: {cycle}");
    }
}

/// Whether `line` has a `_ =>` match arm (not `x_ =>` or `(_) =>`).
fn has_catch_all_arm(line: &str) -> bool {
    line.match_indices("_ =>").any(|(at, _)| {
        let before = line[..at].chars().next_back();
        before.is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

#[test]
fn api_errors_name_every_variant() {
    assert!(has_catch_all_arm(
        "            _ => StatusCode::BAD_REQUEST,"
    ));
    assert!(!has_catch_all_arm(
        "Err(_) => x, Some((_, code)) => code, my_ => y"
    ));
    let file = "http_api/wire/error.rs";
    let text = &files()[file];
    let code = code_lines(text).take_while(|l| *l != "#[cfg(test)]");
    for (n, line) in code.enumerate() {
        assert!(
            !has_catch_all_arm(line),
            "src/{file}:{}: a `_ =>` arm; name every variant, so that a new one \
             must say its status, code and body",
            n + 1
        );
    }
}

/// The error type of the first `Result<T, E>` in `text`, if it has two parameters.
fn result_error(text: &str) -> Option<&str> {
    let start = text.find("Result<")? + "Result<".len();
    let (mut depth, mut comma) = (0usize, None);
    for (i, c) in text[start..].char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            ',' if depth == 0 => comma = Some(start + i + 1),
            '>' | ')' | ']' if depth == 0 => return Some(text[comma?..start + i].trim()),
            '>' | ')' | ']' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Every signature of a function (or type alias) visible outside its
/// module in `text`, joined onto one line, with its line number; test
/// modules (`#[cfg(test)]` then `mod … {`) left out.
fn public_signatures(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = code_lines(text).collect();
    let end = (0..lines.len())
        .find(|&i| lines[i] == "#[cfg(test)]" && lines.get(i + 1).is_some_and(|l| l.ends_with('{')))
        .unwrap_or(lines.len());
    let mut found = Vec::new();
    let mut i = 0;
    while i < end {
        let line = lines[i].trim();
        if line.starts_with("pub") && (line.contains("fn ") || line.starts_with("pub type ")) {
            let mut signature = line.to_string();
            let first = i;
            while !(signature.ends_with('{') || signature.ends_with(';')) && i + 1 < end {
                i += 1;
                signature.push(' ');
                signature.push_str(lines[i].trim());
            }
            found.push((first + 1, signature));
        }
        i += 1;
    }
    found
}

#[test]
fn no_public_function_answers_a_string_error() {
    assert_eq!(
        result_error("-> Result<Vec<(u8, u16)>, String> {"),
        Some("String")
    );
    assert_eq!(result_error("-> io::Result<String> {"), None);
    let mut found = Vec::new();
    for (file, text) in files() {
        if is_test(&file) {
            continue;
        }
        for (line, signature) in public_signatures(&text) {
            let returned = match signature.split_once("->") {
                Some((_, returned)) => returned,
                None => signature.split_once('=').map_or("", |(_, ty)| ty),
            };
            if result_error(returned) == Some("String") {
                found.push(format!("src/{file}:{line}: {signature}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "a `String` error crosses a module boundary; give it a type (thiserror) \
         that callers can match:\n{}",
        found.join("\n")
    );
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

/// Unit tests have one place: the tests of `x.rs` in `x_tests.rs` beside it
/// (`#[path]`), those of `dir/mod.rs` in `dir/tests.rs`; never inline, so a
/// module's file shows its code alone.
#[test]
fn unit_tests_live_in_their_own_files() {
    for (file, text) in files() {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for (n, pair) in lines.windows(2).enumerate() {
            let inline =
                pair[0] == "#[cfg(test)]" && pair[1].starts_with("mod ") && pair[1].ends_with('{');
            assert!(
                !inline,
                "src/{file}:{}: an inline test module; put it in a file of its own \
                 (x_tests.rs beside x.rs, tests.rs beside mod.rs)",
                n + 2
            );
        }
        let test_file = file.ends_with("_tests.rs") || file.ends_with("/tests.rs");
        if test_file {
            let declared = text.lines().next().is_some_and(|l| l.starts_with("//!"));
            assert!(declared, "src/{file}: a test file starts with `//!`");
        }
    }
}

//! Keeps README.md and docs/ honest: every relative link reaches a file and,
//! with a `#anchor`, a heading of it; the settings table of
//! docs/configuration.md says what `crdt-limiter --help` says; and its
//! metrics table names every metric the node registers, and no other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// README.md and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![Path::new(ROOT).join("README.md")];
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    pages.sort();
    pages
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of `text` outside fenced code blocks: a `#` or `](` inside one
/// is shell or YAML, not markdown.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push(line);
        }
    }
    lines
}

/// A heading's anchor as GitHub makes it: lowercased, every character but
/// letters, digits, spaces, `-` and `_` dropped, spaces turned into `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings; a repeated one gets `-1`, `-2`, … as on
/// GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for line in prose(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..]);
        let count = seen.entry(base.clone()).or_default();
        anchors.insert(match *count {
            0 => base.clone(),
            n => format!("{base}-{n}"),
        });
        *count += 1;
    }
    anchors
}

/// `line` without its inline code spans, where `](` is text, not a link.
fn without_code(line: &str) -> String {
    line.split('`').step_by(2).collect()
}

/// The targets of a page's inline links and images, `[…](target)`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            targets.push(rest[..end].trim().to_owned());
            rest = &rest[end..];
        }
    }
    targets
}

/// What is wrong with `target`, a link on `page`, if anything: a missing
/// file, or an anchor no heading of the target makes.
fn broken(page: &Path, target: &str) -> Option<String> {
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() {
        page.to_path_buf()
    } else {
        page.parent().unwrap().join(path)
    };
    if !file.exists() {
        return Some(format!("{}: no such file", file.display()));
    }
    if anchor.is_empty() || file.extension().is_none_or(|e| e != "md") {
        return None;
    }
    if anchors(&read(&file)).contains(anchor) {
        None
    } else {
        Some(format!("no heading makes #{anchor} in {}", file.display()))
    }
}

#[test]
fn every_relative_link_reaches_a_file_and_a_heading() {
    let (mut checked, mut failures) = (0, Vec::new());
    for page in pages() {
        for target in link_targets(&read(&page)) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            if let Some(why) = broken(&page, &target) {
                failures.push(format!("{}: ({target}): {why}", page.display()));
            }
        }
    }
    // The README alone links every docs page: fewer would mean the parsing broke.
    assert!(checked > 50, "only {checked} relative links found");
    assert!(
        failures.is_empty(),
        "broken links:\n{}",
        failures.join("\n")
    );
}

#[test]
fn slugs_follow_githubs_rules() {
    assert_eq!(
        slug("Merge modes: `min-max` and `counted`"),
        "merge-modes-min-max-and-counted"
    );
    assert_eq!(
        slug("Envoy: `ext_authz` over HTTP"),
        "envoy-ext_authz-over-http"
    );
    assert_eq!(slug("`POST /v1/check`"), "post-v1check");
    assert_eq!(
        slug("Trustworthy under joins… and partitions"),
        "trustworthy-under-joins-and-partitions"
    );
    let page = "# A\n\n## Batched checks\n\n```sh\n# not a heading\n```\n\n## Batched checks\n";
    let expected = ["a", "batched-checks", "batched-checks-1"];
    assert_eq!(anchors(page), expected.map(String::from).into());
}

/// One setting as a row of the table or an entry of `--help` shows it.
#[derive(Debug, PartialEq)]
struct Setting {
    env: String,
    /// The default as `--help` writes it; `None` when there is none.
    default: Option<String>,
}

/// The settings `crdt-limiter --help` lists, by long flag.
fn help_settings() -> BTreeMap<String, Setting> {
    let output = Command::new(env!("CARGO_BIN_EXE_crdt-limiter"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success(), "--help failed");
    let help = String::from_utf8(output.stdout).unwrap();
    // Each flag's entry runs from its `--name` line to the next flag's.
    let mut entries: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let text = line.trim_start();
        // clap indents a flag's own line (`--name`, `-x, --name`) less than
        // the lines that describe it.
        let flag_line = line.len() - text.len() <= 6
            && (text.starts_with("--") || text.get(2..6) == Some(", --"));
        if flag_line {
            let name = text.split("--").nth(1).unwrap();
            let name = name.split([' ', '[', '<', '=']).next().unwrap();
            entries.push((name.to_owned(), String::new()));
        }
        if let Some((_, text)) = entries.last_mut() {
            text.push_str(line.trim());
            text.push(' ');
        }
    }
    let between = |text: &str, open: &str, close: &[char]| {
        let rest = text.split(open).nth(1)?;
        Some(rest.split(close).next().unwrap().to_owned())
    };
    entries
        .into_iter()
        // clap's own flags, not settings.
        .filter(|(name, _)| name != "help" && name != "version")
        .map(|(name, text)| {
            let env = between(&text, "[env: ", &['=', ']'])
                .unwrap_or_else(|| panic!("--{name} has no environment variable in --help"));
            let default = between(&text, "[default: ", &[']']);
            (name, Setting { env, default })
        })
        .collect()
}

/// The lines of docs/configuration.md's section `heading` that are table rows.
fn table_rows(heading: &str) -> Vec<Vec<String>> {
    let text = read(&Path::new(ROOT).join("docs/configuration.md"));
    let section = text
        .split(&format!("\n{heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("docs/configuration.md has no `{heading}`"));
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .skip(1) // the header row
        .map(|l| {
            let cells = l.trim_matches('|').split(" | ");
            cells.map(|c| c.trim().to_owned()).collect()
        })
        .collect()
}

fn unquoted(cell: &str) -> &str {
    cell.trim_matches('`')
}

/// The settings table of docs/configuration.md, by long flag.
fn table_settings() -> BTreeMap<String, Setting> {
    table_rows("## Settings")
        .into_iter()
        .map(|cells| {
            assert!(cells.len() >= 4, "a short row: {cells:?}");
            let flag = unquoted(&cells[0]).trim_start_matches("--").to_owned();
            let written = &cells[2];
            // A setting without a default says what its absence means.
            let default = (!written.starts_with("none") && !written.starts_with("unset"))
                .then(|| unquoted(written).to_owned());
            let env = unquoted(&cells[1]).to_owned();
            (flag, Setting { env, default })
        })
        .collect()
}

#[test]
fn the_settings_table_says_what_help_says() {
    let (help, table) = (help_settings(), table_settings());
    assert!(
        help.contains_key("kafka-brokers"),
        "no flags parsed from --help"
    );
    let mut failures = Vec::new();
    for (flag, setting) in &help {
        match table.get(flag) {
            None => failures.push(format!("--{flag} is not in the table")),
            Some(row) if row != setting => failures.push(format!(
                "--{flag}: the table says {row:?}, --help {setting:?}"
            )),
            Some(_) => {}
        }
    }
    for flag in table.keys().filter(|f| !help.contains_key(*f)) {
        failures.push(format!("--{flag} is in the table but not in --help"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `"limiter_…"` names in `path` and, for a folder, the files under it.
fn metric_names(path: &Path, names: &mut BTreeSet<String>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            metric_names(&entry.unwrap().path(), names);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        for literal in read(path).split("\"limiter_").skip(1) {
            let rest = literal.split('"').next().unwrap();
            if rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                names.insert(format!("limiter_{rest}"));
            }
        }
    }
}

#[test]
fn the_metrics_table_names_every_metric_the_node_registers() {
    let mut registered = BTreeSet::new();
    for path in ["src/telemetry.rs", "src/telemetry"] {
        let path = Path::new(ROOT).join(path);
        if path.exists() {
            metric_names(&path, &mut registered);
        }
    }
    assert!(
        registered.contains("limiter_decisions_total"),
        "no metric names found in src/telemetry*"
    );
    let documented: BTreeSet<String> = table_rows("## Metrics")
        .iter()
        .map(|cells| unquoted(&cells[0]).split('{').next().unwrap().to_owned())
        .filter(|name| name.starts_with("limiter_"))
        .collect();
    let missing: Vec<_> = registered.difference(&documented).collect();
    let unknown: Vec<_> = documented.difference(&registered).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "registered but not in docs/configuration.md's metrics table: {missing:?}; \
         in the table but not registered: {unknown:?}"
    );
}

/// Whether `line` is a test attribute as the README's count greps for it:
/// `#[test]`, `#[tokio::test]`, `#[actix_rt::test]` or `#[actix_web::test]`.
fn is_test_attribute(line: &str) -> bool {
    let line = line.trim_start();
    [
        "#[test",
        "#[tokio::test",
        "#[actix_rt::test",
        "#[actix_web::test",
    ]
    .iter()
    .any(|a| line.starts_with(a))
}

fn count_tests(dir: &Path) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            count += count_tests(&path);
        } else if path.extension().is_some_and(|e| e == "rs") {
            count += read(&path).lines().filter(|l| is_test_attribute(l)).count();
        }
    }
    count
}

/// The README's test count is the one its grep gives today: a stale count is
/// worse than none.
#[test]
fn the_readmes_test_count_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let counted = count_tests(&root.join("src")) + count_tests(&root.join("tests"));
    let readme = read(&root.join("README.md"));
    let said = readme
        .split("The suite has ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("README.md says \"The suite has N test functions\"");
    assert_eq!(
        said, counted,
        "README.md says the suite has {said} test functions; there are {counted}"
    );
}

/// Names of the test functions under `dir`: the `fn` after each test attribute.
fn test_names(dir: &Path, names: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            test_names(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = read(&path);
            let mut lines = text.lines();
            while let Some(line) = lines.next() {
                if !is_test_attribute(line) {
                    continue;
                }
                let name = lines
                    .find_map(|l| l.trim_start().split_once("fn ").map(|(_, rest)| rest))
                    .and_then(|rest| rest.split(['(', '<']).next());
                names.extend(name.map(str::to_owned));
            }
        }
    }
}

/// The README's envoyproxy/ratelimit compatibility table backs each row with
/// tests that exist (or says `—` where there is nothing to test): a renamed or
/// deleted test must not leave a claim behind.
#[test]
fn every_test_the_compatibility_table_names_exists() {
    let root = Path::new(ROOT);
    let mut names = BTreeSet::new();
    test_names(&root.join("src"), &mut names);
    test_names(&root.join("tests"), &mut names);
    let readme = read(&root.join("README.md"));
    let section = readme
        .split("\n## Coming from envoyproxy/ratelimit\n")
        .nth(1)
        .expect("README.md has `## Coming from envoyproxy/ratelimit`");
    let section = section.split("\n## ").next().unwrap();
    let rows: Vec<&str> = (section.lines())
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .skip(1)
        .collect();
    assert!(rows.len() > 10, "the table has {} rows", rows.len());
    for row in rows {
        let tests = row
            .trim_end_matches('|')
            .rsplit(" | ")
            .next()
            .unwrap()
            .trim();
        if tests == "—" {
            continue;
        }
        let named: Vec<&str> = tests.split('`').skip(1).step_by(2).collect();
        assert!(!named.is_empty(), "a row names no test: {row}");
        for name in named {
            assert!(names.contains(name), "no test `{name}` (row: {row})");
        }
    }
}

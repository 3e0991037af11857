//! `--log-format json` on the real binary: every line it writes, on stdout
//! and stderr, is one JSON object with a timestamp, level, target and
//! fields (the message among them); reloads log the file and the problem as
//! fields; and no secret shows up in any line.

use std::io::BufRead;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;

use crate::helpers::{self, eventually, NodeProcess};
use crate::live_config::{ConfigMap, POLL, RULES};

const ADMIN: &str = "admin-token-in-json-0123456789";

/// Every line of `reader`, kept in `lines`.
fn collect(reader: impl std::io::Read + Send + 'static, lines: &Arc<Mutex<Vec<String>>>) {
    let lines = Arc::clone(lines);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(reader)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("[node] {line}");
            lines.lock().push(line);
        }
    });
}

/// The address in the `serving` line, once logged.
fn serving(lines: &Mutex<Vec<String>>) -> Option<SocketAddr> {
    lines.lock().iter().find_map(|line| {
        let json: Value = serde_json::from_str(line).ok()?;
        json["fields"]["addr"].as_str()?.parse().ok()
    })
}

/// Whether `line` is one JSON object of the documented shape.
fn check_line(line: &str) -> Value {
    let json: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let timestamp = json["timestamp"].as_str().unwrap_or_default();
    assert!(timestamp.len() >= 20 && timestamp.contains('T'), "{line}");
    let level = json["level"].as_str().unwrap_or_default();
    assert!(
        ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
        "{line}"
    );
    assert!(
        !json["target"].as_str().unwrap_or_default().is_empty(),
        "{line}"
    );
    assert!(json["fields"]["message"].is_string(), "{line}");
    json
}

#[test]
fn json_logs_are_one_object_per_line_with_reload_fields_and_no_secret() {
    let rules = |cap: &str| RULES.replace("CAP", cap);
    let mut map = ConfigMap::new("json-logs", &[("rules.toml", &rules("3"))]);
    let (path, token) = (map.path("rules.toml"), map.dir.join("admin-token"));
    std::fs::write(&token, format!("{ADMIN}\n")).unwrap();
    let data = map.dir.join("data");
    let mut child = NodeProcess::command()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--log",
            "info",
            "--log-format",
            "json",
        ])
        .args(["--rules", &path, POLL[0], POLL[1]])
        .args(["--admin-token-file", token.to_str().unwrap()])
        .args(["--data-dir", data.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    collect(child.stdout.take().unwrap(), &lines);
    collect(child.stderr.take().unwrap(), &lines);
    let mut addr = None;
    eventually(Duration::from_secs(10), "the node serving", || {
        addr = serving(&lines);
        addr.is_some()
    });
    let addr = addr.unwrap();
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let metric = |series: &str| {
        let reply = helpers::send(&agent, addr, "GET", "/metrics", None, None);
        helpers::metric(&reply.body, series)
    };
    let reloads = |outcome: &str| {
        metric(&format!(
            "limiter_config_reloads_total{{file=\"rules\",outcome=\"{outcome}\"}}"
        ))
    };

    map.update(&[("rules.toml", &rules("7"))]);
    eventually(Duration::from_secs(10), "a reload applied", || {
        reloads("applied") == 1.0
    });
    map.update(&[("rules.toml", &rules("0"))]);
    eventually(Duration::from_secs(10), "a reload refused", || {
        reloads("refused") == 1.0
    });
    // The token file read again: a line about it, never its content.
    let kill = |signal: &str| {
        let sent = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    kill("-HUP");
    let logged = |text: &str| lines.lock().iter().any(|l| l.contains(text));
    eventually(Duration::from_secs(10), "the token file read again", || {
        logged("token file read again")
    });
    kill("-TERM");
    eventually(Duration::from_secs(10), "the node stopped", || {
        child.try_wait().unwrap().is_some()
    });

    let lines = lines.lock().clone();
    let json: Vec<Value> = lines.iter().map(|l| check_line(l)).collect();
    let with = |message: &str| {
        json.iter()
            .find(|j| {
                j["fields"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(message)
            })
            .unwrap_or_else(|| panic!("no line `{message}` in {lines:#?}"))
    };
    assert_eq!(with("serving")["fields"]["rules"], path.as_str());
    let applied = with("reloaded the rules file");
    assert_eq!(applied["fields"]["file"], "rules");
    assert_eq!(applied["fields"]["path"], path.as_str());
    let refused = with("refused the reloaded rules file");
    assert_eq!(refused["level"], "ERROR");
    assert_eq!(refused["target"], "crdt_limiter::node::reload");
    let error = refused["fields"]["error"].as_str().unwrap();
    assert!(
        error.contains(&path) && error.contains("capacity"),
        "{error}"
    );
    assert!(
        lines.iter().all(|l| !l.contains(ADMIN)),
        "a token in the log"
    );
}

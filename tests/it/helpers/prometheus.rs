//! A real Prometheus (Debian's, which `scripts/tools.sh` installs) scraping
//! the given nodes every second with the given rules, and its HTTP API:
//! instant queries and active alerts. Killed when dropped.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{eventually, temp_dir, tools};

/// A Prometheus process with its own config, rules and storage in a temp dir.
pub struct Prometheus {
    child: Child,
    pub url: String,
    dir: PathBuf,
    agent: ureq::Agent,
}

impl Prometheus {
    /// Scrapes `targets` (job `crdt-limiter`) and evaluates `rules` every
    /// second: scrape and evaluation set how quickly alerts can move.
    pub fn start(targets: &[SocketAddr], rules: &str) -> Self {
        let dir = temp_dir("prometheus");
        std::fs::write(dir.join("rules.yml"), rules).unwrap();
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules.yml]\n\
             scrape_configs:\n  - job_name: crdt-limiter\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let port = tools::free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(tools::path("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let prometheus = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(),
        };
        eventually(Duration::from_secs(30), "prometheus ready", || {
            prometheus
                .agent
                .get(&format!("{}/-/ready", prometheus.url))
                .call()
                .is_ok()
        });
        prometheus
    }

    /// The `data` of a successful API answer at `path` with `query` parameters.
    fn api(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let mut request = self.agent.get(&format!("{}{path}", self.url));
        for (name, value) in query {
            request = request.query(name, value);
        }
        let reply = super::Reply::from(request.call());
        let body = reply.json();
        assert_eq!(body["status"], "success", "{path} {query:?}: {reply:?}");
        body["data"].clone()
    }

    /// The series an instant query returns now (`/api/v1/query`).
    pub fn query(&self, expr: &str) -> Vec<Value> {
        let data = self.api("/api/v1/query", &[("query", expr)]);
        data["result"].as_array().cloned().unwrap_or_default()
    }

    /// `(alertname, instance)` of every firing alert (`/api/v1/alerts`).
    pub fn firing(&self) -> Vec<(String, String)> {
        let data = self.api("/api/v1/alerts", &[]);
        let alerts = data["alerts"].as_array().cloned().unwrap_or_default();
        alerts
            .iter()
            .filter(|a| a["state"] == "firing")
            .map(|a| {
                let label = |name: &str| a["labels"][name].as_str().unwrap_or("").to_string();
                (label("alertname"), label("instance"))
            })
            .collect()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // What Prometheus said, for the test that failed.
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!(
                "[prometheus] last lines, newest first:\n{}",
                tail.join("\n")
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

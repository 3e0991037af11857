//! Test helpers: a real node in-process on port 0 with a hand-moved clock, an
//! HTTP client that returns 4xx/5xx as values, and raw requests for bytes a
//! well-behaved client refuses to send.
#![allow(dead_code)]

pub mod browser;
pub mod cluster;
pub mod echo;
pub mod jwks;
pub mod otlp;
pub mod prometheus;
pub mod proxy;
pub mod rls;
pub mod secure_kafka;
pub mod tls;
pub mod tools;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crdt_limiter::clock::ManualClock;
use crdt_limiter::limiter::Stamp;
use crdt_limiter::settings::Config;

/// A running node; stopped (gracefully) when dropped.
pub struct TestNode {
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    agent: ureq::Agent,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestNode {
    /// Starts a node with these extra flags on 127.0.0.1, port 0.
    pub fn start(flags: &[&str]) -> Self {
        let args = ["crdt-limiter", "--listen", "127.0.0.1:0", "--workers", "2"];
        let config = Config::load_from(args.iter().chain(flags)).expect("valid test settings");
        let listener = TcpListener::bind(config.listen).unwrap();
        let addr = listener.local_addr().unwrap();
        let clock = Arc::new(ManualClock::new(Stamp::from_unix_nanos(
            1_700_000_000_000_000_000,
        )));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let node_clock = Arc::clone(&clock);
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(crdt_limiter::run(
                listener,
                config,
                node_clock,
                async {
                    let _ = stopped.await;
                },
            ))
        });
        let node = Self {
            addr,
            clock,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(),
            stop: Some(stop),
            thread: Some(thread),
        };
        eventually(Duration::from_secs(10), "the node ready", || {
            node.get("/readyz").status == 200
        });
        node
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// `POST /protected` as `user`.
    pub fn protected(&self, user: &str) -> Reply {
        Reply::from(
            self.agent
                .post(&self.url("/protected"))
                .set("X-User-ID", user)
                .call(),
        )
    }

    pub fn get(&self, path: &str) -> Reply {
        Reply::from(self.agent.get(&self.url(path)).call())
    }

    pub fn request(&self, method: &str, path: &str) -> Reply {
        Reply::from(self.agent.request(method, &self.url(path)).call())
    }

    /// `method path` with an optional bearer token and JSON body.
    pub fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        send(&self.agent, self.addr, method, path, token, body)
    }

    /// `POST /v1/check` with `body`.
    pub fn check(&self, body: &str) -> Reply {
        self.send("POST", "/v1/check", None, Some(body))
    }

    /// Sends `head` (request line and headers, without the blank line) byte for byte.
    pub fn raw(&self, head: &[u8]) -> Reply {
        raw_request(self.addr, head)
    }

    /// The value of a metric series, e.g. `limiter_buckets` or
    /// `limiter_decisions_total{rule="default",outcome="allowed"}`; 0 if absent.
    pub fn metric(&self, series: &str) -> f64 {
        metric(&self.get("/metrics").body, series)
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A response: status, headers (lower-case names), body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {name} header in {self:?}"))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

impl From<Result<ureq::Response, ureq::Error>> for Reply {
    fn from(result: Result<ureq::Response, ureq::Error>) -> Self {
        let response = match result {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(e) => panic!("request failed: {e}"),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .map(|name| {
                let value = response.header(&name).unwrap_or_default().to_string();
                (name.to_ascii_lowercase(), value)
            })
            .collect();
        let body = response.into_string().unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// `method path` on `addr`, with an optional bearer token and JSON body.
pub fn send(
    agent: &ureq::Agent,
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Reply {
    let mut request = agent.request(method, &format!("http://{addr}{path}"));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    Reply::from(match body {
        Some(body) => request
            .set("Content-Type", "application/json")
            .send_string(body),
        None => request.call(),
    })
}

/// A fresh, empty directory under the system temp dir.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "crdt-limiter-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One HTTP/1.1 request over a fresh connection, read until the server closes.
pub fn raw_request(addr: SocketAddr, head: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // One write: a node that refuses the head closes at once, and bytes of
    // it still arriving then would reset the connection, answer and all.
    let request = [head, b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"].concat();
    stream.write_all(&request).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_string(),
    }
}

/// The value of one series in a Prometheus text exposition; 0 if absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

/// Polls `condition` every 20 ms until it holds; after `timeout`, panics
/// naming `what` was awaited (and, through `track_caller`, the line asking).
/// The way to wait for something another thread or process does: a fixed
/// sleep is too short on a loaded machine and too long everywhere else.
#[track_caller]
pub fn eventually(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `crdt-limiter` process: the real binary, on 127.0.0.1 port 0.
pub struct NodeProcess {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// The Envoy rate-limit service's address, with `--grpc-listen`.
    pub grpc: Option<SocketAddr>,
    agent: ureq::Agent,
    /// What the node has logged so far, line by line.
    log: Arc<parking_lot::Mutex<Vec<String>>>,
}

impl NodeProcess {
    /// The binary with no `LIMITER_` variable leaking in from the environment.
    pub fn command() -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_crdt-limiter"));
        for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("LIMITER_")) {
            cmd.env_remove(key);
        }
        cmd
    }

    /// Starts the binary with `args`; returns once it serves HTTP (not
    /// necessarily ready: see [`NodeProcess::wait_ready`]).
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// [`NodeProcess::start`] with these environment variables set too.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut child = Self::command()
            .args(["--listen", "127.0.0.1:0", "--log", "info"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut lines = stdout.lines();
        let value = |line: &str, key: &str| -> Option<SocketAddr> {
            let rest = line.split_once(key)?.1;
            rest.split_whitespace().next()?.parse().ok()
        };
        // Every line is kept for `logged`, those before the address too.
        let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
        // The rate-limit service (if any) logs its address before the HTTP server does.
        let mut grpc = None;
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                grpc = grpc.or_else(|| value(&line, "grpc="));
                let addr = value(&line, " addr=");
                log.lock().push(line);
                addr
            })
            .expect("the node logs the address it serves on");
        // Keep draining the log so the node never blocks on a full pipe; echo it
        // so a failing test shows what the node said.
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            lines.map_while(Result::ok).for_each(|l| {
                eprintln!("[node] {l}");
                kept.lock().push(l);
            })
        });
        Self {
            child,
            addr,
            grpc,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(),
            log,
        }
    }

    /// The lines the node has logged so far that contain `text`.
    pub fn logged(&self, text: &str) -> Vec<String> {
        let log = self.log.lock();
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }

    #[track_caller]
    pub fn wait_ready(&self, timeout: Duration) {
        eventually(timeout, "the node ready", || {
            self.get("/readyz").status == 200
        });
    }

    pub fn protected(&self, user: &str) -> Reply {
        let url = format!("http://{}/protected", self.addr);
        Reply::from(self.agent.post(&url).set("X-User-ID", user).call())
    }

    pub fn get(&self, path: &str) -> Reply {
        Reply::from(
            self.agent
                .get(&format!("http://{}{}", self.addr, path))
                .call(),
        )
    }

    pub fn metric(&self, series: &str) -> f64 {
        metric(&self.get("/metrics").body, series)
    }

    /// `method path` with an optional bearer token and JSON body.
    pub fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        send(&self.agent, self.addr, method, path, token, body)
    }

    /// The tokens left in bucket `key` as this node sees it, through the
    /// admin API (`admin_token`); `None` while the node has no such bucket.
    /// Asking spends nothing, so tests wait on it for replication.
    pub fn tokens(&self, admin_token: &str, key: &str) -> Option<u64> {
        let path = format!(
            "/v1/admin/buckets/{}",
            key.replace('%', "%25").replace(' ', "%20")
        );
        let reply = self.send("GET", &path, Some(admin_token), None);
        match reply.status {
            200 => Some(reply.json()["tokens"].as_u64().unwrap()),
            404 if reply.json()["error"] == "unknown_bucket" => None,
            _ => panic!("GET {path}: {reply:?}"),
        }
    }

    /// Sends `signal` (e.g. `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {timeout:?} after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

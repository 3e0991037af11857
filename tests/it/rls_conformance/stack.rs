//! upstream's integration-test stack on 127.0.0.1, as its docker-compose file
//! wires it: our node in place of `ratelimit` (with upstream's
//! `examples/ratelimit/config/`), Envoy from `examples/envoy/proxy.yaml` as
//! `envoy-proxy`, Envoy from `examples/envoy/mock.yaml` as `envoy-mock`, and
//! `statsd` (see `statsd.rs`). Only hosts and ports are rewritten; the
//! scripts reach the names they use through curl's `--connect-to`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::harness::{config_dir, upstream, upstream_default_flags};
use super::statsd::Statsd;
use crate::helpers::proxy::Proxy;
use crate::helpers::{temp_dir, tools, NodeProcess};

/// Every host and port of an upstream Envoy file given a local port: an
/// `address: HOST` line followed by its `port_value: PORT` line becomes
/// `127.0.0.1` and the port mapped to it. An address left unmapped, or a
/// mapping never used, fails: the file changed upstream.
pub fn rewrite_addresses(yaml: &str, ports: &[((&str, u16), u16)]) -> String {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut used = vec![false; ports.len()];
    let mut i = 0;
    while i < lines.len() {
        let host = lines[i].trim().strip_prefix("address: ");
        let port = lines
            .get(i + 1)
            .and_then(|l| l.trim().strip_prefix("port_value: "));
        let (Some(host), Some(port)) = (host, port) else {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        };
        let port: u16 = port.parse().unwrap();
        let at = ports
            .iter()
            .position(|((h, p), _)| *h == host && *p == port)
            .unwrap_or_else(|| panic!("{host}:{port} in the Envoy file has no local port"));
        used[at] = true;
        out.push(lines[i].replace(host, "127.0.0.1"));
        out.push(lines[i + 1].replace(&port.to_string(), &ports[at].1.to_string()));
        i += 2;
    }
    assert!(
        used.iter().all(|u| *u),
        "an address of the harness is no longer in the file"
    );
    out.join("\n")
}

/// Envoy with `config` as `--service-cluster`/`--service-node` `name` (what
/// upstream's compose file passes; `source_cluster` actions read it), once it
/// accepts connections on `port`.
fn envoy(name: &'static str, config: &str, port: u16) -> Proxy {
    let dir = temp_dir(&format!("conformance-{name}"));
    let file = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, config).unwrap();
    let mut command = Command::new(tools::path("envoy"));
    command.arg("-c").arg(&file).args([
        "--disable-hot-restart",
        "--concurrency",
        "1",
        "-l",
        "error",
        "--service-node",
        name,
        "--service-cluster",
        name,
    ]);
    Proxy::start("envoy", command, port, &dir)
}

/// Our node as `ratelimit`: upstream's `examples/ratelimit/config/`,
/// counting in fixed windows from a window's start, and over the limit
/// too, as upstream does on its default settings.
fn node() -> NodeProcess {
    let config = config_dir(
        "conformance-config",
        &[
            "examples/ratelimit/config/config.yaml",
            "examples/ratelimit/config/example.yaml",
        ],
    );
    let mut args = vec!["--grpc-listen", "127.0.0.1:0", "--rls-config"];
    args.push(config.to_str().unwrap());
    let flags = upstream_default_flags();
    args.extend(flags.iter().copied());
    let node = NodeProcess::start(&args);
    node.wait_ready(Duration::from_secs(20));
    node
}

/// `envoy-mock` (its two services) and `envoy-proxy` in front of them,
/// asking the node on `grpc`.
fn proxies(grpc: u16) -> (Proxy, Proxy) {
    let (service_1, service_2) = (tools::free_port(), tools::free_port());
    let mock_text = std::fs::read_to_string(upstream("examples/envoy/mock.yaml")).unwrap();
    let mock_ports = [
        (("0.0.0.0", 9999), service_1),
        (("0.0.0.0", 10001), service_2),
        (("0.0.0.0", 8001), tools::free_port()),
    ];
    let mock = rewrite_addresses(&mock_text, &mock_ports);
    let mock = envoy("mock", &mock, service_2);
    let listener = tools::free_port();
    let proxy_text = std::fs::read_to_string(upstream("examples/envoy/proxy.yaml")).unwrap();
    let proxy_ports = [
        (("0.0.0.0", 8001), tools::free_port()),
        (("ratelimit", 8081), grpc),
        (("envoy-mock", 9999), service_1),
        (("envoy-mock", 10001), service_2),
        (("0.0.0.0", 8888), listener),
    ];
    let proxy = rewrite_addresses(&proxy_text, &proxy_ports);
    (mock, envoy("proxy", &proxy, listener))
}

/// The stack one script runs against; everything stops when it is dropped.
pub struct Stack {
    pub node: NodeProcess,
    pub proxy: Proxy,
    mock: Proxy,
    statsd: Statsd,
    /// Holds `.curlrc`, naming where `envoy-proxy:8888` and `statsd:9102` are.
    curl_home: PathBuf,
}

impl Stack {
    /// A stack of its own: nothing a script spends is seen by another.
    pub fn start() -> Self {
        // The scripts' one tool besides bash: fail saying how to install it.
        tools::path("curl");
        let node = node();
        let grpc = node.grpc.expect("the node logs its gRPC address").port();
        let (mock, proxy) = proxies(grpc);
        let statsd = Statsd::start(node.addr);
        let curl_home = temp_dir("conformance-curl");
        let curlrc = format!(
            "connect-to = \"envoy-proxy:8888:127.0.0.1:{}\"\n\
             connect-to = \"statsd:9102:127.0.0.1:{}\"\n\
             noproxy = \"*\"\nmax-time = 10\n",
            proxy.port, statsd.port
        );
        std::fs::write(curl_home.join(".curlrc"), curlrc).unwrap();
        Self {
            node,
            proxy,
            mock,
            statsd,
            curl_home,
        }
    }

    /// Runs upstream's `integration-test/scripts/NAME` as it is, with bash;
    /// fails naming the script, with what it printed and the proxies' logs.
    /// The node must have answered `answers` (OK, OVER_LIMIT) calls: some of
    /// upstream's checks cannot fail by themselves (`curl -f … | grep` on a
    /// 429, `curl -i` after the wait), so what the node decided is checked too.
    pub fn run_script(&self, name: &str, answers: (u32, u32)) {
        let script = upstream(&format!("integration-test/scripts/{name}"));
        let (status, output) = run_bounded(&script, &self.curl_home, Duration::from_secs(120));
        let answered = || {
            let count = |outcome: &str| {
                let series = format!(r#"limiter_rls_requests_total{{outcome="{outcome}"}}"#);
                self.node.metric(&series) as u32
            };
            (count("ok"), count("over_limit"))
        };
        // Envoy's response-path calls may land just after the script ends.
        let deadline = Instant::now() + Duration::from_secs(5);
        while answered() != answers && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let calls = answered();
        assert!(
            status == Some(0) && calls == answers,
            "upstream integration-test/scripts/{name}: exit {status:?}, (OK, OVER_LIMIT) answers {calls:?}, expected {answers:?}\n--- script ---\n{output}\n--- envoy-proxy ---\n{}\n--- envoy-mock ---\n{}\n--- statsd ---\n{}",
            self.proxy.log(),
            self.mock.log(),
            self.statsd.last(),
        );
    }
}

/// `bash -x SCRIPT` with curl reading `curl_home`'s `.curlrc`, no proxy from the
/// environment, killed after `timeout`: its exit code (None: killed) and output.
fn run_bounded(script: &Path, curl_home: &Path, timeout: Duration) -> (Option<i32>, String) {
    let log = curl_home.join("script.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut command = Command::new("bash");
    // -x traces each command to the output: a failure shows the step (the
    // curl and its headers) that went wrong, the script unchanged.
    command
        .arg("-x")
        .arg(script)
        .env("CURL_HOME", curl_home)
        .current_dir(curl_home);
    for proxy in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(proxy);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("bash runs upstream's scripts");
    let deadline = Instant::now() + timeout;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, std::fs::read_to_string(&log).unwrap_or_default())
}

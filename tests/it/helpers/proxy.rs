//! Real proxies in front of a node: a counting upstream app, a proxy process
//! that is killed when dropped (a panicking test included), and the example
//! configurations of `examples/proxies/` turned into runnable ones.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Reply;

/// The app behind the proxy: answers every request `200 upstream` and counts them.
pub struct Upstream {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, stopped) = (Arc::clone(&hits), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Acquire) {
                    break;
                }
                if let Ok(stream) = stream {
                    let counted = Arc::clone(&counted);
                    std::thread::spawn(move || answer(stream, &counted));
                }
            }
        });
        Self { addr, hits, stop }
    }

    /// Requests that reached the app.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Acquire)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Reads one request head, counts it, answers, and closes the connection.
fn answer(mut stream: TcpStream, hits: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&byte[..n]),
        }
    }
    hits.fetch_add(1, Ordering::AcqRel);
    let _ = stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\nupstream",
    );
}

/// A proxy process on 127.0.0.1:`port`, killed and reaped when dropped.
pub struct Proxy {
    pub name: &'static str,
    pub port: u16,
    pub dir: PathBuf,
    child: Child,
    agent: ureq::Agent,
}

impl Proxy {
    /// nginx with `dir/nginx.conf` (its paths under `dir`, logging to
    /// `dir/error.log`), once it accepts connections on `port`.
    pub fn nginx(dir: &Path, port: u16) -> Self {
        let mut command = Command::new(super::tools::path("nginx"));
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("error.log"));
        Self::start("nginx", command, port, dir)
    }

    /// Spawns `command` (output to `dir/NAME.log`) and waits, at most 20 s,
    /// until it accepts connections on `port`.
    pub fn start(name: &'static str, mut command: Command, port: u16, dir: &Path) -> Self {
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        // The guard exists before anything can panic, so the process never outlives the test.
        let mut proxy = Self {
            name,
            port,
            dir: dir.to_path_buf(),
            child,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(10))
                .build(),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = proxy.child.try_wait().unwrap() {
                panic!("{name} exited ({status}) before serving:\n{}", proxy.log());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return proxy;
            }
            assert!(
                Instant::now() < deadline,
                "{name} not accepting on {addr} after 20 s:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the proxy wrote to its output and error log.
    pub fn log(&self) -> String {
        let mut text = String::new();
        for file in [format!("{}.log", self.name), "error.log".into()] {
            if let Ok(more) = std::fs::read_to_string(self.dir.join(file)) {
                text.push_str(&more);
            }
        }
        text
    }

    /// `method path` through the proxy with `headers`.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.agent.request(method, &url);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        Reply::from(request.call())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An example configuration from `examples/proxies/`, with its placeholder
/// addresses (`limiter:8000`, `app:8080`) replaced by the test's.
pub fn example(file: &str, node: SocketAddr, app: SocketAddr) -> String {
    example_text(file)
        .replace("limiter:8000", &node.to_string())
        .replace("app:8080", &app.to_string())
}

/// An example configuration as docs/proxies.md shows it.
pub fn example_text(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/proxies")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Envoy with `config` (an example with its addresses already replaced),
/// listening on `port` (the examples' 10000 replaced by it).
pub fn envoy(config: &str, port: u16, dir: &Path) -> Proxy {
    let config = config.replace(
        "{ address: 0.0.0.0, port_value: 10000 }",
        &format!("{{ address: 127.0.0.1, port_value: {port} }}"),
    );
    let file = dir.join("envoy.yaml");
    std::fs::write(&file, config).unwrap();
    let mut command = Command::new(super::tools::path("envoy"));
    // No hot restart: several Envoys at once would share its memory region.
    command.arg("-c").arg(&file).args([
        "--disable-hot-restart",
        "--concurrency",
        "1",
        "-l",
        "warning",
    ]);
    Proxy::start("envoy", command, port, dir)
}

/// `{ address: HOST, port_value: PORT }` as an Envoy example writes it, for replacing.
pub fn envoy_address(host: &str, port: u16) -> String {
    format!("{{ address: {host}, port_value: {port} }}")
}

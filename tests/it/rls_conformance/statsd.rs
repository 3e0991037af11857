//! `statsd` of upstream's stack: its scripts read the statsd exporter's
//! Prometheus page (`statsd:9102/metrics`). We have no statsd; this serves
//! our node's `limiter_rls_descriptors_total` under the names upstream's
//! exporter mapping (`examples/prom-statsd-exporter/conf.yaml`) gives them:
//! `ratelimit_service_rate_limit_{within_limit,over_limit}{domain,key1}`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Our outcome, and the statistic upstream counts it under.
const OUTCOMES: &[(&str, &str)] = &[("ok", "within_limit"), ("over_limit", "over_limit")];

/// Our /metrics in upstream's exporter's names: a descriptor label
/// `rl.unspec_unspecified_value` is domain `rl` and key1 the rest.
pub fn translate(metrics: &str) -> String {
    let mut page = String::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("limiter_rls_descriptors_total{descriptor=\"") else {
            continue;
        };
        let Some((descriptor, rest)) = rest.split_once("\",outcome=\"") else {
            continue;
        };
        let Some((outcome, value)) = rest.split_once("\"} ") else {
            continue;
        };
        let Some(&(_, theirs)) = OUTCOMES.iter().find(|(ours, _)| *ours == outcome) else {
            continue;
        };
        let (domain, key) = descriptor.split_once('.').unwrap_or((descriptor, ""));
        page.push_str(&format!(
            "ratelimit_service_rate_limit_{theirs}{{domain=\"{domain}\",key1=\"{key}\"}} {value}\n"
        ));
    }
    page
}

/// The stand-in on a port of its own, answering every request with the
/// node's metrics translated; stopped when dropped.
pub struct Statsd {
    pub port: u16,
    stop: Arc<AtomicBool>,
    served: Arc<Mutex<String>>,
}

impl Statsd {
    pub fn start(node: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(Mutex::new(String::new()));
        let (stopped, last) = (Arc::clone(&stop), Arc::clone(&served));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Acquire) {
                    break;
                }
                if let Ok(stream) = stream {
                    answer(stream, node, &last);
                }
            }
        });
        Self { port, stop, served }
    }

    /// The page it served last, for a failure message.
    pub fn last(&self) -> String {
        self.served.lock().unwrap().clone()
    }
}

impl Drop for Statsd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    }
}

fn answer(mut stream: TcpStream, node: SocketAddr, last: &Mutex<String>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let metrics = ureq::get(&format!("http://{node}/metrics"))
        .timeout(Duration::from_secs(5))
        .call()
        .ok()
        .and_then(|r| r.into_string().ok())
        .unwrap_or_default();
    let page = translate(&metrics);
    *last.lock().unwrap() = page.clone();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
}

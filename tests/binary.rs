//! Black-box tests of the `crdt-limiter` binary: settings refused at start,
//! the default limit on the real clock, and graceful shutdown on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_crdt-limiter"));
    // Only what a test sets: no LIMITER_ variable leaks in from the environment.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("LIMITER_")) {
        cmd.env_remove(key);
    }
    cmd
}

/// Runs the binary expecting it to refuse to start; returns its stderr.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn bad_settings_stop_start_up_naming_the_setting() {
    let err = refused(binary().args(["--capacity", "0"]));
    assert!(
        err.contains("`capacity`") && err.contains("LIMITER_CAPACITY"),
        "{err}"
    );

    let err = refused(binary().env("LIMITER_REFILL_PER_SEC", "fast"));
    assert!(
        err.contains("`refill-per-sec`") && err.contains("fast"),
        "{err}"
    );

    let err = refused(binary().args(["--max-keys", "lots"]));
    assert!(err.contains("--max-keys"), "{err}");

    let err = refused(binary().args(["--listen", "localhost"]));
    assert!(err.contains("`listen`"), "{err}");

    let err = refused(binary().args(["--log", "[[["]));
    assert!(err.contains("`log`"), "{err}");

    let file = std::env::temp_dir().join(format!("limiter-bad-{}.toml", std::process::id()));
    std::fs::write(&file, "capacity = 5\nrefil-per-sec = 2\n").unwrap();
    let err = refused(binary().arg("--config").arg(&file));
    assert!(
        err.contains("`config`") && err.contains("refil-per-sec"),
        "{err}"
    );
    std::fs::remove_file(&file).unwrap();
}

#[test]
fn help_documents_every_setting_with_its_environment_variable() {
    let out = binary().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for env in [
        "LIMITER_CONFIG",
        "LIMITER_LISTEN",
        "LIMITER_CAPACITY",
        "LIMITER_REFILL_PER_SEC",
        "LIMITER_MAX_KEYS",
        "LIMITER_WORKERS",
        "LIMITER_LOG",
    ] {
        assert!(help.contains(env), "{env} missing from --help");
    }
}

/// A node process; killed if the test ends without stopping it.
struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    fn start(args: &[&str]) -> Self {
        let mut child = binary()
            .args(["--listen", "127.0.0.1:0", "--log", "info"])
            .args(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut lines = stdout.lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                let rest = line.split_once("addr=")?.1;
                rest.split_whitespace().next()?.parse().ok()
            })
            .expect("the node logs the address it serves on");
        // Keep draining the log so the node never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Node { child, addr }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn default_settings_allow_ten_then_limit_with_retry_after_one() {
    let node = Node::start(&[]);
    let head = b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: alice";
    let replies: Vec<_> = (0..11)
        .map(|_| common::raw_request(node.addr, head))
        .collect();
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [vec![200; 10], vec![429]].concat());
    assert_eq!(replies[10].header("Retry-After"), "1");
}

#[test]
fn sigterm_stops_the_node_cleanly() {
    let mut node = Node::start(&[]);
    let head = b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: zoe";
    assert_eq!(common::raw_request(node.addr, head).status, 200);
    let pid = node.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(std::net::TcpStream::connect(node.addr).is_err());
}

//! Black-box tests of the `crdt-limiter` binary: settings refused at start,
//! the default limit on the real clock, and graceful shutdown on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::NodeProcess;

fn binary() -> Command {
    NodeProcess::command()
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

#[test]
fn default_settings_allow_ten_then_limit_with_retry_after_one() {
    let node = NodeProcess::start(&[]);
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
    let mut node = NodeProcess::start(&[]);
    let head = b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: zoe";
    assert_eq!(common::raw_request(node.addr, head).status, 200);
    let status = node.terminate(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    assert!(std::net::TcpStream::connect(node.addr).is_err());
}

//! Black-box tests of the `crdt-limiter` binary: settings refused at start,
//! the default limit on the real clock, and graceful shutdown on SIGTERM.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{self, NodeProcess};

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
        "LIMITER_RULES",
        "LIMITER_ADMIN_TOKEN",
        "LIMITER_DATA_DIR",
        "LIMITER_CONFIG_TOPIC",
        "LIMITER_DECISION_TOKEN",
        "LIMITER_DECISION_TOKEN_FILE",
        "LIMITER_HEAD_TIMEOUT_MS",
        "LIMITER_BODY_TIMEOUT_MS",
        "LIMITER_MAX_CONNECTIONS",
    ] {
        assert!(help.contains(env), "{env} missing from --help");
    }
}

#[test]
fn default_settings_allow_ten_then_limit_with_retry_after_one() {
    let node = NodeProcess::start(&[]);
    let head = b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: alice";
    let replies: Vec<_> = (0..11)
        .map(|_| helpers::raw_request(node.addr, head))
        .collect();
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [vec![200; 10], vec![429]].concat());
    assert_eq!(replies[10].header("Retry-After"), "1");
}

#[test]
fn sigterm_stops_the_node_cleanly() {
    let mut node = NodeProcess::start(&[]);
    let head = b"POST /protected HTTP/1.1\r\nHost: x\r\nX-User-ID: zoe";
    assert_eq!(helpers::raw_request(node.addr, head).status, 200);
    let status = node.terminate(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0));
    assert!(std::net::TcpStream::connect(node.addr).is_err());
}

#[test]
fn a_bad_rules_file_or_admin_setting_stops_start_up() {
    let dir = helpers::temp_dir("bad-rules");
    let file = dir.join("rules.toml");
    std::fs::write(
        &file,
        "[[rules]]\nname = \"orders\"\nkey = \"route\"\ncapacity = 5\nrefill_per_sec = 1\n",
    )
    .unwrap();
    let err = refused(binary().arg("--rules").arg(&file));
    assert!(
        err.contains("LIMITER_RULES") && err.contains(r#"rule "orders" field `key`"#),
        "{err}"
    );
    let err = refused(binary().env("LIMITER_RULES", dir.join("missing.toml")));
    assert!(
        err.contains("`rules`") && err.contains("missing.toml"),
        "{err}"
    );

    let err = refused(binary().args(["--admin-token", "0123456789abcdef"]));
    assert!(err.contains("`data-dir`"), "{err}");
    let err = refused(
        binary()
            .args(["--admin-token", "short", "--data-dir"])
            .arg(&dir),
    );
    assert!(err.contains("`admin-token`"), "{err}");
}

/// The limit `POST /v1/check` reports for a fresh user.
fn limit_for_new_user(node: &NodeProcess, user: &str) -> u64 {
    let reply = node.send(
        "POST",
        "/v1/check",
        None,
        Some(&format!(r#"{{"user":"{user}"}}"#)),
    );
    reply.json()["limit"].as_u64().unwrap()
}

const RULES: &str =
    "[[rules]]\nname = \"per-user\"\nkey = \"user\"\ncapacity = CAP\nrefill_per_sec = 1\n";

#[test]
fn sighup_reloads_a_valid_rules_file_and_refuses_an_invalid_one() {
    let file = helpers::temp_dir("reload").join("rules.toml");
    std::fs::write(&file, RULES.replace("CAP", "3")).unwrap();
    // SIGHUP alone: the file is not watched, so each write is one reload.
    let flags = ["--rules", file.to_str().unwrap(), "--config-poll-ms", "0"];
    let node = NodeProcess::start(&flags);
    assert_eq!(limit_for_new_user(&node, "a"), 3);

    std::fs::write(&file, RULES.replace("CAP", "7")).unwrap();
    node.signal("HUP");
    helpers::eventually(
        Duration::from_secs(10),
        "the new rules file applied",
        || node.metric("limiter_rules_reloads_total{outcome=\"applied\"}") == 1.0,
    );
    assert_eq!(limit_for_new_user(&node, "b"), 7);

    std::fs::write(&file, RULES.replace("CAP", "0")).unwrap();
    node.signal("HUP");
    helpers::eventually(
        Duration::from_secs(10),
        "the bad rules file refused",
        || node.metric("limiter_rules_reloads_total{outcome=\"refused\"}") == 1.0,
    );
    assert_eq!(limit_for_new_user(&node, "c"), 7, "the old rules stay");
    assert_eq!(node.get("/healthz").status, 200);
}

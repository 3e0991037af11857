//! Token files read again on SIGHUP, on the real binary: a rotated admin or
//! decision token takes effect with no restart, the old one is refused from
//! then on, and a bad new file (empty, short) is refused and logged without
//! its content while the token in effect stays.

use std::path::Path;
use std::time::Duration;

use crate::helpers::{eventually, temp_dir, NodeProcess};

const ADMIN: [&str; 2] = [
    "admin-token-first-0123456789",
    "admin-token-second-0123456789",
];
const DECISION: [&str; 2] = [
    "decision-token-first-0123456789",
    "decision-token-second-0123456789",
];

fn admin_status(node: &NodeProcess, token: &str) -> u16 {
    node.send("GET", "/v1/admin/rules", Some(token), None)
        .status
}

/// Whether the decision APIs take `token` (a request without a user is
/// refused after the token check, never with 401).
fn decision_taken(node: &NodeProcess, token: &str) -> bool {
    node.send("POST", "/protected", Some(token), None).status != 401
}

fn write(file: &Path, text: &str) {
    std::fs::write(file, text).unwrap();
}

#[test]
fn rotated_token_files_take_effect_on_sighup_and_a_bad_one_is_refused() {
    let dir = temp_dir("secrets-reload");
    let (admin, decision) = (dir.join("admin"), dir.join("decision"));
    write(&admin, &format!("{}\n", ADMIN[0]));
    write(&decision, &format!("{}\n", DECISION[0]));
    let data = dir.join("data");
    let node = NodeProcess::start(&[
        "--admin-token-file",
        admin.to_str().unwrap(),
        "--decision-token-file",
        decision.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(admin_status(&node, ADMIN[0]), 200);
    assert!(decision_taken(&node, DECISION[0]));

    write(&admin, &format!("{}\n", ADMIN[1]));
    write(&decision, &format!("{}\n", DECISION[1]));
    node.signal("HUP");
    eventually(Duration::from_secs(10), "the new admin token", || {
        admin_status(&node, ADMIN[1]) == 200
    });
    assert_eq!(admin_status(&node, ADMIN[0]), 401);
    eventually(Duration::from_secs(10), "the new decision token", || {
        decision_taken(&node, DECISION[1])
    });
    assert!(!decision_taken(&node, DECISION[0]));

    write(&admin, "short\n");
    write(&decision, "");
    node.signal("HUP");
    eventually(Duration::from_secs(10), "both bad files refused", || {
        node.logged("token file refused").len() >= 2
    });
    let refused = node.logged("token file refused");
    assert!(
        refused.iter().any(|l| l.contains("admin-token-file")),
        "{refused:?}"
    );
    assert!(refused.iter().all(|l| !l.contains("short")), "{refused:?}");
    assert_eq!(admin_status(&node, ADMIN[1]), 200);
    assert!(decision_taken(&node, DECISION[1]));
    for token in [ADMIN, DECISION].concat() {
        assert!(node.logged(token).is_empty(), "a token in the log");
    }
}

//! The real programs the tests drive (Envoy, Caddy, nginx, Chromium), found where
//! `scripts/tools.sh` installs them. A missing one fails the test with the
//! command that installs it: these tests never skip silently.

use std::path::PathBuf;
use std::process::Command;

/// Where `tool` is installed; panics saying how to install it if it is not.
pub fn path(tool: &str) -> PathBuf {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tools.sh");
    let found = Command::new(script)
        .args(["path", tool])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|path| !path.is_empty());
    match found {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "{tool} is not installed; `scripts/tools.sh install {tool}` installs it \
             (scripts/test.sh does so before the tests)"
        ),
    }
}

/// A free TCP port on 127.0.0.1 (for programs that cannot report the port they took).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

//! TLS on the node's own listeners, against the real binary: curl and a
//! rustls client over HTTPS, with and without a client certificate under
//! mTLS; a certificate swapped on disk served to the next connection while
//! one opened before keeps working; a plaintext client or one that never
//! handshakes served nothing; bad files refusing the start by setting; and
//! the admin token read from a file, never in the log; and Envoy calling
//! the rate-limit service over TLS and mTLS (`transport_socket` on its
//! limiter cluster), a user seeing 200 then 429 through it, and Envoy still
//! served after the gRPC certificate is rotated on disk.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::helpers::proxy::{envoy, envoy_address, example_text, Proxy, Upstream};
use crate::helpers::tls::{client, der, Ca, Https, LoggedNode};
use crate::helpers::{eventually, metric, temp_dir, tools, NodeProcess};

/// A CA and a server certificate for localhost in `dir` (`server.pem`,
/// `server.key`), and the flags that serve HTTPS with them.
fn https_flags(dir: &Path, ca: &Ca) -> Vec<String> {
    ca.leaf(dir, "server", &["localhost", "127.0.0.1"]);
    let file = |name: &str| dir.join(name).display().to_string();
    vec![
        "--tls-cert-file".into(),
        file("server.pem"),
        "--tls-key-file".into(),
        file("server.key"),
    ]
}

fn curl(url: &str, args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .arg(url)
        .output()
        .unwrap()
}

fn strs(flags: &[String]) -> Vec<&str> {
    flags.iter().map(String::as_str).collect()
}

#[test]
fn https_is_served_and_a_plaintext_client_gets_nothing() {
    let (dir, ca) = (temp_dir("tls-https"), Ca::new("test CA"));
    let flags = https_flags(&dir, &ca);
    let node = LoggedNode::start(&dir, &strs(&flags));
    let ca_file = ca.write(&dir, "ca");
    let url = format!("https://localhost:{}/healthz", node.addr.port());
    let out = curl(&url, &["--cacert", ca_file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}\n{}", node.log());
    // Plain HTTP to the TLS port: no HTTP answer comes back.
    let mut plain = TcpStream::connect(node.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let out = curl(
        &format!("http://127.0.0.1:{}/healthz", node.addr.port()),
        &[],
    );
    assert!(!out.status.success(), "plain curl got {out:?}");
}

#[test]
fn mtls_serves_a_client_with_a_certificate_and_refuses_one_without() {
    let (dir, ca) = (temp_dir("tls-mtls"), Ca::new("server CA"));
    let clients = Ca::new("client CA");
    let mut flags = https_flags(&dir, &ca);
    let client_ca = clients.write(&dir, "client-ca");
    flags.extend([
        "--tls-client-ca-file".into(),
        client_ca.display().to_string(),
    ]);
    let node = LoggedNode::start(&dir, &strs(&flags));
    let cert = clients.leaf(&dir, "client", &["envoy"]);
    let key = std::fs::read_to_string(dir.join("client.key")).unwrap();
    let ca_file = ca.write(&dir, "ca");
    let url = format!("https://localhost:{}/healthz", node.addr.port());
    let (cert_file, key_file) = (dir.join("client.pem"), dir.join("client.key"));
    let with = curl(
        &url,
        &[
            "--cacert",
            ca_file.to_str().unwrap(),
            "--cert",
            cert_file.to_str().unwrap(),
            "--key",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(with.status.success(), "{with:?}\n{}", node.log());
    let without = curl(&url, &["--cacert", ca_file.to_str().unwrap()]);
    assert!(
        !without.status.success(),
        "served without a certificate: {without:?}"
    );
    assert!(without.stdout.is_empty());
    // The same through rustls: a handshake with the certificate, a refusal without.
    let mut https = Https::connect(node.addr, client(&ca.pem, Some((&cert, &key)))).unwrap();
    assert_eq!(https.get("/healthz").unwrap().0, 200);
    let refused =
        Https::connect(node.addr, client(&ca.pem, None)).and_then(|mut c| c.get("/healthz"));
    assert!(
        refused.is_err(),
        "served without a certificate: {refused:?}"
    );
    // A certificate of another CA is refused as well.
    let stranger = Ca::new("stranger").leaf(&dir, "stranger", &["envoy"]);
    let key = std::fs::read_to_string(dir.join("stranger.key")).unwrap();
    let refused = Https::connect(node.addr, client(&ca.pem, Some((&stranger, &key))))
        .and_then(|mut c| c.get("/healthz"));
    assert!(
        refused.is_err(),
        "served a stranger's certificate: {refused:?}"
    );
}

#[test]
fn a_swapped_certificate_serves_the_next_connection_while_an_open_one_keeps_working() {
    let (dir, ca) = (temp_dir("tls-rotate"), Ca::new("test CA"));
    let flags = https_flags(&dir, &ca);
    let node = LoggedNode::start(&dir, &strs(&flags));
    let config = client(&ca.pem, None);
    let first_pem = std::fs::read_to_string(dir.join("server.pem")).unwrap();
    let mut before = Https::connect(node.addr, config.clone()).unwrap();
    assert_eq!(before.server_cert(), der(&first_pem));
    assert_eq!(before.get("/healthz").unwrap().0, 200);

    // cert-manager's way: new files written over the old ones.
    let second_pem = ca.leaf(&dir, "server", &["localhost", "127.0.0.1"]);
    let metrics_url = format!("https://localhost:{}/metrics", node.addr.port());
    let applied = r#"limiter_tls_reloads_total{listener="http",outcome="applied"}"#;
    eventually(
        Duration::from_secs(15),
        "the new certificate served",
        || {
            Https::connect(node.addr, config.clone())
                .is_ok_and(|next| next.server_cert() == der(&second_pem))
        },
    );
    let mut next = Https::connect(node.addr, config.clone()).unwrap();
    let (status, text) = next.get("/metrics").unwrap();
    assert_eq!(status, 200, "{metrics_url}");
    assert!(metric(&text, applied) >= 1.0, "{text}");
    // The connection opened before the swap still answers.
    assert_eq!(before.get("/healthz").unwrap().0, 200);
    assert_eq!(before.server_cert(), der(&first_pem));

    // A bad file at reload: refused, counted, and the certificate stays.
    std::fs::write(dir.join("server.pem"), "not a certificate").unwrap();
    let refused = r#"limiter_tls_reloads_total{listener="http",outcome="refused"}"#;
    eventually(Duration::from_secs(15), "the bad file refused", || {
        let mut c = Https::connect(node.addr, config.clone()).unwrap();
        metric(&c.get("/metrics").unwrap().1, refused) >= 1.0
    });
    let kept = Https::connect(node.addr, config).unwrap();
    assert_eq!(kept.server_cert(), der(&second_pem));
    assert!(
        node.log().contains("tls-cert-file"),
        "the log names the setting"
    );
}

#[test]
fn a_client_that_never_handshakes_is_closed_in_bounded_time() {
    let (dir, ca) = (temp_dir("tls-silent"), Ca::new("test CA"));
    let mut flags = https_flags(&dir, &ca);
    flags.extend(["--head-timeout-ms".into(), "500".into()]);
    let node = LoggedNode::start(&dir, &strs(&flags));
    let mut silent = TcpStream::connect(node.addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    let read = silent.read_to_end(&mut got);
    assert!(read.is_ok(), "not closed: {read:?}");
    // Closed by the timeout: not at once, and not never.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "closed at once: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn a_late_head_on_a_kept_alive_tls_connection_is_answered_408() {
    let (dir, ca) = (temp_dir("tls-late-head"), Ca::new("test CA"));
    let mut flags = https_flags(&dir, &ca);
    flags.extend(["--head-timeout-ms".into(), "500".into()]);
    let node = LoggedNode::start(&dir, &strs(&flags));
    let mut https = Https::connect(node.addr, client(&ca.pem, None)).unwrap();
    assert_eq!(https.get("/healthz").unwrap().0, 200);
    // Half a head, then nothing: the timeout's JSON 408, over TLS.
    let (status, body) = https.send_raw(b"GET /healthz HTTP/1.1\r\nHo").unwrap();
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("head_timeout"), "{body}");
}

#[test]
fn bad_tls_files_refuse_the_start_naming_the_setting() {
    let (dir, ca) = (temp_dir("tls-bad"), Ca::new("test CA"));
    let flags = https_flags(&dir, &ca);
    let bad_key = dir.join("bad.key");
    std::fs::write(&bad_key, "no key here").unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "--tls-cert-file",
                &flags[1],
                "--tls-key-file",
                "/nonexistent.key",
            ],
            "tls-key-file",
        ),
        (&["--tls-cert-file", &flags[1]], "tls-key-file"),
        (
            &[
                "--tls-cert-file",
                &flags[1],
                "--tls-key-file",
                bad_key.to_str().unwrap(),
            ],
            "tls-key-file",
        ),
    ];
    for (args, setting) in cases {
        let out = NodeProcess::command()
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(said.contains(&format!("`{setting}`")), "{args:?}: {said}");
        assert!(
            !said.contains("no key here"),
            "the key file's content shown: {said}"
        );
    }
}

#[test]
fn the_admin_token_from_a_file_works_and_is_never_logged() {
    let dir = temp_dir("tls-admin-file");
    let token = "admin-token-from-a-file-0123456789";
    std::fs::write(dir.join("admin-token"), format!("{token}\n")).unwrap();
    let (data, file) = (dir.join("data"), dir.join("admin-token"));
    let args = [
        "--admin-token-file",
        file.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let node = LoggedNode::start(&dir, &args);
    let url = format!("http://{}/v1/admin/rules", node.addr);
    let bearer = format!("Authorization: Bearer {token}");
    let out = curl(
        &url,
        &["-o", "/dev/null", "-w", "%{http_code}", "-H", &bearer],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200",
        "{}",
        node.log()
    );
    let wrong = curl(
        &url,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Authorization: Bearer wrong-token-0123456789",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&wrong.stdout), "401");
    assert!(!node.log().contains(token), "the token is in the log");
    // Both the token and its file: refused, naming the file's setting.
    let out = NodeProcess::command()
        .args(["--listen", "127.0.0.1:0", "--admin-token", token])
        .args(args)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("`admin-token-file`"), "{said}");
    assert!(!said.contains(token), "{said}");
}

/// Envoy's `transport_socket` for the limiter cluster (docs/operations.md
/// shows it): the CA the node's certificate is checked against and, for
/// mTLS, Envoy's own certificate.
fn envoy_transport_socket(dir: &Path, client_cert: bool) -> String {
    let d = dir.display();
    let identity = if client_cert {
        format!(
            "            tls_certificates:\n\
             \x20             - certificate_chain: {{ filename: {d}/envoy.pem }}\n\
             \x20               private_key: {{ filename: {d}/envoy.key }}\n"
        )
    } else {
        String::new()
    };
    format!(
        "      transport_socket:\n\
         \x20       name: envoy.transport_sockets.tls\n\
         \x20       typed_config:\n\
         \x20         \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n\
         \x20         sni: localhost\n\
         \x20         common_tls_context:\n\
         \x20           alpn_protocols: [h2]\n\
         {identity}\
         \x20           validation_context:\n\
         \x20             trusted_ca: {{ filename: {d}/ca.pem }}\n"
    )
}

/// Envoy (examples/proxies/envoy-ratelimit.yaml) in front of an app, asking
/// `node`'s rate-limit service over TLS with `socket`.
fn envoy_over_tls(dir: &Path, node: &LoggedNode, app: &Upstream, socket: &str) -> Proxy {
    let grpc = node.grpc.expect("the node logs its gRPC address");
    let mut config = example_text("envoy-ratelimit.yaml").replace(
        &envoy_address("app", 8080),
        &envoy_address("127.0.0.1", app.addr.port()),
    );
    for i in 1..=3 {
        let limiter = envoy_address(&format!("limiter-{i}"), 8081);
        config = config.replace(&limiter, &envoy_address("127.0.0.1", grpc.port()));
    }
    let http2 = "explicit_http_config: { http2_protocol_options: {} }\n";
    assert!(
        config.contains(http2),
        "the example's limiter cluster changed"
    );
    let config = config.replace(http2, &format!("{http2}{socket}"));
    envoy(&config, tools::free_port(), dir)
}

/// A node serving the rate-limit service over TLS (mTLS with `client_ca`).
fn rls_node(dir: &Path, ca: &Ca, client_ca: Option<&Path>) -> LoggedNode {
    ca.leaf(dir, "grpc", &["localhost"]);
    let rules = dir.join("ratelimit.yaml");
    std::fs::write(&rules, example_text("ratelimit.yaml")).unwrap();
    let file = |name: &str| dir.join(name).display().to_string();
    let mut args = vec![
        "--grpc-listen".to_string(),
        "127.0.0.1:0".into(),
        "--rls-config".into(),
        file("ratelimit.yaml"),
        "--grpc-tls-cert-file".into(),
        file("grpc.pem"),
        "--grpc-tls-key-file".into(),
        file("grpc.key"),
    ];
    if let Some(client_ca) = client_ca {
        args.extend([
            "--grpc-tls-client-ca-file".into(),
            client_ca.display().to_string(),
        ]);
    }
    LoggedNode::start(dir, &strs(&args))
}

/// Five calls pass (the file's 5 a minute), the sixth is Envoy's 429.
fn five_then_refused(envoy: &Proxy, node: &LoggedNode) {
    let alice = [("X-User-ID", "alice")];
    for _ in 0..5 {
        let reply = envoy.request("GET", "/api/orders", &alice);
        assert_eq!(
            reply.status,
            200,
            "{reply:?}\n{}\n{}",
            envoy.log(),
            node.log()
        );
    }
    let refused = envoy.request("GET", "/api/orders", &alice);
    assert_eq!(refused.status, 429, "{refused:?}\n{}", envoy.log());
    assert_eq!(refused.header("x-envoy-ratelimited"), "true");
}

#[test]
fn envoy_calls_the_rate_limit_service_over_tls() {
    let (dir, ca) = (temp_dir("tls-envoy"), Ca::new("test CA"));
    ca.write(&dir, "ca");
    let node = rls_node(&dir, &ca, None);
    let app = Upstream::start();
    let envoy = envoy_over_tls(&dir, &node, &app, &envoy_transport_socket(&dir, false));
    five_then_refused(&envoy, &node);
    assert_eq!(app.hits(), 5, "the refused request never reaches the app");

    // The gRPC certificate rotated on disk: reloaded, and Envoy still served.
    ca.leaf(&dir, "grpc", &["localhost"]);
    let metrics = format!("http://{}/metrics", node.addr);
    let applied = r#"limiter_tls_reloads_total{listener="grpc",outcome="applied"}"#;
    eventually(
        Duration::from_secs(15),
        "the gRPC certificate reloaded",
        || {
            metric(
                &String::from_utf8_lossy(&curl(&metrics, &[]).stdout),
                applied,
            ) >= 1.0
        },
    );
    let bob = envoy.request("GET", "/api/orders", &[("X-User-ID", "bob")]);
    assert_eq!(bob.status, 200, "{bob:?}\n{}", envoy.log());
}

#[test]
fn envoy_calls_the_rate_limit_service_over_mtls_and_without_its_certificate_is_refused() {
    let (dir, ca) = (temp_dir("tls-envoy-mtls"), Ca::new("test CA"));
    ca.write(&dir, "ca");
    let clients = Ca::new("client CA");
    clients.leaf(&dir, "envoy", &["envoy"]);
    let client_ca = clients.write(&dir, "client-ca");
    let node = rls_node(&dir, &ca, Some(&client_ca));
    let app = Upstream::start();
    let with = envoy_over_tls(&dir, &node, &app, &envoy_transport_socket(&dir, true));
    five_then_refused(&with, &node);
    drop(with);
    // Without its certificate the handshake fails: no decision, and Envoy
    // (failure_mode_deny) refuses rather than letting the call through.
    let bare_dir = dir.join("bare");
    std::fs::create_dir_all(&bare_dir).unwrap();
    let bare = envoy_over_tls(&bare_dir, &node, &app, &envoy_transport_socket(&dir, false));
    let reply = bare.request("GET", "/api/orders", &[("X-User-ID", "bob")]);
    assert_eq!(reply.status, 500, "{reply:?}\n{}", bare.log());
    assert_eq!(app.hits(), 5, "no call passed without a decision");
}

//! The limiter behind the proxies people run: real Caddy (`forward_auth`),
//! real nginx (`auth_request`) and real Envoy (`ext_authz` over HTTP) in front
//! of a counting app, configured with the
//! snippets of docs/proxies.md (`examples/proxies/`). A client gets 200 from the app,
//! then 429 with `Retry-After` that never reaches the app. A missing proxy
//! fails the test with the command that installs it.

use std::net::SocketAddr;
use std::process::Command;

use crate::helpers::proxy::{envoy, envoy_address, example, example_text, Proxy, Upstream};
use crate::helpers::{temp_dir, tools, TestNode};

/// One rule for GETs under `/api` from loopback clients: capacity 2, a slow
/// refill. A request is limited only if the proxy forwarded its method and
/// route (the limiter sees the proxy's own GET or HEAD of `/v1/forward-auth`
/// otherwise), so a 429 proves both arrived.
fn node() -> TestNode {
    node_for_clients("127.0.0.0/8")
}

/// [`node`], with the rule matching clients in `net`.
fn node_for_clients(net: &str) -> TestNode {
    let rules = temp_dir("proxy-rules").join("rules.toml");
    let text = r#"
        [[rules]]
        name = "api-reads"
        match = { route = "/api", method = "GET", ip = "NET" }
        key = "user"
        capacity = 2
        refill_per_sec = "1/60"
    "#;
    std::fs::write(&rules, text.replace("NET", net)).unwrap();
    TestNode::start(&["--rules", rules.to_str().unwrap()])
}

/// Two requests reach the app; the third is refused by the limiter with a
/// 429 and `Retry-After` and does not.
fn allowed_then_limited(proxy: &Proxy, app: &Upstream) {
    let user = [("X-User-ID", "alice")];
    for remaining in ["1", "0"] {
        let ok = proxy.request("GET", "/api/orders?page=1", &user);
        assert_eq!(ok.status, 200, "{ok:?}\n{}", proxy.log());
        assert_eq!(ok.body, "upstream");
        if proxy.name != "caddy" {
            assert_eq!(ok.header("X-RateLimit-Remaining"), remaining);
        }
    }
    assert_eq!(app.hits(), 2);
    let limited = proxy.request("GET", "/api/orders", &user);
    assert_eq!(limited.status, 429, "{limited:?}\n{}", proxy.log());
    assert_eq!(limited.header("Retry-After"), "60");
    assert_eq!(limited.header("X-RateLimit-Remaining"), "0");
    assert!(limited.body.contains("too_many_requests"), "{limited:?}");
    assert_eq!(app.hits(), 2, "a refused request reached the app");
    // A client cannot choose the route or method the limiter counts.
    let spoofed = [
        ("X-User-ID", "alice"),
        ("X-Forwarded-Uri", "/elsewhere"),
        ("X-Original-URI", "/elsewhere"),
        ("X-Forwarded-Method", "POST"),
    ];
    let spoof = proxy.request("GET", "/api/orders", &spoofed);
    assert_eq!(spoof.status, 429, "{spoof:?}\n{}", proxy.log());
    assert_eq!(app.hits(), 2);
    // Another method or route, or another user, is not limited by the rule;
    // no user at all is refused before the app.
    assert_eq!(proxy.request("POST", "/api/orders", &user).status, 200);
    assert_eq!(proxy.request("GET", "/health", &user).status, 200);
    assert_eq!(
        proxy
            .request("GET", "/api/orders", &[("X-User-ID", "bob")])
            .status,
        200
    );
    assert_eq!(proxy.request("GET", "/", &[]).status, 401);
    assert_eq!(app.hits(), 5);
}

#[test]
fn caddy_forward_auth_lets_allowed_requests_through_and_refuses_with_429() {
    let caddy = tools::path("caddy");
    let (node, app) = (node(), Upstream::start());
    let dir = temp_dir("caddy");
    let port = tools::free_port();
    // The site block of docs/proxies.md, on a test port; the global options keep Caddy
    // off the network and out of the home directory.
    let site = example("Caddyfile", node.addr, app.addr).replace(
        ":80 {",
        &format!("http://127.0.0.1:{port} {{\n\tbind 127.0.0.1"),
    );
    let config = format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}");
    std::fs::write(dir.join("Caddyfile"), config).unwrap();
    let mut command = Command::new(caddy);
    command
        .args(["run", "--config", "Caddyfile", "--adapter", "caddyfile"])
        .current_dir(&dir)
        .env("HOME", &dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"));
    let proxy = Proxy::start("caddy", command, port, &dir);
    allowed_then_limited(&proxy, &app);
}

#[test]
fn nginx_auth_request_lets_allowed_requests_through_and_refuses_with_429() {
    let (node, app) = (node(), Upstream::start());
    let proxy = nginx("nginx", node.addr, &app);
    allowed_then_limited(&proxy, &app);
}

#[test]
fn envoy_ext_authz_lets_allowed_requests_through_and_refuses_with_429() {
    // Envoy's X-Forwarded-For names the client, except that a loopback client
    // is given the machine's own address: any address here.
    let (node, app) = (node_for_clients("0.0.0.0/0"), Upstream::start());
    let config = example_text("envoy-ext-authz.yaml")
        .replace(
            &envoy_address("limiter", 8000),
            &envoy_address("127.0.0.1", node.addr.port()),
        )
        .replace("http://limiter:8000", &format!("http://{}", node.addr))
        .replace(
            &envoy_address("app", 8080),
            &envoy_address("127.0.0.1", app.addr.port()),
        );
    let proxy = envoy(&config, tools::free_port(), &temp_dir("envoy-ext-authz"));
    allowed_then_limited(&proxy, &app);
}

#[test]
fn a_limiter_that_is_down_is_a_500_through_nginx_not_a_pass() {
    let app = Upstream::start();
    let nowhere = SocketAddr::from(([127, 0, 0, 1], tools::free_port()));
    let proxy = nginx("nginx-down", nowhere, &app);
    let reply = proxy.request("GET", "/", &[("X-User-ID", "alice")]);
    assert_eq!(reply.status, 500, "{reply:?}");
    assert!(!reply.headers.contains_key("retry-after"));
    assert_eq!(app.hits(), 0);
}

/// nginx serving docs/proxies.md's configuration on a free port, asking `limiter`
/// and passing to `app`: one process in the foreground (killing it stops
/// everything), every file it writes inside a fresh directory.
fn nginx(name: &str, limiter: SocketAddr, app: &Upstream) -> Proxy {
    let nginx = tools::path("nginx");
    let dir = temp_dir(name);
    let port = tools::free_port();
    let server = example("nginx.conf", limiter, app.addr)
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
    let d = dir.display();
    let config = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/client_body;\n    \
         proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    \
         uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\n{server}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let mut command = Command::new(nginx);
    command
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"));
    command.arg("-e").arg(dir.join("error.log"));
    Proxy::start("nginx", command, port, &dir)
}

#[test]
fn the_readme_shows_the_proxy_configurations_the_tests_run() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/proxies.md")).unwrap();
    for file in [
        "Caddyfile",
        "nginx.conf",
        "envoy-ext-authz.yaml",
        "envoy-ratelimit.yaml",
        "ratelimit.yaml",
    ] {
        let text = example_text(file);
        assert!(
            readme.contains(&text),
            "docs/proxies.md does not show examples/proxies/{file} as it is"
        );
    }
}

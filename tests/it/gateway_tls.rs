//! Gateway mode to `https://` upstreams, against a real nginx serving HTTPS
//! with certificates made here (a test CA, and leaves signed by it): with the
//! CA named in `upstream_ca_file` requests go through over TLS, the name
//! verified being the upstream's host; without it, with another CA, or for a
//! certificate of another name, the request is a 502 naming the route and
//! nginx serves nothing (it saw only a failed handshake). A CA file that is
//! not one stops the binary at start, naming the setting.

use std::path::Path;
use std::time::Duration;

use crate::helpers::proxy::Proxy;
use crate::helpers::tls::Ca;
use crate::helpers::{eventually, temp_dir, tools, NodeProcess, TestNode};

/// nginx ports: HTTPS with a certificate for localhost and 127.0.0.1, HTTPS
/// with one for another name only, and plain HTTP.
struct Ports {
    tls: u16,
    wrong_name: u16,
    plain: u16,
}

/// nginx serving `dir/static` on the three ports, logging each request's
/// scheme, Host, SNI, TLS version and URI to `dir/access.log`.
fn nginx(dir: &Path, ca: &Ca) -> (Proxy, Ports) {
    std::fs::create_dir_all(dir.join("static/docs")).unwrap();
    std::fs::write(dir.join("static/docs/guide.txt"), "the guide\n").unwrap();
    ca.leaf(dir, "local", &["localhost", "127.0.0.1"]);
    ca.leaf(dir, "elsewhere", &["elsewhere.example"]);
    let ports = Ports {
        tls: tools::free_port(),
        wrong_name: tools::free_port(),
        plain: tools::free_port(),
    };
    let d = dir.display();
    let tls = |port: u16, cert: &str| {
        format!(
            "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/{cert}.pem; \
             ssl_certificate_key {d}/{cert}.key; root {d}/static; }}\n"
        )
    };
    let config = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n    log_format tls '$scheme $http_host $ssl_server_name $ssl_protocol $request_uri';\n    \
         access_log {d}/access.log tls;\n    client_body_temp_path {d}/client_body;\n    \
         proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    \
         uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n    {}    {}    \
         server {{ listen 127.0.0.1:{plain}; root {d}/static; }}\n}}\n",
        tls(ports.tls, "local"),
        tls(ports.wrong_name, "elsewhere"),
        plain = ports.plain,
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    (Proxy::nginx(dir, ports.tls), ports)
}

/// nginx logs after the node has its answer: `count` once it is at least
/// `n` and a moment has passed for more (that should not come) to show.
fn settled(n: usize, count: impl Fn() -> usize) -> usize {
    eventually(
        Duration::from_secs(5),
        &format!("{n} requests in nginx's log"),
        || count() >= n,
    );
    std::thread::sleep(Duration::from_millis(200));
    count()
}

/// What nginx served, one line per request (see [`nginx`] for the fields),
/// at least `n` of them expected.
fn served(dir: &Path, n: usize) -> Vec<String> {
    let read = || {
        std::fs::read_to_string(dir.join("access.log"))
            .map(|t| t.lines().map(String::from).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    settled(n, || read().len());
    read()
}

/// Handshakes nginx logged as failed on `port` with `alert` (as the node
/// sent it), at least `n` of them expected.
fn handshakes(nginx: &Proxy, alert: &str, port: u16, n: usize) -> usize {
    let server = format!("server: 127.0.0.1:{port}");
    settled(n, || {
        nginx
            .log()
            .lines()
            .filter(|l| {
                l.contains(alert) && l.contains("while SSL handshaking") && l.ends_with(&server)
            })
            .count()
    })
}

/// A node whose gateway has `routes` (TOML), callers identified by address,
/// with `ca_file` as `upstream_ca_file` if any.
fn node(dir: &Path, name: &str, ca_file: Option<&Path>, routes: &str) -> TestNode {
    let ca = ca_file.map_or(String::new(), |p| {
        format!("upstream_ca_file = {:?}\n", p.display().to_string())
    });
    let file = dir.join(format!("{name}.toml"));
    let text =
        format!("{ca}upstream_cool_down_ms = 60000\n[identity]\nmethods = [\"ip\"]\n{routes}");
    std::fs::write(&file, text).unwrap();
    TestNode::start(&["--capacity", "100", "--gateway", file.to_str().unwrap()])
}

fn route(name: &str, prefix: &str, upstreams: &[String]) -> String {
    let list: Vec<String> = upstreams.iter().map(|u| format!("{u:?}")).collect();
    format!(
        "[[routes]]\nname = \"{name}\"\nprefix = \"{prefix}\"\nupstreams = [{}]\nstrip_prefix = true\n",
        list.join(", ")
    )
}

#[test]
fn https_upstreams_verified_with_the_ca_file_are_served_over_tls() {
    let dir = temp_dir("gateway-tls");
    let ca = Ca::new("test CA");
    let (nginx, ports) = nginx(&dir, &ca);
    std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
    let (tls, plain) = (ports.tls, ports.plain);
    let routes = [
        route(
            "by-name",
            "/name",
            &[format!("https://localhost:{tls}/docs")],
        ),
        route("by-ip", "/ip", &[format!("https://127.0.0.1:{tls}")]),
        route(
            "mixed",
            "/mixed",
            &[
                format!("https://localhost:{tls}/docs"),
                format!("http://127.0.0.1:{plain}/docs"),
            ],
        ),
    ];
    let node = node(
        &dir,
        "trusting",
        Some(&dir.join("ca.pem")),
        &routes.concat(),
    );
    for path in ["/name/guide.txt", "/ip/docs/guide.txt"] {
        let reply = node.get(path);
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "the guide\n"),
            "{path}: {}",
            nginx.log()
        );
    }
    // SNI and Host are the upstream's host (no SNI for an address); TLS 1.2 or 1.3.
    let lines = served(&dir, 2);
    let fields: Vec<Vec<&str>> = lines.iter().map(|l| l.split(' ').collect()).collect();
    assert_eq!(fields.len(), 2, "{lines:?}");
    let host = format!("localhost:{tls}");
    assert_eq!(fields[0][..3], ["https", host.as_str(), "localhost"]);
    assert_eq!(fields[0][4], "/docs/guide.txt");
    let ip_host = format!("127.0.0.1:{tls}");
    assert_eq!(fields[1][..3], ["https", ip_host.as_str(), "-"]);
    assert!(
        fields
            .iter()
            .all(|f| ["TLSv1.2", "TLSv1.3"].contains(&f[3])),
        "{lines:?}"
    );
    // One route, both kinds of upstream, taken in turn.
    for _ in 0..4 {
        assert_eq!(node.get("/mixed/guide.txt").status, 200);
    }
    let schemes: Vec<String> = served(&dir, 6)[2..]
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        schemes.iter().filter(|s| *s == "https").count(),
        2,
        "{schemes:?}"
    );
    assert_eq!(
        schemes.iter().filter(|s| *s == "http").count(),
        2,
        "{schemes:?}"
    );
}

#[test]
fn an_untrusted_or_misnamed_certificate_is_a_502_and_nginx_serves_nothing() {
    let dir = temp_dir("gateway-tls-refused");
    let ca = Ca::new("test CA");
    let (nginx, ports) = nginx(&dir, &ca);
    std::fs::write(dir.join("other-ca.pem"), Ca::new("another CA").pem).unwrap();
    std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
    let secure = route(
        "secure",
        "/docs",
        &[format!("https://localhost:{}", ports.tls)],
    );
    let misnamed = route(
        "misnamed",
        "/misnamed",
        &[format!("https://localhost:{}/docs", ports.wrong_name)],
    );
    let public_roots_only = node(&dir, "public", None, &secure);
    let other_ca = node(&dir, "other", Some(&dir.join("other-ca.pem")), &secure);
    let right_ca = node(&dir, "right", Some(&dir.join("ca.pem")), &misnamed);
    for (node, path, route) in [
        (&public_roots_only, "/docs/guide.txt", "secure"),
        (&other_ca, "/docs/guide.txt", "secure"),
        (&right_ca, "/misnamed/guide.txt", "misnamed"),
    ] {
        for reply in [node.get(path), node.send("POST", path, None, Some("{}"))] {
            assert_eq!(reply.status, 502, "{route}: {reply:?}");
            let body = reply.json();
            assert_eq!(body["error"], "bad_gateway");
            assert_eq!(body["route"], route);
            // As for a refused connection: the cause is for the node's log.
            let detail =
                format!("route {route}: no upstream answered: no upstream could be reached");
            assert_eq!(body["detail"], detail.as_str());
        }
    }
    // nginx saw the handshakes, refused by the node's side with the alert
    // for the cause: an unknown CA, a certificate for another name. Each
    // request tried again: a route's only upstream is tried even when down.
    let unknown_ca = handshakes(&nginx, "alert unknown ca", ports.tls, 4);
    assert_eq!(unknown_ca, 4, "{}", nginx.log());
    let misnamed = handshakes(&nginx, "alert bad certificate", ports.wrong_name, 2);
    assert_eq!(misnamed, 2, "{}", nginx.log());
    assert_eq!(served(&dir, 0), Vec::<String>::new(), "{}", nginx.log());
}

#[test]
fn a_route_skips_an_upstream_whose_certificate_fails_for_the_others() {
    let dir = temp_dir("gateway-tls-skip");
    let ca = Ca::new("test CA");
    let (nginx, ports) = nginx(&dir, &ca);
    std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
    let routes = route(
        "half",
        "/half",
        &[
            format!("https://localhost:{}/docs", ports.wrong_name),
            format!("https://localhost:{}/docs", ports.tls),
        ],
    );
    let node = node(&dir, "half", Some(&dir.join("ca.pem")), &routes);
    // A request without a body goes on to the next upstream; the failed one
    // is then skipped for the cool-down, as one that refuses connections.
    for _ in 0..4 {
        let reply = node.get("/half/guide.txt");
        assert_eq!((reply.status, reply.body.as_str()), (200, "the guide\n"));
    }
    let lines = served(&dir, 4);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let host = format!("localhost:{}", ports.tls);
    assert!(lines
        .iter()
        .all(|l| l.split(' ').nth(1) == Some(host.as_str())));
    let tried = handshakes(&nginx, "alert bad certificate", ports.wrong_name, 1);
    assert_eq!(tried, 1, "tried once, then skipped: {}", nginx.log());
}

#[test]
fn a_ca_file_that_is_missing_or_not_certificates_stops_the_start() {
    let dir = temp_dir("gateway-tls-start");
    std::fs::write(dir.join("empty.pem"), "").unwrap();
    std::fs::write(
        dir.join("key.pem"),
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    for (ca, why) in [
        ("missing.pem", "cannot read: No such file"),
        ("empty.pem", "holds no PEM certificate"),
        ("key.pem", "holds no PEM certificate"),
    ] {
        let path = dir.join(ca);
        let file = dir.join("gateway.toml");
        let text = format!(
            "upstream_ca_file = {:?}\n{}",
            path.display().to_string(),
            route("api", "/api", &["https://localhost".into()])
        );
        std::fs::write(&file, text).unwrap();
        let out = NodeProcess::command()
            .args(["--listen", "127.0.0.1:0", "--gateway"])
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        let named = format!("`upstream_ca_file`: {}: {why}", path.display());
        assert!(stderr.contains(&named), "{stderr}");
    }
}

/// The gateway file reloaded on SIGHUP brings its TLS settings along: a
/// first https upstream works at once, and a CA file changed to another CA
/// is what the workers' clients trust from then on.
#[test]
fn a_reload_adds_https_upstreams_and_changes_their_trust() {
    let dir = temp_dir("gateway-tls-reload");
    let ca = Ca::new("test CA");
    let other = Ca::new("another CA");
    let (nginx, ports) = nginx(&dir, &ca);
    std::fs::write(dir.join("ca.pem"), &ca.pem).unwrap();
    std::fs::write(dir.join("other.pem"), &other.pem).unwrap();
    let plain = route(
        "plain",
        "/p",
        &[format!("http://127.0.0.1:{}", ports.plain)],
    );
    let tls = route("tls", "/t", &[format!("https://localhost:{}", ports.tls)]);
    let file = dir.join("gateway.toml");
    let text = |ca: Option<&str>, routes: &str| {
        let ca = ca.map_or(String::new(), |name| {
            format!(
                "upstream_ca_file = {:?}\n",
                dir.join(name).display().to_string()
            )
        });
        format!("{ca}[identity]\nmethods = [\"ip\"]\n{routes}")
    };
    std::fs::write(&file, text(None, &plain)).unwrap();
    let node = NodeProcess::start(&["--capacity", "100", "--gateway", file.to_str().unwrap()]);
    node.wait_ready(Duration::from_secs(10));
    assert_eq!(node.get("/p/docs/guide.txt").status, 200);
    let reload = |text: String| {
        let series = "limiter_gateway_reloads_total{outcome=\"applied\"}";
        let before = node.metric(series);
        std::fs::write(&file, text).unwrap();
        node.signal("HUP");
        eventually(Duration::from_secs(10), "the gateway file reloaded", || {
            node.metric(series) > before
        });
    };
    reload(text(Some("ca.pem"), &(plain.clone() + &tls)));
    let reply = node.get("/t/docs/guide.txt");
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "the guide\n"),
        "{}",
        nginx.log()
    );
    reload(text(Some("other.pem"), &(plain + &tls)));
    let reply = node.get("/t/docs/guide.txt");
    assert_eq!(reply.status, 502, "{reply:?}");
    assert_eq!(node.get("/p/docs/guide.txt").status, 200);
}

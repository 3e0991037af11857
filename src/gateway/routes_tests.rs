//! Unit tests of gateway routes: validation naming the field, and matching
//! by longest prefix on segment boundaries, host and method.

use super::*;

fn file(name: &str, prefix: &str, upstreams: &[&str]) -> RouteFile {
    RouteFile {
        name: name.into(),
        prefix: prefix.into(),
        host: None,
        methods: None,
        upstreams: upstreams.iter().map(|u| u.to_string()).collect(),
        timeout_ms: None,
        idle_timeout_ms: None,
        max_body_bytes: None,
        strip_prefix: false,
        identity: None,
    }
}

#[test]
fn the_idle_timeout_is_the_routes_timeout_unless_set() {
    let mut slow = file("slow", "/slow", &["http://h"]);
    slow.timeout_ms = Some(2000);
    let mut streams = file("events", "/events", &["http://h"]);
    streams.idle_timeout_ms = Some(600_000);
    let routes = Routes::new(vec![slow, streams, file("plain", "/p", &["http://h"])]).unwrap();
    let idle = |name: &str| {
        let route = routes.routes().iter().find(|r| r.name == name).unwrap();
        (route.timeout, route.idle_timeout)
    };
    assert_eq!(
        idle("slow"),
        (Duration::from_secs(2), Duration::from_secs(2))
    );
    assert_eq!(idle("events"), (DEFAULT_TIMEOUT, Duration::from_secs(600)));
    assert_eq!(idle("plain"), (DEFAULT_TIMEOUT, DEFAULT_TIMEOUT));
}

#[test]
fn the_longest_prefix_wins_on_segment_boundaries() {
    let routes = Routes::new(vec![
        file("root", "/", &["http://127.0.0.1:1"]),
        file("api", "/api/", &["http://127.0.0.1:2"]),
        file("orders", "/api/orders", &["http://127.0.0.1:3"]),
    ])
    .unwrap();
    let name = |path| routes.find(None, "GET", path).map(|(_, r)| r.name.as_str());
    assert_eq!(name("/api/orders/7"), Some("orders"));
    assert_eq!(name("/api/orders"), Some("orders"));
    assert_eq!(name("/api/ordersx"), Some("api"));
    assert_eq!(name("/api"), Some("api"));
    assert_eq!(name("/apix"), Some("root"));
    assert_eq!(name("/"), Some("root"));
}

#[test]
fn host_and_methods_narrow_a_route() {
    let mut admin = file("admin", "/", &["http://10.0.0.1:8080"]);
    admin.host = Some("Admin.Example.com".into());
    admin.methods = Some(vec!["get".into(), "POST".into()]);
    let routes = Routes::new(vec![admin]).unwrap();
    assert!(routes
        .find(Some("admin.example.com:443"), "GET", "/x")
        .is_some());
    assert!(routes
        .find(Some("admin.example.com"), "post", "/x")
        .is_some());
    assert!(routes
        .find(Some("admin.example.com"), "DELETE", "/x")
        .is_none());
    assert!(routes
        .find(Some("other.example.com"), "GET", "/x")
        .is_none());
    assert!(routes.find(None, "GET", "/x").is_none());
}

#[test]
fn upstream_paths_keep_or_strip_the_prefix_and_keep_the_query() {
    let mut stripped = file("s", "/api/", &["http://127.0.0.1:9000/v2/"]);
    stripped.strip_prefix = true;
    let routes = Routes::new(vec![stripped, file("k", "/keep", &["http://h"])]).unwrap();
    let (_, s) = routes.find(None, "GET", "/api/x").unwrap();
    assert_eq!(s.upstreams[0].authority, "127.0.0.1:9000");
    assert_eq!(
        s.upstream_path(&s.upstreams[0], "/api/x", "a=1"),
        "/v2/x?a=1"
    );
    assert_eq!(s.upstream_path(&s.upstreams[0], "/api", ""), "/v2/");
    let (_, k) = routes.find(None, "GET", "/keep/y").unwrap();
    assert_eq!(k.upstreams[0].authority, "h:80");
    assert_eq!(k.upstream_path(&k.upstreams[0], "/keep/y", ""), "/keep/y");
}

#[test]
fn bad_entries_are_refused_naming_route_and_field() {
    let refused = |f: RouteFile| Routes::new(vec![f]).unwrap_err();
    assert_eq!(refused(file("a", "api", &["http://h"])).field, "prefix");
    assert_eq!(refused(file("a", "/a?b", &["http://h"])).field, "prefix");
    assert_eq!(refused(file("a", "/a", &[])).field, "upstreams");
    assert_eq!(refused(file("a", "/a", &["ftp://h"])).field, "upstreams");
    assert_eq!(refused(file("a", "/a", &["h:80"])).field, "upstreams");
    assert_eq!(
        refused(file("a", "/a", &["http://h/x?y"])).field,
        "upstreams"
    );
    assert_eq!(refused(file("a", "/a", &["http://h h"])).field, "upstreams");
    assert_eq!(refused(file("", "/a", &["http://h"])).field, "name");
    let mut zero = file("z", "/a", &["http://h"]);
    zero.timeout_ms = Some(0);
    let e = refused(zero);
    assert_eq!((e.route.as_str(), e.field), ("z", "timeout_ms"));
    let mut zero = file("z", "/a", &["http://h"]);
    zero.idle_timeout_ms = Some(0);
    assert_eq!(refused(zero).field, "idle_timeout_ms");
    let mut bad_method = file("m", "/a", &["http://h"]);
    bad_method.methods = Some(vec!["GE T".into()]);
    assert_eq!(refused(bad_method).field, "methods");
    let twice = Routes::new(vec![
        file("d", "/a", &["http://h"]),
        file("d", "/b", &["http://h"]),
    ]);
    assert_eq!(twice.unwrap_err().field, "name");
}

#[test]
fn upstream_addresses_get_a_port() {
    for (text, authority) in [
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("http://example.com", "example.com:80"),
        ("http://[::1]:9000", "[::1]:9000"),
        ("http://[::1]", "[::1]:80"),
    ] {
        assert_eq!(upstream(text).unwrap().authority, authority, "{text}");
    }
}

#[test]
fn https_upstreams_default_to_port_443_and_mix_with_http() {
    for (text, authority, host) in [
        ("https://example.com", "example.com:443", "example.com"),
        (
            "https://example.com:8443/v1",
            "example.com:8443",
            "example.com:8443",
        ),
        ("https://127.0.0.1", "127.0.0.1:443", "127.0.0.1"),
        ("https://h:80", "h:80", "h:80"),
    ] {
        let parsed = upstream(text).unwrap();
        assert!(parsed.tls, "{text}");
        assert_eq!(parsed.scheme(), "https");
        assert_eq!(
            (parsed.authority.as_str(), parsed.host_header()),
            (authority, host)
        );
    }
    let plain = upstream("http://h").unwrap();
    assert!(!plain.tls);
    assert_eq!((plain.scheme(), plain.host_header()), ("http", "h"));
    assert_eq!(upstream("https://h/base/").unwrap().base_path, "/base");
    let mixed = Routes::new(vec![file("m", "/", &["http://a:1", "https://b"])]).unwrap();
    let tls: Vec<bool> = mixed.routes()[0].upstreams.iter().map(|u| u.tls).collect();
    assert_eq!(tls, [false, true]);
}

#[test]
fn malformed_https_upstreams_are_refused_saying_why() {
    for (text, why) in [
        ("https://", "no query"),
        ("https:///x", "no query"),
        ("https://h?x", "no query"),
        ("https://h/p#f", "no query"),
        ("https://us er@h", "no query"),
        ("HTTPS://h", "an http:// or https:// URL"),
        ("https//h", "an http:// or https:// URL"),
        ("https://[::1]:8443", "not IPv6"),
        ("https://[::1]", "not IPv6"),
    ] {
        let error = upstream(text).unwrap_err();
        assert!(error.contains(why), "{text}: {error}");
    }
    // Plain http keeps taking IPv6 literals.
    assert_eq!(upstream("http://[::1]").unwrap().authority, "[::1]:80");
}

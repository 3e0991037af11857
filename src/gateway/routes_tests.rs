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
        max_body_bytes: None,
        strip_prefix: false,
        identity: None,
    }
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
    assert_eq!(refused(file("a", "/a", &["https://h"])).field, "upstreams");
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

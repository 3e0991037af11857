//! Client IP behind trusted proxies: spoofing from untrusted peers, chains,
//! IPv6, ports and malformed entries.

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn proxies() -> TrustedProxies {
    TrustedProxies::parse(&["10.0.0.0/8", "192.168.1.1", "fd00::/8"]).unwrap()
}

fn with_xff(values: &[&str]) -> Vec<(&'static str, String)> {
    values
        .iter()
        .map(|v| ("X-Forwarded-For", v.to_string()))
        .collect()
}

#[test]
fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
    let headers = with_xff(&["1.2.3.4"]);
    assert_eq!(
        client_ip(ip("203.0.113.9"), &headers[..], &proxies()),
        ip("203.0.113.9")
    );
}

#[test]
fn with_no_trusted_proxy_the_peer_is_the_client() {
    let headers = with_xff(&["1.2.3.4"]);
    let none = TrustedProxies::default();
    assert!(none.is_empty());
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &none),
        ip("10.0.0.1")
    );
}

#[test]
fn a_trusted_peer_names_the_client_in_the_rightmost_entry() {
    let headers = with_xff(&["6.6.6.6, 198.51.100.7"]);
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("198.51.100.7")
    );
}

#[test]
fn a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted() {
    // The client spoofed 6.6.6.6; two trusted proxies appended what they saw.
    let headers = with_xff(&["6.6.6.6, 198.51.100.7, 10.1.1.1", "192.168.1.1"]);
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("198.51.100.7")
    );
}

#[test]
fn when_every_entry_is_trusted_the_leftmost_is_the_client() {
    let headers = with_xff(&["10.9.9.9, 10.1.1.1"]);
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("10.9.9.9")
    );
}

#[test]
fn a_trusted_peer_without_the_header_is_the_client() {
    let headers: Vec<(&str, &str)> = Vec::new();
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("10.0.0.1")
    );
}

#[test]
fn ipv6_entries_peers_and_mapped_addresses() {
    let headers = with_xff(&["2001:db8::1, fd00::2"]);
    assert_eq!(
        client_ip(ip("fd00::1"), &headers[..], &proxies()),
        ip("2001:db8::1")
    );
    // An IPv4 peer seen on a dual-stack socket is still trusted as IPv4.
    let headers = with_xff(&["198.51.100.7"]);
    assert_eq!(
        client_ip(ip("::ffff:10.0.0.1"), &headers[..], &proxies()),
        ip("198.51.100.7")
    );
    assert_eq!(
        client_ip(ip("::ffff:203.0.113.9"), &headers[..], &proxies()),
        ip("203.0.113.9")
    );
}

#[test]
fn entries_with_ports_are_read() {
    let headers = with_xff(&["[2001:db8::1]:443, 198.51.100.7:5000"]);
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("198.51.100.7")
    );
    let headers = with_xff(&["[2001:db8::1]:443, 10.2.2.2:5000"]);
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("2001:db8::1")
    );
}

#[test]
fn a_malformed_entry_stops_the_walk_at_the_nearest_trusted_hop() {
    let headers = with_xff(&["198.51.100.7, unknown, 10.1.1.1"]);
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("10.1.1.1")
    );
    let headers = with_xff(&["198.51.100.7, "]);
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("10.0.0.1")
    );
    let bytes: Vec<(&str, &[u8])> = vec![("x-forwarded-for", b"\xff\xfe")];
    assert_eq!(
        client_ip(ip("10.0.0.1"), &bytes[..], &proxies()),
        ip("10.0.0.1")
    );
}

#[test]
fn a_long_chain_is_cut_at_max_hops() {
    let chain = vec!["10.3.3.3"; MAX_HOPS + 5].join(", ");
    let headers = with_xff(&[&format!("198.51.100.7, {chain}")]);
    assert_eq!(
        client_ip(ip("10.0.0.1"), &headers[..], &proxies()),
        ip("10.3.3.3")
    );
}

#[test]
fn parsing_names_the_bad_entry() {
    let error = TrustedProxies::parse(&["10.0.0.0/8", "10.0.0.0/99"])
        .unwrap_err()
        .to_string();
    assert!(error.contains("10.0.0.0/99"), "{error}");
    assert!(TrustedProxies::parse(&["proxy.local"]).is_err());
    assert!(proxies().contains(ip("192.168.1.1")));
    assert!(!proxies().contains(ip("192.168.1.2")));
}

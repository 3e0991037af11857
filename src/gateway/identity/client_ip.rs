//! The client's IP address behind trusted proxies (`--trusted-proxies`):
//! shared by gateway mode and `/v1/forward-auth`.
//!
//! `X-Forwarded-For` is believed only as far as trusted proxies wrote it.
//! If the peer of the connection is not a trusted proxy, the peer is the
//! client and every forwarded header is ignored (the caller may have written
//! it). If the peer is trusted, the list is walked from the right (each proxy
//! appends the address it saw), skipping trusted addresses, and the first
//! untrusted one is the client. If every entry is trusted, the leftmost is.
//!
//! A malformed entry (not an IP address, optionally with a port) stops the
//! walk: nothing left of it is believed, and the address reached so far (the
//! nearest trusted hop that could not vouch for what came before) is taken.
//! A proxy we trust writes well-formed entries, so a malformed one means the
//! chain cannot be read, and guessing past it would let a client choose its
//! own address.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use super::Headers;

/// The `X-Forwarded-For` header, lowercase.
pub const X_FORWARDED_FOR: &str = "x-forwarded-for";
/// Hops walked at most; a longer chain is cut there (as if malformed).
pub const MAX_HOPS: usize = 32;

/// The networks whose addresses are proxies allowed to say who the client is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// A trusted-proxies entry that is neither a CIDR nor an address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a CIDR like 10.0.0.0/8 or an address")]
pub struct NotANetwork(pub String);

impl TrustedProxies {
    /// Trusts the given networks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self(nets)
    }

    /// Parses CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses; the error
    /// names the entry that is neither.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, NotANetwork> {
        items
            .iter()
            .map(|item| {
                let text = item.as_ref().trim();
                text.parse::<IpNet>()
                    .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| NotANetwork(text.to_string()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as IPv4) is trusted.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted (then the peer is always the client).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The client's address: the peer, or, if the peer is a trusted proxy, the
/// first untrusted address of `X-Forwarded-For` from the right (see the
/// module documentation for the whole rule).
pub fn client_ip<H: Headers + ?Sized>(
    peer: IpAddr,
    headers: &H,
    trusted: &TrustedProxies,
) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    let entries: Vec<&[u8]> = headers
        .values(X_FORWARDED_FOR)
        .flat_map(|value| value.split(|b| *b == b','))
        .collect();
    for entry in entries.iter().rev().take(MAX_HOPS) {
        match parse_entry(entry) {
            Some(ip) => {
                client = ip;
                if !trusted.contains(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, or an address with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:443`), spaces around it ignored.
fn parse_entry(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?.trim();
    let ip = text
        .parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|a| a.ip()))
        .ok()?;
    Some(ip.to_canonical())
}

#[cfg(test)]
#[path = "client_ip_tests.rs"]
mod tests;

//! Which requests a rule applies to: route prefix and method, tenant, user,
//! and client address (a network), all of which must hold.

use std::net::IpAddr;

/// An address or a network (`10.0.0.0/8`, `2001:db8::/32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr.parse::<IpAddr>().ok()?, Some(prefix.parse().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Self { addr, prefix })
    }

    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        // Both as 128-bit numbers, an IPv4 address in the top 32 bits, so one
        // mask of the top `prefix` bits serves both families.
        let (net, ip) = match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => (
                u128::from(u32::from(net)) << 96,
                u128::from(u32::from(ip)) << 96,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => (u128::from(net), u128::from(ip)),
            _ => return false,
        };
        let mask = u128::MAX
            .checked_shl(128 - u32::from(self.prefix))
            .unwrap_or(0);
        net & mask == ip & mask
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Which requests a rule applies to; every condition given must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Match {
    /// Path prefix, whole segments: `/api/orders` matches `/api/orders/7`, not `/api/ordersx`.
    pub route: Option<String>,
    /// HTTP method, upper case.
    pub method: Option<String>,
    /// Exact tenant.
    pub tenant: Option<String>,
    /// Exact user.
    pub user: Option<String>,
    /// Client address inside this network.
    pub ip: Option<IpNet>,
}

impl Match {
    /// Whether `request` meets every condition.
    pub fn matches(&self, request: &Request<'_>) -> bool {
        self.route
            .as_deref()
            .is_none_or(|prefix| route_has_prefix(request.route, prefix))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(request.method))
            && self
                .tenant
                .as_deref()
                .is_none_or(|t| request.tenant == Some(t))
            && self.user.as_deref().is_none_or(|u| request.user == u)
            && self
                .ip
                .is_none_or(|net| request.ip.is_some_and(|ip| net.contains(ip)))
    }
}

fn route_has_prefix(route: &str, prefix: &str) -> bool {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    match route.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || prefix.is_empty(),
        None => false,
    }
}

/// The request as the rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The caller (always present).
    pub user: &'a str,
    /// The path being called.
    pub route: &'a str,
    /// The HTTP method, any case.
    pub method: &'a str,
    /// The tenant, if the caller has one.
    pub tenant: Option<&'a str>,
    /// The client's address, if known.
    pub ip: Option<IpAddr>,
}

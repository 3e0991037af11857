//! Which requests a rule applies to: route prefix and method, tenant, user,
//! and client address (a network), all of which must hold.

use std::net::IpAddr;

/// An address or a network (`10.0.0.0/8`, `2001:db8::/32`); the arithmetic is `ipnet`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet(ipnet::IpNet);

impl IpNet {
    /// Parses `ADDR` (a network of one) or `ADDR/PREFIX`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.parse::<ipnet::IpNet>() {
            Ok(net) => Some(Self(net)),
            Err(_) => text.parse::<IpAddr>().ok().map(|addr| Self(addr.into())),
        }
    }

    /// Whether `ip` is inside the network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip.to_canonical())
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
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
    /// The plan the caller's credential names (gateway mode), if any: it
    /// sets the limit of rules that follow the user's plan, unless the admin
    /// API moved the user.
    pub plan: Option<&'a str>,
}

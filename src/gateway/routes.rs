//! Gateway routes: which upstreams a request goes to. A route matches a path
//! prefix (on a segment boundary), optionally a host and methods; the longest
//! matching prefix wins. Pure: parsing, validation and matching only.

use std::time::Duration;

use serde::Deserialize;

/// Default time an upstream has to answer (to send its response head) once
/// the request is sent, and (unless set apart) the longest pause in a body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default largest request body forwarded.
pub const DEFAULT_MAX_BODY: u64 = 10 << 20;

/// Most routes in a gateway file, and upstreams per route: the file is
/// an operator's, but a page-long list is a mistake, not a need.
const MAX_ROUTES: usize = 1000;
const MAX_UPSTREAMS: usize = 64;

/// A route as written in the gateway file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// Unique; names the route in errors, logs and metrics.
    pub name: String,
    /// The path prefix it serves, from `/`; matched on whole segments.
    pub prefix: String,
    /// Only requests for this host (the `Host` header, port ignored).
    pub host: Option<String>,
    /// Only these methods (any case); all when absent.
    pub methods: Option<Vec<String>>,
    /// `http[s]://host[:port][/base]` of each upstream, balanced round-robin.
    pub upstreams: Vec<String>,
    /// Time for an upstream to send its response head once the request is sent.
    pub timeout_ms: Option<u64>,
    /// Longest pause in a body streaming through, either way.
    pub idle_timeout_ms: Option<u64>,
    /// Largest request body forwarded; larger is `413`.
    pub max_body_bytes: Option<u64>,
    /// Removes the prefix before forwarding (`/api/x` → `/x`).
    #[serde(default)]
    pub strip_prefix: bool,
    /// How callers are identified, in order (`header`, `api_key`, `jwt`,
    /// `ip`); the `[identity]` table's `methods` when absent.
    pub identity: Option<Vec<String>>,
}

/// One upstream address of a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// Whether it is spoken to over TLS (`https://`), its certificate verified.
    pub tls: bool,
    /// `host:port`, the port always written (80 or 443 when the URL had none).
    pub authority: String,
    /// A path every forwarded path is appended to (`""` or `/base`, no trailing `/`).
    pub base_path: String,
}

impl Upstream {
    /// The URL scheme to reach it with.
    pub fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// Its `Host` header: the host, and the port unless it is the scheme's default.
    pub fn host_header(&self) -> &str {
        let default = if self.tls { ":443" } else { ":80" };
        self.authority
            .strip_suffix(default)
            .unwrap_or(&self.authority)
    }
}

/// A validated route.
#[derive(Clone, Debug)]
pub struct Route {
    /// The route's name.
    pub name: String,
    /// Its path prefix, without a trailing `/` (except the root, `/`).
    pub prefix: String,
    /// Its host, lowercase, if any.
    pub host: Option<String>,
    /// Its methods, uppercase; empty: every method.
    pub methods: Vec<String>,
    /// Its upstreams.
    pub upstreams: Vec<Upstream>,
    /// Time for an upstream to send its response head once the request is sent.
    pub timeout: Duration,
    /// Longest pause in a body streaming through: the client's upload, the
    /// upstream's answer (the route's `timeout` unless set).
    pub idle_timeout: Duration,
    /// Largest request body forwarded.
    pub max_body: u64,
    /// Whether the prefix is removed before forwarding.
    pub strip_prefix: bool,
    /// Its identity methods by name, as written; `None`: the default ones.
    pub identity: Option<Vec<String>>,
}

/// A route file entry that is refused: which route, which field, why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("route {route:?}: `{field}`: {reason}")]
pub struct RouteError {
    /// The route's name (or its position).
    pub route: String,
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

/// The routes in effect, most specific prefix first.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    routes: Vec<Route>,
}

impl Routes {
    /// Validates `files`, refusing the first entry at fault.
    pub fn new(files: Vec<RouteFile>) -> Result<Self, RouteError> {
        if files.len() > MAX_ROUTES {
            return Err(RouteError {
                route: String::new(),
                field: "routes",
                reason: format!("{} routes, more than {MAX_ROUTES}", files.len()),
            });
        }
        let mut routes = Vec::with_capacity(files.len());
        for (i, file) in files.into_iter().enumerate() {
            let route = Route::new(file, i)?;
            if routes.iter().any(|r: &Route| r.name == route.name) {
                return Err(error(&route.name, "name", "two routes have this name"));
            }
            routes.push(route);
        }
        // Longest prefix first, so the first match is the most specific.
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(Self { routes })
    }

    /// Every route, most specific first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route (and its position) for `path` on `host` (port ignored) with `method`, if any.
    pub fn find(&self, host: Option<&str>, method: &str, path: &str) -> Option<(usize, &Route)> {
        let host = host.map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name));
        self.routes
            .iter()
            .enumerate()
            .find(|(_, r)| r.matches(host, method, path))
    }
}

impl Route {
    fn new(file: RouteFile, index: usize) -> Result<Self, RouteError> {
        let name = file.name;
        let label = if name.is_empty() {
            format!("#{index}")
        } else {
            name.clone()
        };
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(error(&label, "name", "1-64 characters of visible ASCII"));
        }
        let prefix = prefix(&file.prefix).map_err(|reason| error(&label, "prefix", reason))?;
        let methods = file.methods.unwrap_or_default();
        if methods
            .iter()
            .any(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            return Err(error(&label, "methods", "HTTP method names, like \"GET\""));
        }
        if file.upstreams.is_empty() || file.upstreams.len() > MAX_UPSTREAMS {
            return Err(error(
                &label,
                "upstreams",
                format!("1 to {MAX_UPSTREAMS} addresses"),
            ));
        }
        let upstreams = file
            .upstreams
            .iter()
            .map(|u| upstream(u).map_err(|reason| error(&label, "upstreams", reason)))
            .collect::<Result<_, _>>()?;
        let millis = |field, value: Option<u64>, default| match value {
            Some(0) => Err(error(&label, field, "must be at least 1")),
            Some(ms) => Ok(Duration::from_millis(ms)),
            None => Ok(default),
        };
        let timeout = millis("timeout_ms", file.timeout_ms, DEFAULT_TIMEOUT)?;
        let idle_timeout = millis("idle_timeout_ms", file.idle_timeout_ms, timeout)?;
        Ok(Self {
            name,
            prefix,
            host: file.host.map(|h| h.to_ascii_lowercase()),
            methods: methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            upstreams,
            timeout,
            idle_timeout,
            max_body: file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
            strip_prefix: file.strip_prefix,
            identity: file.identity,
        })
    }

    fn matches(&self, host: Option<&str>, method: &str, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            (Some(_), None) => false,
        };
        let method_ok =
            self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method));
        host_ok && method_ok && under(&self.prefix, path)
    }

    /// The path to ask the upstream for: its base, then `path` (less the
    /// prefix if stripped), then `?query` if any.
    pub fn upstream_path(&self, upstream: &Upstream, path: &str, query: &str) -> String {
        let rest = match self.strip_prefix && self.prefix != "/" {
            true => &path[self.prefix.len()..],
            false => path,
        };
        let rest = if rest.is_empty() { "/" } else { rest };
        let mut out =
            String::with_capacity(upstream.base_path.len() + rest.len() + query.len() + 1);
        out.push_str(&upstream.base_path);
        out.push_str(rest);
        if !query.is_empty() {
            out.push('?');
            out.push_str(query);
        }
        out
    }
}

/// Whether `path` is `prefix` or below it, on a segment boundary.
fn under(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn prefix(text: &str) -> Result<String, String> {
    if !text.starts_with('/') || text.contains(['?', '#', ' ']) || text.contains("//") {
        return Err("a path from `/`, without `?`, `#`, spaces or `//`".into());
    }
    let trimmed = text.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    })
}

/// Parses `http://host[:port][/base]` or `https://…` (port 443 by default).
fn upstream(text: &str) -> Result<Upstream, String> {
    let (tls, rest, default_port) = if let Some(rest) = text.strip_prefix("https://") {
        (true, rest, 443)
    } else if let Some(rest) = text.strip_prefix("http://") {
        (false, rest, 80)
    } else {
        return Err(format!("{text:?}: an http:// or https:// URL"));
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let valid_host = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !valid_host || path.contains(['?', '#']) {
        return Err(format!("{text:?}: http[s]://host[:port][/path], no query"));
    }
    // The TLS connector takes the URL's host, brackets and all, as the name
    // to verify, which no certificate can match: refused now, not at the first request.
    if tls && authority.starts_with('[') {
        return Err(format!(
            "{text:?}: an https:// upstream is named by host name or IPv4 address, not IPv6"
        ));
    }
    let authority = if has_port(authority) {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    Ok(Upstream {
        tls,
        authority,
        base_path: path.trim_end_matches('/').to_string(),
    })
}

fn has_port(authority: &str) -> bool {
    match authority.rsplit_once(':') {
        Some((host, port)) => {
            !host.ends_with('[') && port.parse::<u16>().is_ok() && !port.contains(']')
        }
        None => false,
    }
}

fn error(route: &str, field: &'static str, reason: impl Into<String>) -> RouteError {
    RouteError {
        route: route.to_string(),
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;

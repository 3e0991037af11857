//! Gateway mode's core: the routes to upstreams and how requests are spread
//! over them, read from the gateway file (`--gateway FILE`). The HTTP side
//! (identifying, deciding, forwarding) is `http_api::gateway`.

pub mod balance;
pub mod routes;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use balance::{Balancer, DEFAULT_COOL_DOWN};
use routes::{Route, RouteFile, Routes};

/// The gateway file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    /// How long an upstream that refused a connection is skipped.
    upstream_cool_down_ms: Option<u64>,
    #[serde(default)]
    routes: Vec<RouteFile>,
}

/// The routes in effect and the state of their upstreams.
#[derive(Debug)]
pub struct Gateway {
    routes: Routes,
    /// One per route, in the routes' order.
    balancers: Vec<Balancer>,
}

impl Gateway {
    /// Parses and validates a gateway file's text; the error names the route and field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: GatewayFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if file.routes.is_empty() {
            return Err("`routes`: at least one route".into());
        }
        let cool_down = file
            .upstream_cool_down_ms
            .map_or(DEFAULT_COOL_DOWN, Duration::from_millis);
        let routes = Routes::new(file.routes).map_err(|e| e.to_string())?;
        let balancers = routes
            .routes()
            .iter()
            .map(|r| Balancer::new(r.upstreams.len(), cool_down))
            .collect();
        Ok(Self { routes, balancers })
    }

    /// Reads `path` (see [`Gateway::parse`]).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The route (and its position) for a request, if any.
    pub fn find(&self, host: Option<&str>, method: &str, path: &str) -> Option<(usize, &Route)> {
        let route = self.routes.find(host, method, path)?;
        let index = self
            .routes
            .routes()
            .iter()
            .position(|r| std::ptr::eq(r, route))?;
        Some((index, route))
    }

    /// The balancer of the route at `index`.
    pub fn balancer(&self, index: usize) -> &Balancer {
        &self.balancers[index]
    }

    /// Every route, most specific first.
    pub fn routes(&self) -> &[Route] {
        self.routes.routes()
    }
}

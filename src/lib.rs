//! crdt-limiter: a decentralized rate limiter. Each node decides every request
//! from its own in-memory token buckets.
//!
//! Map of the crate (dependencies point down the list, never up):
//! - [`node`]: the composition root — builds a node from its settings and runs it
//!   ([`run`]), with housekeeping and the rules reload beside it.
//! - [`settings`]: flags, `LIMITER_…` environment variables and the TOML file, validated.
//! - [`http_api`]: one room per surface — `decide/` (`POST /protected`, `POST /v1/check`,
//!   `POST /v1/checks`, `/v1/forward-auth`, with the decision token), `admin/` (the admin
//!   API), `status/` (the status page, `/v1/cluster`, `/metrics`, `/healthz`, `/readyz`),
//!   `gateway/` (gateway mode's HTTP side: identify, limit, forward), `wire/` (errors,
//!   bodies, responses and tokens they share) and `server/` (connections capped, heads and
//!   bodies timed, the parser's refusals as JSON).
//! - [`rls`]: the Envoy rate-limit service (gRPC `ShouldRateLimit`) over the descriptor
//!   limits, and the envoyproxy/ratelimit YAML files they are read from.
//! - [`replication`]: Kafka — publishes changed buckets, merges peers' (CRDT), bootstraps,
//!   heartbeats, and the policy log's Kafka adapter (the config topic).
//! - [`policy_log`]: where live rule changes are made durable — the port, its record
//!   format, and the file adapter for a node without Kafka.
//! - [`telemetry`]: Prometheus metrics.
//! - [`tls`]: TLS on the node's own listeners (HTTP, gRPC), certificates reloaded as they change.
//! - [`gateway`]: gateway mode's core — routes to upstreams, their balancing, what
//!   `https://` upstreams are verified against, and the caller's identity (header,
//!   API key, JWT, client IP).
//! - [`clock`]: wall clock, and a manual clock for tests.
//! - [`config_files`]: the rules, gateway and descriptor files read with a bound on
//!   their size, and fingerprinted so a change on disk (a ConfigMap update too) is seen.
//! - [`policy`]: the core's rules — rules file, matching, plans, live changes, envoyproxy/ratelimit
//!   descriptor limits, and the decision of a request against every rule. Pure: no I/O.
//! - [`limiter`]: the core — bucket arithmetic, rates, the CRDT merge and the bounded
//!   bucket store. Pure: no I/O, time passed in.
//!
//! [`run`] is the whole node as a function of its listener and a shutdown
//! future, so tests start real servers on port 0.

pub mod clock;
pub mod config_files;
pub mod gateway;
pub mod http_api;
pub mod limiter;
pub mod node;
pub mod policy;
pub mod policy_log;
pub mod replication;
pub mod rls;
pub mod settings;
pub mod telemetry;
pub mod tls;

pub use node::run;

//! Every setting, declared once: its flag, `LIMITER_…` variable, default and
//! help. The settings file (`file.rs`) and `--help` are made from these, and
//! the docs' settings table is checked against `--help`.

use std::path::PathBuf;

use clap::Parser;

mod kafka;
mod rls;
mod tls;
mod traces;
mod windows;

pub(in crate::settings) use kafka::KafkaFlags;
pub(in crate::settings) use rls::RlsFlags;
pub(in crate::settings) use tls::TlsFlags;
pub(in crate::settings) use traces::TraceFlags;
pub(in crate::settings) use windows::WindowFlags;

/// The command line. A setting with a default holds it here; one without is
/// an `Option` (unset means off, or a value worked out at start).
#[derive(Debug, Parser)]
#[command(
    name = "crdt-limiter",
    version,
    about = "Decentralized rate limiter: local token buckets, merged as CRDTs across nodes"
)]
pub(super) struct Cli {
    /// TOML file with any of the settings below, keys as the flag names (`refill-per-sec = 2.5`);
    /// flags and environment variables win over it.
    #[arg(long, env = "LIMITER_CONFIG", value_name = "FILE")]
    pub(super) config: Option<PathBuf>,

    /// Address to serve HTTP on.
    #[arg(
        long,
        env = "LIMITER_LISTEN",
        value_name = "ADDR",
        default_value = "0.0.0.0:8000"
    )]
    pub(super) listen: String,

    /// Tokens a bucket holds when full: the burst a user may send at once.
    #[arg(
        long,
        env = "LIMITER_CAPACITY",
        value_name = "TOKENS",
        default_value_t = 10
    )]
    pub(super) capacity: u32,

    /// Tokens a bucket earns per second: a whole number, a decimal (0.5) or a fraction (1/3600).
    #[arg(
        long,
        env = "LIMITER_REFILL_PER_SEC",
        value_name = "RATE",
        default_value = "1"
    )]
    pub(super) refill_per_sec: String,

    /// Most keys tracked at once; bounds memory under floods of new user IDs.
    #[arg(
        long,
        env = "LIMITER_MAX_KEYS",
        value_name = "N",
        default_value_t = 1_000_000
    )]
    pub(super) max_keys: usize,

    /// HTTP worker threads. Unset: one per core.
    #[arg(long, env = "LIMITER_WORKERS", value_name = "N")]
    pub(super) workers: Option<usize>,

    /// Log filter, in `RUST_LOG` syntax.
    #[arg(
        long,
        env = "LIMITER_LOG",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub(super) log: String,

    /// Log lines as `text` (for people) or `json` (one object per line, for log collectors).
    #[arg(
        long,
        env = "LIMITER_LOG_FORMAT",
        value_name = "FORMAT",
        value_enum,
        default_value_t = super::LogFormat::Text
    )]
    pub(super) log_format: super::LogFormat,

    /// How often the rules, gateway and descriptor files are checked for a change on disk
    /// (a ConfigMap update too), in ms; a change is reloaded as on SIGHUP. 0: only SIGHUP,
    /// else at least 100.
    #[arg(
        long,
        env = "LIMITER_CONFIG_POLL_MS",
        value_name = "MS",
        default_value_t = 1_000
    )]
    pub(super) config_poll_ms: u64,

    /// Kafka bootstrap servers (host:port,...); turns replication on. Unset: standalone node.
    #[arg(long, env = "LIMITER_KAFKA_BROKERS", value_name = "HOSTS")]
    pub(super) kafka_brokers: Option<String>,

    /// Compacted topic that carries bucket state.
    #[arg(
        long,
        env = "LIMITER_TOPIC",
        value_name = "NAME",
        default_value = "rate-limit-state"
    )]
    pub(super) topic: String,

    /// Partitions when this node creates the topic.
    #[arg(
        long,
        env = "LIMITER_TOPIC_PARTITIONS",
        value_name = "N",
        default_value_t = 6
    )]
    pub(super) topic_partitions: i32,

    /// Replication factor when this node creates the topic.
    #[arg(
        long,
        env = "LIMITER_TOPIC_REPLICATION",
        value_name = "N",
        default_value_t = 1
    )]
    pub(super) topic_replication: i32,

    /// This node's ID on the topic; unique per node. Unset: host name and a random suffix.
    #[arg(long, env = "LIMITER_NODE_ID", value_name = "ID")]
    pub(super) node_id: Option<String>,

    /// How often changed buckets are published, in ms.
    #[arg(
        long,
        env = "LIMITER_SYNC_INTERVAL_MS",
        value_name = "MS",
        default_value_t = 50
    )]
    pub(super) sync_interval_ms: u64,

    /// Longest wait for reading the topic at start before serving as ready anyway, in ms.
    #[arg(
        long,
        env = "LIMITER_BOOTSTRAP_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 30_000
    )]
    pub(super) bootstrap_timeout_ms: u64,

    /// How far ahead of this node's clock a peer's stamp may be before it is clamped, in ms.
    #[arg(
        long,
        env = "LIMITER_MAX_CLOCK_SKEW_MS",
        value_name = "MS",
        default_value_t = 1_000
    )]
    pub(super) max_clock_skew_ms: u64,

    /// A node that has not seen its own heartbeat come back through Kafka for
    /// this long (longer, at most 4×, while its heartbeats have lately been
    /// slower) counts itself cut off, and limits each key to its share (1/N
    /// of the nodes it last heard from) until it hears steadily again; 0
    /// turns this off, in ms.
    #[arg(
        long,
        env = "LIMITER_PARTITION_AFTER_MS",
        value_name = "MS",
        default_value_t = 500
    )]
    pub(super) partition_after_ms: u64,

    /// Quiet replication: a node keeps its own spending on a key to itself
    /// while the key's level is above this fraction of its capacity and what
    /// it kept is within its share of the headroom (one token at least); 1
    /// publishes every spending at once.
    #[arg(
        long,
        env = "LIMITER_QUIET_WATERMARK",
        value_name = "FRACTION",
        default_value_t = 0.5
    )]
    pub(super) quiet_watermark: f64,

    /// Threads reading the state topic (its partitions split among them); 0:
    /// one per core, at most one per partition.
    #[arg(
        long,
        env = "LIMITER_READER_THREADS",
        value_name = "N",
        default_value_t = 0
    )]
    pub(super) reader_threads: usize,

    /// `GET /v1/cluster` shows a peer silent this long as gone, in ms.
    #[arg(
        long,
        env = "LIMITER_PEER_GONE_AFTER_MS",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub(super) peer_gone_after_ms: u64,

    /// How peers' states merge: `min-max` (the specified rule; up to N× the limit
    /// when a user's traffic spreads over N nodes) or `counted` (also debits
    /// other nodes' spending: the limit holds at any node count).
    #[arg(
        long,
        env = "LIMITER_MERGE",
        value_name = "MODE",
        default_value = "min-max"
    )]
    pub(super) merge: String,

    /// Rules file (TOML): plans, per-route, per-tenant, per-IP and global limits. Unset: one
    /// per-user limit from --capacity and --refill-per-sec. Reloaded when it changes, and on SIGHUP.
    #[arg(long, env = "LIMITER_RULES", value_name = "FILE")]
    pub(super) rules: Option<PathBuf>,

    /// Every rule is shadow: decided, counted and reported in the rate-limit headers
    /// (plus RateLimit-Shadow), but never refusing. The HTTP rules only: the rate-limit
    /// service's is --rls-shadow.
    #[arg(
        long,
        env = "LIMITER_SHADOW",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(super) shadow: bool,

    /// Bearer token that turns on the admin API under /v1/admin/ (at least 16 characters). Unset: no admin API.
    #[arg(
        long,
        env = "LIMITER_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub(super) admin_token: Option<String>,

    /// File whose first line is the admin token (instead of --admin-token), kept out of `ps`.
    #[arg(long, env = "LIMITER_ADMIN_TOKEN_FILE", value_name = "FILE")]
    pub(super) admin_token_file: Option<PathBuf>,

    /// Directory where a node keeps admin changes: without Kafka the log itself (required for
    /// the admin API then); with Kafka a copy, put back into a config topic that lost them.
    #[arg(long, env = "LIMITER_DATA_DIR", value_name = "DIR")]
    pub(super) data_dir: Option<PathBuf>,

    /// Compacted topic that carries rule and plan changes.
    #[arg(
        long,
        env = "LIMITER_CONFIG_TOPIC",
        value_name = "NAME",
        default_value = "rate-limit-config"
    )]
    pub(super) config_topic: String,

    /// Address to serve the Envoy rate-limit service (gRPC) on. Unset: not served.
    #[arg(long, env = "LIMITER_GRPC_LISTEN", value_name = "ADDR")]
    pub(super) grpc_listen: Option<String>,

    #[command(flatten)]
    pub(in crate::settings) rls: RlsFlags,

    /// Header that names the user on /v1/forward-auth (what the proxy's auth layer sets).
    #[arg(
        long,
        env = "LIMITER_FORWARD_AUTH_USER_HEADER",
        value_name = "HEADER",
        default_value = "X-User-ID"
    )]
    pub(super) forward_auth_user_header: String,

    /// Gateway file: routes to upstreams; with it, allowed requests on those routes are
    /// forwarded (gateway mode). Unset: no gateway. Reloaded when it changes, and on SIGHUP.
    #[arg(long, env = "LIMITER_GATEWAY", value_name = "FILE")]
    pub(super) gateway: Option<PathBuf>,

    /// Addresses (CIDRs, comma-separated) of proxies in front of the gateway whose
    /// X-Forwarded-For is believed for the client IP. Unset: none, the peer is the client.
    #[arg(
        long,
        env = "LIMITER_TRUSTED_PROXIES",
        value_name = "CIDRS",
        value_delimiter = ','
    )]
    pub(super) trusted_proxies: Vec<String>,

    /// Token the decision APIs (/protected, /v1/check, /v1/checks, /v1/forward-auth, the gRPC
    /// rate-limit service) require, as X-Limiter-Token or Authorization: Bearer (at least 16
    /// characters). Unset: they are open, except in gateway mode, where they are closed.
    #[arg(
        long,
        env = "LIMITER_DECISION_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub(super) decision_token: Option<String>,

    /// File whose first line is the decision token (instead of --decision-token).
    #[arg(long, env = "LIMITER_DECISION_TOKEN_FILE", value_name = "FILE")]
    pub(super) decision_token_file: Option<PathBuf>,

    /// Longest a client may take to send a request's head, in ms; then 408 and the
    /// connection is closed.
    #[arg(
        long,
        env = "LIMITER_HEAD_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 5_000
    )]
    pub(super) head_timeout_ms: u64,

    /// Longest a client may take to send the body of a JSON API request, in ms; then 408 and
    /// the connection is closed.
    #[arg(
        long,
        env = "LIMITER_BODY_TIMEOUT_MS",
        value_name = "MS",
        default_value_t = 10_000
    )]
    pub(super) body_timeout_ms: u64,

    /// Most client connections open at once; one more is answered 503 and closed.
    #[arg(
        long,
        env = "LIMITER_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 10_000
    )]
    pub(super) max_connections: usize,

    #[command(flatten)]
    pub(in crate::settings) tls: TlsFlags,

    #[command(flatten)]
    pub(in crate::settings) windows: WindowFlags,

    #[command(flatten)]
    pub(in crate::settings) kafka: KafkaFlags,

    #[command(flatten)]
    pub(in crate::settings) traces: TraceFlags,
}

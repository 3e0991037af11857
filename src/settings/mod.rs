//! Settings: command-line flags with `LIMITER_…` environment equivalents and an
//! optional TOML file, validated into a [`Config`] of typed fields. Precedence:
//! flag, then environment, then file, then default.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::HeaderName;
use clap::Parser;

use crate::gateway::Gateway;
use crate::limiter::Limit;
use crate::policy::{rules_file, RuleSet};

mod checks;
mod file;
mod http;
mod limits;
mod proxies;
mod replication;

pub use crate::replication::ReplicationSettings;
pub use crate::rls::files::DescriptorSource;
use checks::{positive, token};
use file::{read_file, FileSettings};
pub use http::{HttpSettings, Secret};
use limits::limit;
use replication::replication;

/// Command-line flags. Every field is optional so that a file can fill what the
/// flags and environment leave out; defaults are applied last, in [`Config`].
#[derive(Debug, Default, Parser)]
#[command(
    name = "crdt-limiter",
    version,
    about = "Decentralized rate limiter: local token buckets, merged as CRDTs across nodes"
)]
struct Cli {
    /// TOML file with any of the settings below (keys as the flag names, e.g. `refill-per-sec = 2.5`).
    #[arg(long, env = "LIMITER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Address to serve HTTP on [default: 0.0.0.0:8000].
    #[arg(long, env = "LIMITER_LISTEN", value_name = "ADDR")]
    listen: Option<String>,

    /// Tokens a bucket holds when full: the burst a user may send at once [default: 10].
    #[arg(long, env = "LIMITER_CAPACITY", value_name = "TOKENS")]
    capacity: Option<u32>,

    /// Tokens a bucket earns per second: a whole number, a decimal (0.5) or a fraction (1/3600) [default: 1].
    #[arg(long, env = "LIMITER_REFILL_PER_SEC", value_name = "RATE")]
    refill_per_sec: Option<String>,

    /// Most keys tracked at once; bounds memory under floods of new user IDs [default: 1000000].
    #[arg(long, env = "LIMITER_MAX_KEYS", value_name = "N")]
    max_keys: Option<usize>,

    /// HTTP worker threads [default: one per core].
    #[arg(long, env = "LIMITER_WORKERS", value_name = "N")]
    workers: Option<usize>,

    /// Log filter, in `RUST_LOG` syntax [default: info].
    #[arg(long, env = "LIMITER_LOG", value_name = "FILTER")]
    log: Option<String>,

    /// Kafka bootstrap servers (host:port,...); turns replication on. Unset: standalone node.
    #[arg(long, env = "LIMITER_KAFKA_BROKERS", value_name = "HOSTS")]
    kafka_brokers: Option<String>,

    /// Compacted topic that carries bucket state [default: rate-limit-state].
    #[arg(long, env = "LIMITER_TOPIC", value_name = "NAME")]
    topic: Option<String>,

    /// Partitions when this node creates the topic [default: 6].
    #[arg(long, env = "LIMITER_TOPIC_PARTITIONS", value_name = "N")]
    topic_partitions: Option<i32>,

    /// Replication factor when this node creates the topic [default: 1].
    #[arg(long, env = "LIMITER_TOPIC_REPLICATION", value_name = "N")]
    topic_replication: Option<i32>,

    /// This node's ID on the topic; unique per node [default: host name and a random suffix].
    #[arg(long, env = "LIMITER_NODE_ID", value_name = "ID")]
    node_id: Option<String>,

    /// How often changed buckets are published, in ms [default: 50].
    #[arg(long, env = "LIMITER_SYNC_INTERVAL_MS", value_name = "MS")]
    sync_interval_ms: Option<u64>,

    /// Longest wait for reading the topic at start before serving as ready anyway, in ms [default: 30000].
    #[arg(long, env = "LIMITER_BOOTSTRAP_TIMEOUT_MS", value_name = "MS")]
    bootstrap_timeout_ms: Option<u64>,

    /// How far ahead of this node's clock a peer's stamp may be before it is clamped, in ms [default: 1000].
    #[arg(long, env = "LIMITER_MAX_CLOCK_SKEW_MS", value_name = "MS")]
    max_clock_skew_ms: Option<u64>,

    /// A node that has not seen its own heartbeat come back through Kafka for
    /// this long (longer, at most 4×, while its heartbeats have lately been
    /// slower) counts itself cut off, and limits each key to its share (1/N
    /// of the nodes it last heard from) until it hears steadily again; 0
    /// turns this off, in ms [default: 500].
    #[arg(long, env = "LIMITER_PARTITION_AFTER_MS", value_name = "MS")]
    partition_after_ms: Option<u64>,

    /// Quiet replication: a node keeps its own spending on a key to itself
    /// while the key's level is above this fraction of its capacity and what
    /// it kept is within its share of the headroom (one token at least); 1
    /// publishes every spending at once [default: 0.5].
    #[arg(long, env = "LIMITER_QUIET_WATERMARK", value_name = "FRACTION")]
    quiet_watermark: Option<f64>,

    /// Threads reading the state topic (its partitions split among them); 0:
    /// one per core, at most one per partition [default: 0].
    #[arg(long, env = "LIMITER_READER_THREADS", value_name = "N")]
    reader_threads: Option<usize>,

    /// `GET /v1/cluster` shows a peer silent this long as gone, in ms [default: 10000].
    #[arg(long, env = "LIMITER_PEER_GONE_AFTER_MS", value_name = "MS")]
    peer_gone_after_ms: Option<u64>,

    /// How peers' states merge: `min-max` (the specified rule; up to N× the limit
    /// when a user's traffic spreads over N nodes) or `counted` (also debits
    /// other nodes' spending: the limit holds at any node count) [default: min-max].
    #[arg(long, env = "LIMITER_MERGE", value_name = "MODE")]
    merge: Option<String>,

    /// Rules file (TOML): plans, per-route, per-tenant, per-IP and global limits. Unset: one
    /// per-user limit from --capacity and --refill-per-sec. SIGHUP reloads it.
    #[arg(long, env = "LIMITER_RULES", value_name = "FILE")]
    rules: Option<PathBuf>,

    /// Bearer token that turns on the admin API under /v1/admin/ (at least 16 characters). Unset: no admin API.
    #[arg(
        long,
        env = "LIMITER_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,

    /// Directory where a node keeps admin changes: without Kafka the log itself (required for the admin API then); with Kafka a copy, put back into a config topic that lost them.
    #[arg(long, env = "LIMITER_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Compacted topic that carries rule and plan changes [default: rate-limit-config].
    #[arg(long, env = "LIMITER_CONFIG_TOPIC", value_name = "NAME")]
    config_topic: Option<String>,

    /// Address to serve the Envoy rate-limit service (gRPC) on. Unset: not served.
    #[arg(long, env = "LIMITER_GRPC_LISTEN", value_name = "ADDR")]
    grpc_listen: Option<String>,

    /// envoyproxy/ratelimit YAML file, or a directory of them: the descriptor limits of the
    /// rate-limit service. Read again on SIGHUP and when the files change.
    #[arg(long, env = "LIMITER_RLS_CONFIG", value_name = "PATH")]
    rls_config: Option<PathBuf>,

    /// Header that names the user on /v1/forward-auth (what the proxy's auth layer sets) [default: X-User-ID].
    #[arg(long, env = "LIMITER_FORWARD_AUTH_USER_HEADER", value_name = "HEADER")]
    forward_auth_user_header: Option<String>,

    /// Gateway file: routes to upstreams; with it, allowed requests on those routes are
    /// forwarded (gateway mode). Unset: no gateway.
    #[arg(long, env = "LIMITER_GATEWAY", value_name = "FILE")]
    gateway: Option<PathBuf>,

    /// Addresses (CIDRs, comma-separated) of proxies in front of the gateway whose
    /// X-Forwarded-For is believed for the client IP. Unset: none, the peer is the client.
    #[arg(
        long,
        env = "LIMITER_TRUSTED_PROXIES",
        value_name = "CIDRS",
        value_delimiter = ','
    )]
    trusted_proxies: Option<Vec<String>>,

    #[command(flatten)]
    rollout: limits::RolloutFlags,

    #[command(flatten)]
    http: http::HttpFlags,
}

/// A setting that was refused, and why; the message names the setting as a
/// user would set it.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid setting `{setting}` (--{setting} / {}): {reason}",
    env_name(setting)
)]
pub struct ConfigError {
    /// The setting's flag name, e.g. `refill-per-sec`.
    pub setting: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        Self {
            setting,
            reason: reason.into(),
        }
    }
}

fn env_name(setting: &str) -> String {
    format!("LIMITER_{}", setting.replace('-', "_").to_uppercase())
}

/// Validated settings of one node.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to serve HTTP on.
    pub listen: SocketAddr,
    /// The bucket every user gets.
    pub limit: Limit,
    /// Most keys tracked at once.
    pub max_keys: NonZeroUsize,
    /// HTTP worker threads.
    pub workers: NonZeroUsize,
    /// Log filter.
    pub log: String,
    /// How often full buckets are swept from memory.
    pub sweep_interval: Duration,
    /// Kafka replication; `None` for a standalone node.
    pub replication: Option<ReplicationSettings>,
    /// The rules file and what it held at start; `None`: one per-user limit.
    pub rules: Option<RulesSource>,
    /// The admin API's bearer token; `None`: no admin API.
    pub admin_token: Option<String>,
    /// Where a node keeps admin changes (the log without Kafka, a copy with it).
    pub data_dir: Option<PathBuf>,
    /// Where to serve the Envoy rate-limit service; `None`: not served.
    pub grpc_listen: Option<SocketAddr>,
    /// The rate-limit service's descriptor files; `None`: no descriptor limits.
    pub descriptors: Option<DescriptorSource>,
    /// The header that names the user on `/v1/forward-auth` (and gateway routes).
    pub forward_auth_user_header: HeaderName,
    /// Gateway mode's routes; `None`: no gateway.
    pub gateway: Option<Arc<Gateway>>,
    /// Every rule is shadow: none refuses.
    pub shadow: bool,
    /// The node ID given (`--node-id`), standalone too; `None`: not given.
    pub node_id: Option<String>,
    /// Who may ask for decisions, and what clients owe.
    pub http: HttpSettings,
}

/// A rules file and its validated rules.
#[derive(Clone, Debug)]
pub struct RulesSource {
    /// Where it is (read again on SIGHUP).
    pub path: PathBuf,
    /// The rules it held when read.
    pub rules: RuleSet,
}

/// Shortest admin token accepted: guessing it must be hopeless.
pub const MIN_ADMIN_TOKEN: usize = 16;

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8000)),
            limit: Limit::new(NonZeroU32::new(10).unwrap(), Duration::from_secs(1)).unwrap(),
            max_keys: NonZeroUsize::new(1_000_000).unwrap(),
            workers: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
            log: "info".into(),
            sweep_interval: Duration::from_secs(1),
            replication: None,
            rules: None,
            admin_token: None,
            data_dir: None,
            grpc_listen: None,
            descriptors: None,
            forward_auth_user_header: HeaderName::from_static("x-user-id"),
            gateway: None,
            shadow: false,
            node_id: None,
            http: HttpSettings::default(),
        }
    }
}

/// Why start-up stops before serving.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `--help`, `--version` or a flag clap itself refuses; clap prints it.
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// A setting that parsed but is not acceptable.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

impl Config {
    /// Reads flags from `args` (the first is the program name), the environment and the file.
    pub fn load_from<I, T>(args: I) -> Result<Self, LoadError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args)?;
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        Ok(Self::merge(cli, file)?)
    }

    fn merge(mut cli: Cli, mut file: FileSettings) -> Result<Self, ConfigError> {
        let defaults = Config::default();
        let admin_token = token(
            "admin-token",
            cli.admin_token.take().or(file.admin_token.take()),
        )?;
        let http = http::http(&cli.http, &file, admin_token.as_deref())?;
        let node_id = replication::given_node_id(&cli, &file)?;
        let replication = replication(&cli, &file)?;
        let limit = limit(&cli, &file, &defaults.limit)?;
        let listen = listen(cli.listen.or(file.listen), defaults.listen)?;
        let max_keys = positive(
            "max-keys",
            cli.max_keys.or(file.max_keys),
            defaults.max_keys,
        )?;
        let workers = positive("workers", cli.workers.or(file.workers), defaults.workers)?;
        let rules = match cli.rules.or(file.rules) {
            Some(path) => Some(RulesSource {
                rules: load_rules(&path).map_err(|e| ConfigError::new("rules", e))?,
                path,
            }),
            None => None,
        };
        let data_dir = cli.data_dir.or(file.data_dir);
        if admin_token.is_some() && replication.is_none() && data_dir.is_none() {
            return Err(ConfigError::new(
                "data-dir",
                "required for the admin API without Kafka: changes are acknowledged only once stored there",
            ));
        }
        let forward_auth_user_header = proxies::user_header(
            cli.forward_auth_user_header
                .or(file.forward_auth_user_header),
            defaults.forward_auth_user_header,
        )?;
        Ok(Self {
            listen,
            limit,
            max_keys,
            workers,
            log: cli.log.or(file.log).unwrap_or(defaults.log),
            sweep_interval: defaults.sweep_interval,
            replication,
            rules,
            admin_token,
            data_dir,
            grpc_listen: proxies::grpc_listen(cli.grpc_listen.or(file.grpc_listen))?,
            descriptors: proxies::source(cli.rls_config.or(file.rls_config))?,
            forward_auth_user_header,
            gateway: proxies::gateway(
                cli.gateway.or(file.gateway),
                cli.trusted_proxies.or(file.trusted_proxies),
            )?,
            shadow: cli.rollout.shadow.or(file.shadow).unwrap_or(false),
            node_id,
            http,
        })
    }
}

/// The address to serve HTTP on, `default` unless given.
fn listen(text: Option<String>, default: SocketAddr) -> Result<SocketAddr, ConfigError> {
    let Some(text) = text else {
        return Ok(default);
    };
    text.parse().map_err(|_| {
        ConfigError::new(
            "listen",
            format!("`{text}` is not an address like 0.0.0.0:8000"),
        )
    })
}

#[cfg(test)]
mod tests;

/// Reads and validates the rules file at `path`.
pub fn load_rules(path: &Path) -> Result<RuleSet, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    rules_file::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

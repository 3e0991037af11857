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
use clap::{CommandFactory, FromArgMatches};

use crate::gateway::Gateway;
use crate::limiter::rate::parse_rate;
use crate::limiter::{Limit, Stamp, Tz};
use crate::policy::algorithm::AlgorithmDefaults;
use crate::policy::descriptors::Counting;
use crate::policy::{rules_file, RuleSet};

mod algorithms;
mod file;
mod flags;
mod http;
mod kafka;
mod proxies;
mod replication;
mod rls;
mod tls;
mod traces;

pub use crate::replication::ReplicationSettings;
pub use crate::rls::files::DescriptorSource;
use flags::Cli;
use http::token_or_file;
pub use http::{HttpSettings, Secret};
use replication::replication;
pub use tls::TlsSettings;
pub use traces::{OtlpProtocol, TraceSettings};

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
    /// How log lines are written.
    pub log_format: LogFormat,
    /// How often the rules, gateway and descriptor files are checked for a
    /// change; `None`: only on SIGHUP.
    pub config_poll: Option<Duration>,
    /// How often full buckets are swept from memory.
    pub sweep_interval: Duration,
    /// Kafka replication; `None` for a standalone node.
    pub replication: Option<ReplicationSettings>,
    /// The rules file and what it held at start; `None`: one per-user limit.
    pub rules: Option<RulesSource>,
    /// The admin API's bearer token; `None`: no admin API.
    pub admin_token: Option<Secret>,
    /// Where a node keeps admin changes (the log without Kafka, a copy with it).
    pub data_dir: Option<PathBuf>,
    /// Where to serve the Envoy rate-limit service; `None`: not served.
    pub grpc_listen: Option<SocketAddr>,
    /// The rate-limit service's descriptor files; `None`: no descriptor limits.
    pub descriptors: Option<DescriptorSource>,
    /// The rate-limit service answers with dynamic metadata.
    pub rls_response_metadata: bool,
    /// The rate-limit service's global shadow mode and rate-limit headers.
    pub rls_answers: crate::rls::Answers,
    /// How the rate-limit service counts a request's descriptors (`--rls-count-over-limit`).
    pub rls_counting: Counting,
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
    /// TLS on the listeners; plaintext where unset.
    pub tls: TlsSettings,
    /// Traces over OTLP; `None`: off.
    pub traces: Option<TraceSettings>,
    /// The algorithm and zone of limits that name none.
    pub algorithms: AlgorithmDefaults,
    /// For tests and drills: the instant the node's clock starts at; `None`: the wall clock.
    pub clock_start: Option<Stamp>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (`message` among them).
    Json,
}

/// A rules file and its validated rules.
#[derive(Clone, Debug)]
pub struct RulesSource {
    /// Where it is (read again when it changes, and on SIGHUP).
    pub path: PathBuf,
    /// The rules it held when read.
    pub rules: RuleSet,
}

/// Shortest admin token accepted: guessing it must be hopeless.
pub const MIN_ADMIN_TOKEN: usize = 16;

impl Default for Config {
    /// The settings when nothing is given: no flag, variable or file.
    fn default() -> Self {
        let command = Cli::command().mut_args(|a| a.env(None));
        let matches = command
            .try_get_matches_from(["crdt-limiter"])
            .expect("the defaults parse");
        let cli = Cli::from_arg_matches(&matches).expect("the defaults parse");
        Self::merge(cli).expect("the defaults are valid")
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
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut command = Cli::command();
        // A first reading only finds the file, so that `--help` shows its values.
        let finder = command
            .clone()
            .disable_help_flag(true)
            .disable_version_flag(true)
            .ignore_errors(true);
        if let Some(path) = finder.get_matches_from(&args).get_one::<PathBuf>("config") {
            command = file::layered(command, path)?;
        }
        let cli = Cli::from_arg_matches(&command.try_get_matches_from(&args)?)?;
        Ok(Self::merge(cli)?)
    }

    fn merge(mut cli: Cli) -> Result<Self, ConfigError> {
        let admin_file = cli.admin_token_file.take();
        let admin_token = token_or_file(
            ["admin-token", "admin-token-file"],
            cli.admin_token.take(),
            admin_file.clone(),
        )?;
        let http = http::http(&cli, admin_token.as_deref())?;
        let node_id = replication::given_node_id(&cli)?;
        let replication = replication(&cli)?;
        let limit = limit(&cli)?;
        let tls = tls::tls(&cli)?;
        let traces = traces::traces(&cli)?;
        let listen = listen(&cli.listen)?;
        let max_keys = positive("max-keys", cli.max_keys)?;
        let workers = workers(cli.workers)?;
        let algorithms = algorithms::defaults(&cli)?;
        let clock_start = algorithms::clock_start(&cli)?;
        let zone = algorithms.time_zone;
        let rules = cli.rules.map(|p| rules_source(p, zone)).transpose()?;
        admin_storage(admin_token.is_some(), replication.is_some(), &cli.data_dir)?;
        Ok(Self {
            listen,
            limit,
            max_keys,
            workers,
            log: cli.log,
            log_format: cli.log_format,
            config_poll: config_poll(cli.config_poll_ms)?,
            // Not a setting: how often full buckets leave memory.
            sweep_interval: Duration::from_secs(1),
            replication,
            rules,
            admin_token: admin_token.map(|token| match admin_file {
                Some(path) => Secret::from_file(token, "admin-token-file", path),
                None => Secret::new(token),
            }),
            data_dir: cli.data_dir,
            grpc_listen: proxies::grpc_listen(cli.grpc_listen)?,
            descriptors: rls::source(&cli.rls, algorithms)?,
            rls_response_metadata: cli.rls.rls_response_metadata,
            rls_answers: rls::answers(&cli.rls)?,
            rls_counting: algorithms::counting(cli.windows.rls_count_over_limit),
            forward_auth_user_header: proxies::user_header(&cli.forward_auth_user_header)?,
            gateway: proxies::gateway(cli.gateway, &cli.trusted_proxies)?,
            shadow: cli.shadow,
            node_id,
            http,
            tls,
            traces,
            algorithms,
            clock_start,
        })
    }
}

/// The admin API without Kafka needs a data directory: changes are
/// acknowledged only once stored there.
fn admin_storage(admin: bool, kafka: bool, data_dir: &Option<PathBuf>) -> Result<(), ConfigError> {
    if admin && !kafka && data_dir.is_none() {
        return Err(ConfigError::new(
            "data-dir",
            "required for the admin API without Kafka: changes are acknowledged only once stored there",
        ));
    }
    Ok(())
}

/// The rules file, read and validated now, calendar windows in `zone` unless named.
fn rules_source(path: PathBuf, zone: Tz) -> Result<RulesSource, ConfigError> {
    let rules = load_rules(&path, zone).map_err(|e| ConfigError::new("rules", e.to_string()))?;
    Ok(RulesSource { rules, path })
}

/// The default limit: every user's bucket when no rules file says otherwise.
fn limit(cli: &Cli) -> Result<Limit, ConfigError> {
    let capacity = NonZeroU32::new(cli.capacity)
        .ok_or_else(|| ConfigError::new("capacity", "must be at least 1"))?;
    let interval = parse_rate(&cli.refill_per_sec)
        .map_err(|e| ConfigError::new("refill-per-sec", e.to_string()))?;
    Limit::new(capacity, interval).map_err(|e| ConfigError::new("refill-per-sec", e.to_string()))
}

/// How often configuration files are checked: off (0), else at least 100 ms
/// (checking costs a few `stat` calls, but a busy loop of them is a mistake).
fn config_poll(ms: u64) -> Result<Option<Duration>, ConfigError> {
    match ms {
        0 => Ok(None),
        1..100 => Err(ConfigError::new(
            "config-poll-ms",
            "must be 0 (off) or at least 100",
        )),
        _ => Ok(Some(Duration::from_millis(ms))),
    }
}

/// Worker threads: as given, else one per core.
fn workers(given: Option<usize>) -> Result<NonZeroUsize, ConfigError> {
    match given {
        Some(n) => positive("workers", n),
        None => Ok(std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)),
    }
}

/// A count of at least one.
fn positive(setting: &'static str, value: usize) -> Result<NonZeroUsize, ConfigError> {
    NonZeroUsize::new(value).ok_or_else(|| ConfigError::new(setting, "must be at least 1"))
}

/// The address to serve HTTP on.
fn listen(text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        ConfigError::new(
            "listen",
            format!("`{text}` is not an address like 0.0.0.0:8000"),
        )
    })
}

#[cfg(test)]
mod tests;

/// Why a rules file was not taken.
#[derive(Debug, thiserror::Error)]
pub enum RulesLoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// What reading it said.
        source: std::io::Error,
    },
    /// It was read but holds no valid rules.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong in it.
        source: rules_file::RulesFileError,
    },
}

/// Reads and validates the rules file at `path`.
pub fn load_rules(path: &Path, zone: Tz) -> Result<RuleSet, RulesLoadError> {
    let shown = || path.display().to_string();
    let text =
        crate::config_files::read_text(path).map_err(|source| RulesLoadError::Unreadable {
            path: shown(),
            source,
        })?;
    rules_file::parse_in(&text, zone).map_err(|source| RulesLoadError::Invalid {
        path: shown(),
        source,
    })
}

//! Metrics of configuration reloads (the rules, gateway and descriptor files,
//! on SIGHUP or because they changed on disk): one counter by file and
//! outcome, plus the per-file counters older dashboards read.

use metrics::describe_counter;

use super::Telemetry;

const RELOADS: &str = "limiter_config_reloads_total";
const RULES_RELOADS: &str = "limiter_rules_reloads_total";
const GATEWAY_RELOADS: &str = "limiter_gateway_reloads_total";
const RLS_RELOADS: &str = "limiter_rls_config_reloads_total";

/// A file the node is configured from and reloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigFile {
    /// `--rules`.
    Rules,
    /// `--gateway`.
    Gateway,
    /// `--rls-config` (a file or a directory).
    Rls,
}

impl ConfigFile {
    /// The `file` label, and the word logs use.
    pub fn label(self) -> &'static str {
        match self {
            Self::Rules => "rules",
            Self::Gateway => "gateway",
            Self::Rls => "rls",
        }
    }

    /// The per-file counter kept from before `limiter_config_reloads_total`.
    fn older(self) -> &'static str {
        match self {
            Self::Rules => RULES_RELOADS,
            Self::Gateway => GATEWAY_RELOADS,
            Self::Rls => RLS_RELOADS,
        }
    }
}

/// What became of one reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// Valid: it is in effect now.
    Applied,
    /// Invalid (or unreadable): what was in effect stays.
    Refused,
    /// It changed on disk, but its content is what was read last: not read again.
    Unchanged,
}

impl ReloadOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Refused => "refused",
            Self::Unchanged => "unchanged",
        }
    }
}

pub(super) fn describe() {
    describe_counter!(
        RELOADS,
        "Reloads of the configuration files (on SIGHUP, or changed on disk), by file (rules, gateway, rls) and outcome (applied, refused, unchanged)."
    );
    describe_counter!(
        RULES_RELOADS,
        "Rules-file reloads, by outcome (applied, refused); see limiter_config_reloads_total."
    );
    describe_counter!(
        GATEWAY_RELOADS,
        "Gateway-file reloads, by outcome (applied, refused); see limiter_config_reloads_total."
    );
    describe_counter!(
        RLS_RELOADS,
        "Reloads of the rate-limit service's descriptor files, by outcome (applied, refused); see limiter_config_reloads_total."
    );
}

impl Telemetry {
    /// A reload of `file` and what became of it.
    pub fn config_reload(&self, file: ConfigFile, outcome: ReloadOutcome) {
        let label = outcome.label();
        self.local(|| {
            metrics::counter!(RELOADS, "file" => file.label(), "outcome" => label).increment(1);
            if outcome != ReloadOutcome::Unchanged {
                metrics::counter!(file.older(), "outcome" => label).increment(1);
            }
        });
    }
}

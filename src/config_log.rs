//! Where live rule changes are made durable before they are acknowledged: the
//! `rate-limit-config` topic with Kafka, a file under `--data-dir` without.
//!
//! Both hold records `key → value` (key `plan/NAME`, `user/ID` or
//! `rule/NAME`; value a small versioned JSON object, or none to forget the
//! change), and the latest record of a key is the one in effect, so the topic
//! can be compacted and the file rewritten to its latest records.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::num::{NonZeroU32, NonZeroU64};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::limiter::rules::{valid_id, valid_name};
use crate::limiter::{Limit, Policy, PolicyChange};
use crate::replication::ConfigTopic;
use crate::telemetry::Telemetry;

/// The version of the record value.
const VERSION: u8 = 1;

/// Largest record value accepted.
const MAX_VALUE: usize = 1024;

/// A limit on the wire: exact (the refill interval in ns, as the buckets keep it).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLimit {
    capacity: u32,
    interval_ns: u64,
}

/// A record value.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireValue {
    v: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<WireLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

impl WireValue {
    fn new() -> Self {
        Self {
            v: VERSION,
            limit: None,
            plan: None,
            deleted: false,
        }
    }
}

fn wire_limit(limit: &Limit) -> WireLimit {
    WireLimit {
        capacity: limit.capacity(),
        interval_ns: limit.interval().as_nanos() as u64,
    }
}

/// A change as a record: its key, and its value (`None`: forget the key's change).
pub fn encode(change: &PolicyChange) -> (String, Option<Vec<u8>>) {
    let mut value = WireValue::new();
    match change {
        PolicyChange::SetPlan { limit, .. } | PolicyChange::SetRuleLimit { limit, .. } => {
            value.limit = Some(wire_limit(limit));
        }
        PolicyChange::DeletePlan { .. } => value.deleted = true,
        PolicyChange::SetUserPlan { plan, .. } => value.plan = Some(plan.clone()),
        PolicyChange::ClearPlan { .. }
        | PolicyChange::ClearUserPlan { .. }
        | PolicyChange::ClearRuleLimit { .. } => return (change.key(), None),
    }
    // A struct of integers and strings always serializes.
    let bytes = serde_json::to_vec(&value).expect("a config record serializes");
    (change.key(), Some(bytes))
}

/// A record back to the change it stands for; anything unexpected is an error.
pub fn decode(key: &str, value: Option<&[u8]>) -> Result<PolicyChange, String> {
    let (kind, name) = key
        .split_once('/')
        .ok_or_else(|| format!("key `{key}` is not kind/name"))?;
    match kind {
        "user" => valid_id(name),
        "plan" | "rule" => valid_name(name),
        _ => Err(format!("unknown kind `{kind}`")),
    }
    .map_err(|e| format!("key `{key}`: {e}"))?;
    let Some(value) = value else {
        return PolicyChange::cleared(key).ok_or_else(|| format!("key `{key}`"));
    };
    if value.len() > MAX_VALUE {
        return Err(format!("value of {} bytes", value.len()));
    }
    let value: WireValue = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    if value.v != VERSION {
        return Err(format!("unknown version {}", value.v));
    }
    let limit = || -> Result<Limit, String> {
        let wire = value.limit.as_ref().ok_or("no limit")?;
        let capacity = NonZeroU32::new(wire.capacity).ok_or("capacity 0")?;
        let interval = NonZeroU64::new(wire.interval_ns).ok_or("interval 0")?;
        Limit::new(capacity, Duration::from_nanos(interval.get())).map_err(|e| e.to_string())
    };
    let name = name.to_string();
    Ok(match (kind, value.deleted) {
        ("plan", true) => PolicyChange::DeletePlan { name },
        ("plan", false) => PolicyChange::SetPlan {
            name,
            limit: limit()?,
        },
        ("rule", _) => PolicyChange::SetRuleLimit {
            rule: name,
            limit: limit()?,
        },
        (_, _) => PolicyChange::SetUserPlan {
            user: name,
            plan: value.plan.clone().ok_or("no plan")?,
        },
    })
}

/// Where this node commits admin changes.
#[derive(Clone)]
pub enum ConfigLog {
    /// The config topic: acknowledged once the broker has the record.
    Topic(Arc<ConfigTopic>),
    /// A file under `--data-dir`: acknowledged once written and synced.
    File(Arc<FileLog>),
}

impl ConfigLog {
    /// Makes `change` durable and applies it on this node; an error means
    /// nothing changed (as far as this node knows).
    pub async fn commit(&self, change: PolicyChange) -> Result<(), String> {
        match self {
            ConfigLog::Topic(topic) => topic.commit(&change).await,
            ConfigLog::File(file) => {
                let file = Arc::clone(file);
                actix_web::rt::task::spawn_blocking(move || file.commit(&change))
                    .await
                    .map_err(|e| format!("the writer stopped: {e}"))?
            }
        }
    }
}

/// The standalone log: one JSON line per change, appended and synced before
/// the change is acknowledged; rewritten to the latest line of each key at start.
pub struct FileLog {
    path: PathBuf,
    file: Mutex<File>,
    policy: Arc<Policy>,
    telemetry: Arc<Telemetry>,
}

/// A line of the file.
#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    value: Option<serde_json::Value>,
}

impl FileLog {
    /// Opens (creating) `dir/config-changes.jsonl`, applies every change in it
    /// to `policy`, and rewrites it compacted. A line that does not decode
    /// (a torn last write) is skipped, counted and logged.
    pub fn open(
        dir: &Path,
        policy: Arc<Policy>,
        telemetry: Arc<Telemetry>,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("config-changes.jsonl");
        let mut latest = BTreeMap::new();
        if let Ok(file) = File::open(&path) {
            for (n, line) in BufReader::new(file).lines().enumerate() {
                let line = line?;
                match serde_json::from_str::<Line>(&line)
                    .map_err(|e| e.to_string())
                    .and_then(|l| {
                        let value = l.value.as_ref().map(|v| v.to_string());
                        decode(&l.key, value.as_deref().map(str::as_bytes)).map(|c| (l, c))
                    }) {
                    Ok((line, change)) => {
                        policy.apply(&change);
                        latest.insert(line.key.clone(), line);
                    }
                    Err(error) => {
                        telemetry.config_decode_error();
                        tracing::warn!(file = %path.display(), line = n + 1, %error, "skipping a config change that does not decode");
                    }
                }
            }
        }
        let mut text = String::new();
        for line in latest.values() {
            text.push_str(&serde_json::to_string(line).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        // Rewritten whole into a temporary file beside it, synced, then renamed
        // over it (`tempfile`): a crash leaves the old file or the new one.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        File::open(dir)?.sync_all()?;
        if !latest.is_empty() {
            tracing::info!(file = %path.display(), changes = latest.len(), "applied stored config changes");
        }
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok(Self {
            path,
            file: Mutex::new(file),
            policy,
            telemetry,
        })
    }

    /// Appends and syncs `change`, then applies it.
    pub fn commit(&self, change: &PolicyChange) -> Result<(), String> {
        let (key, value) = encode(change);
        let value = value
            .map(|v| serde_json::from_slice::<serde_json::Value>(&v))
            .transpose()
            .map_err(|e| e.to_string())?;
        let mut line = serde_json::to_string(&Line { key, value }).map_err(|e| e.to_string())?;
        line.push('\n');
        let mut file = self.file.lock();
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| {
                tracing::error!(file = %self.path.display(), error = %e, "cannot store a config change");
                format!("cannot write {}: {e}", self.path.display())
            })?;
        self.policy.apply(change);
        self.telemetry.config_applied("admin");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(capacity: u32, interval_ms: u64) -> Limit {
        Limit::new(
            NonZeroU32::new(capacity).unwrap(),
            Duration::from_millis(interval_ms),
        )
        .unwrap()
    }

    #[test]
    fn every_change_survives_encoding() {
        let changes = [
            PolicyChange::SetPlan {
                name: "pro".into(),
                limit: limit(100, 10),
            },
            PolicyChange::DeletePlan { name: "pro".into() },
            PolicyChange::ClearPlan { name: "pro".into() },
            PolicyChange::SetUserPlan {
                user: "alice".into(),
                plan: "pro".into(),
            },
            PolicyChange::ClearUserPlan {
                user: "alice".into(),
            },
            PolicyChange::SetRuleLimit {
                rule: "global".into(),
                limit: limit(1000, 1),
            },
            PolicyChange::ClearRuleLimit {
                rule: "global".into(),
            },
        ];
        for change in changes {
            let (key, value) = encode(&change);
            assert_eq!(decode(&key, value.as_deref()), Ok(change));
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for (key, value) in [
            ("plan/pro", Some(&b"{"[..])),
            ("plan/pro", Some(b"{\"v\":9}")),
            (
                "plan/pro",
                Some(b"{\"v\":1,\"limit\":{\"capacity\":0,\"interval_ns\":1}}"),
            ),
            ("plan/pro", Some(b"{\"v\":1,\"evil\":1}")),
            ("user/alice", Some(b"{\"v\":1}")),
            ("nokind", None),
            ("color/red", None),
            ("plan/has space", None),
            ("user/", None),
        ] {
            assert!(decode(key, value).is_err(), "{key} {value:?}");
        }
    }
}

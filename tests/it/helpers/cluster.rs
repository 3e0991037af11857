//! Helpers for tests against a real Kafka-API broker: the shared one that
//! `scripts/test.sh` starts, or one of a test's own; nodes on it; raw records.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::NodeProcess;

pub fn shared_broker() -> String {
    std::env::var("CRDT_LIMITER_TEST_BROKERS")
        .expect("these tests need a broker: run scripts/test.sh, which starts one and sets CRDT_LIMITER_TEST_BROKERS")
}

/// A topic no other test uses.
pub fn topic(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("test-{name}-{}-{nanos}", std::process::id())
}

/// A node on `brokers`/`topic` with a slow refill (1 token a minute), so
/// nothing refills during a test and every 429 is replication's doing.
pub fn node(brokers: &str, topic: &str, id: &str, extra: &[&str]) -> NodeProcess {
    let defaults = [
        ("--kafka-brokers", brokers),
        ("--topic", topic),
        ("--node-id", id),
        ("--capacity", "5"),
        ("--refill-per-sec", "1/60"),
        ("--sync-interval-ms", "20"),
        ("--topic-partitions", "3"),
    ];
    // A flag in `extra` replaces its default (clap refuses a flag given twice).
    let mut args: Vec<&str> = defaults
        .iter()
        .filter(|(flag, _)| !extra.contains(flag))
        .flat_map(|(flag, value)| [*flag, *value])
        .collect();
    args.extend_from_slice(extra);
    NodeProcess::start(&args)
}

/// Writes `records` (key, value) to `topic` as any Kafka client could, and
/// waits until the broker has them.
pub fn produce_raw(brokers: &str, topic: &str, records: &[(&[u8], &[u8])]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for (key, payload) in records {
        producer
            .send(
                BaseRecord::<[u8], [u8]>::to(topic)
                    .key(*key)
                    .payload(*payload),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// A broker of the test's own, stopped when dropped.
pub struct OwnBroker {
    pub port: u16,
    state: PathBuf,
}

impl OwnBroker {
    /// A free port with no broker on it yet.
    pub fn reserve() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let state =
            std::env::temp_dir().join(format!("limiter-broker-{}-{port}", std::process::id()));
        Self { port, state }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn script(&self, verb: &str) {
        assert!(self.try_script(verb), "broker.sh {verb} failed");
    }

    /// [`OwnBroker::script`] that reports failure instead of panicking: for
    /// guards that run while a test is already failing.
    pub fn try_script(&self, verb: &str) -> bool {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/broker.sh");
        Command::new("bash")
            .arg(script)
            .args([verb, &self.port.to_string()])
            .env("BROKER_STATE_DIR", &self.state)
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.script("stop");
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

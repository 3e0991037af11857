//! Replication through a secured Kafka: a real tansu broker of the test's own
//! behind nginx terminating TLS (mutual TLS with `ssl_verify_client on`),
//! and tansu's own SASL. Nodes with the right TLS settings replicate (a take
//! on one is seen on the other); a node with the wrong CA, without a client
//! certificate or with a refused SASL login does not connect, says why in its
//! log and in `limiter_kafka_errors_total`, and keeps deciding. (tansu 0.6
//! with in-memory storage keeps no SCRAM users and has no PLAIN, so a SASL
//! login that succeeds is not tested here.)

use std::path::Path;
use std::time::Duration;

use crate::helpers::cluster::{node, topic};
use crate::helpers::secure_kafka::{SecureKafka, Shape};
use crate::helpers::tls::Ca;
use crate::helpers::{eventually, NodeProcess};

const ADMIN: &str = "kafka-security-admin-token";

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Two nodes with these security flags; a take on the first is seen on the
/// second (its bucket drops to 0 with no request of its own).
fn replicate(kafka: &SecureKafka, flags: &[&str]) {
    let topic = topic("sec");
    let extra = [flags, &["--admin-token", ADMIN]].concat();
    let nodes: Vec<NodeProcess> = ["a", "b"]
        .iter()
        .map(|id| node(&kafka.brokers, &topic, id, &extra))
        .collect();
    for n in &nodes {
        n.wait_ready(Duration::from_secs(30));
    }
    for _ in 0..5 {
        assert_eq!(nodes[0].protected("alice").status, 200);
    }
    eventually(
        Duration::from_secs(15),
        "node b sees alice's bucket empty",
        || nodes[1].tokens(ADMIN, "alice") == Some(0),
    );
    assert_eq!(nodes[1].protected("alice").status, 429);
    assert_eq!(nodes[0].metric("limiter_kafka_connected"), 1.0);
}

/// A node that cannot get in: it says `cause` in its metric and in
/// `/v1/cluster`, logs what to fix (naming `setting`) once, and keeps
/// deciding locally.
fn refused(kafka: &SecureKafka, flags: &[&str], cause: &str, setting: &str) {
    let extra = [flags, &["--bootstrap-timeout-ms", "500"]].concat();
    let n = node(&kafka.brokers, &topic("sec-refused"), "r", &extra);
    let series = format!("limiter_kafka_errors_total{{cause=\"{cause}\"}}");
    eventually(
        Duration::from_secs(20),
        &format!("{series} counted"),
        || n.metric(&series) >= 1.0,
    );
    eventually(Duration::from_secs(5), "the cause logged", || {
        !n.logged(setting).is_empty()
    });
    let lines = n.logged(setting);
    assert_eq!(lines.len(), 1, "logged once: {lines:?}");
    assert!(lines[0].contains("ERROR"), "{lines:?}");
    assert_eq!(n.metric("limiter_kafka_connected"), 0.0);
    // The same cause in `/v1/cluster`, for whoever looks there first.
    let view: serde_json::Value = n.get("/v1/cluster").json();
    assert_eq!(view["node"]["kafka_connected"], false, "{view}");
    assert_eq!(view["node"]["kafka_problem"]["cause"], cause, "{view}");
    let fix = view["node"]["kafka_problem"]["fix"].as_str().unwrap_or("");
    assert!(fix.contains(setting), "{view}");
    let statuses: Vec<u16> = (0..6).map(|_| n.protected("bob").status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
}

#[test]
fn two_nodes_replicate_through_tls() {
    let kafka = SecureKafka::start(
        "tls",
        Shape {
            tls: true,
            ..Default::default()
        },
    );
    let ca = path(&kafka.ca_file);
    replicate(
        &kafka,
        &["--kafka-security-protocol", "ssl", "--kafka-ca-file", ca],
    );
}

#[test]
fn a_node_trusting_another_ca_says_so_and_keeps_deciding() {
    let kafka = SecureKafka::start(
        "tls-wrong-ca",
        Shape {
            tls: true,
            ..Default::default()
        },
    );
    let other_file = Ca::new("other").write(&kafka.dir, "other-ca");
    let flags = [
        "--kafka-security-protocol",
        "ssl",
        "--kafka-ca-file",
        path(&other_file),
    ];
    refused(&kafka, &flags, "tls_ca", "--kafka-ca-file");
}

#[test]
fn two_nodes_replicate_through_mutual_tls() {
    let shape = Shape {
        tls: true,
        mutual: true,
        ..Default::default()
    };
    let kafka = SecureKafka::start("mtls", shape);
    let (cert, key) = kafka.ca.leaf_files(&kafka.dir, "node", &["limiter-node"]);
    let ca = path(&kafka.ca_file);
    let tls = ["--kafka-security-protocol", "ssl", "--kafka-ca-file", ca];
    let cert = [
        "--kafka-cert-file",
        path(&cert),
        "--kafka-key-file",
        path(&key),
    ];
    replicate(&kafka, &[&tls[..], &cert].concat());
}

#[test]
fn a_node_without_a_client_certificate_is_refused_by_mutual_tls() {
    let shape = Shape {
        tls: true,
        mutual: true,
        ..Default::default()
    };
    let kafka = SecureKafka::start("mtls-refused", shape);
    let flags = [
        "--kafka-security-protocol",
        "ssl",
        "--kafka-ca-file",
        path(&kafka.ca_file),
    ];
    refused(&kafka, &flags, "tls_closed", "--kafka-cert-file");
}

/// Flags of a SCRAM-SHA-512 login as `limiter`, the password in a file.
fn scram(kafka: &SecureKafka, protocol: &str) -> Vec<String> {
    scram_as(kafka, protocol, "not-known-to-tansu")
}

/// SCRAM-SHA-512 as `limiter` with `password` (from a file).
fn scram_as(kafka: &SecureKafka, protocol: &str, password: &str) -> Vec<String> {
    let file = kafka.dir.join("kafka-password");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    [
        "--kafka-security-protocol",
        protocol,
        "--kafka-sasl-mechanism",
        "SCRAM-SHA-512",
        "--kafka-sasl-username",
        "limiter",
        "--kafka-sasl-password-file",
        path(&file),
    ]
    .map(String::from)
    .to_vec()
}

/// tansu 0.6 (as `scripts/broker.sh` installs it, in-memory storage) keeps
/// no SCRAM credentials, so it refuses every login: what a wrong password
/// looks like to the node.
#[test]
fn a_refused_scram_login_says_so_and_keeps_deciding() {
    let kafka = SecureKafka::start(
        "scram",
        Shape {
            sasl: true,
            ..Default::default()
        },
    );
    let flags = scram(&kafka, "sasl_plaintext");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    refused(&kafka, &flags, "sasl", "--kafka-sasl-username");
}

/// SCRAM over TLS, as a managed Kafka asks: the login is refused (see
/// above), which the broker can only say once TLS is up and SASL spoken.
#[test]
fn scram_over_tls_reaches_the_brokers_login_check() {
    let shape = Shape {
        tls: true,
        sasl: true,
        ..Default::default()
    };
    let kafka = SecureKafka::start("sasl-ssl", shape);
    let mut flags = scram(&kafka, "sasl_ssl");
    flags.extend(["--kafka-ca-file".into(), path(&kafka.ca_file).into()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    refused(&kafka, &flags, "sasl", "--kafka-sasl-username");
}

/// A SCRAM-SHA-512 login accepted, plaintext and behind TLS: needs a tansu
/// with SQL storage (in-memory storage keeps no users), whose path is in
/// `CRDT_LIMITER_SQL_TANSU`; `scripts/sasl.sh` installs it and runs this.
#[test]
#[ignore = "needs a tansu with SQL storage: scripts/sasl.sh"]
fn scram_login_accepted_and_nodes_replicate() {
    let tansu = std::env::var_os("CRDT_LIMITER_SQL_TANSU")
        .expect("CRDT_LIMITER_SQL_TANSU: the tansu built with SQL storage");
    let tansu = Path::new(&tansu);
    let password = "limiter-scram-password-0123";
    for (protocol, tls) in [("sasl_plaintext", false), ("sasl_ssl", true)] {
        let shape = Shape {
            tls,
            sasl: true,
            ..Default::default()
        };
        let name = format!("scram-ok-{protocol}");
        let kafka = SecureKafka::start_with_user(&name, shape, tansu, ("limiter", password));
        let mut flags = scram_as(&kafka, protocol, password);
        if tls {
            flags.extend(["--kafka-ca-file".into(), path(&kafka.ca_file).into()]);
        }
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        replicate(&kafka, &flags);
    }
}

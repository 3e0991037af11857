//! Unit tests of the Kafka security settings as librdkafka gets them.

use super::*;

#[test]
fn names_round_trip() {
    for p in [
        Protocol::Plaintext,
        Protocol::Ssl,
        Protocol::SaslPlaintext,
        Protocol::SaslSsl,
    ] {
        assert_eq!(Protocol::parse(p.name()), Some(p));
    }
    for m in [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ] {
        assert_eq!(Mechanism::parse(m.name()), Some(m));
    }
    assert_eq!(Protocol::parse("SASL_SSL"), Some(Protocol::SaslSsl));
    assert_eq!(Mechanism::parse("GSSAPI"), None);
}

#[test]
fn a_password_never_shows_in_debug() {
    let sasl = Sasl {
        mechanism: Mechanism::ScramSha512,
        username: "limiter".into(),
        password: Hidden::new("hunter2-very-secret".into()),
    };
    let shown = format!(
        "{:?}",
        KafkaSecurity {
            sasl: Some(sasl),
            ..Default::default()
        }
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("limiter"), "{shown}");
}

#[test]
fn owned_and_unknown_options_are_refused_others_pass() {
    assert!(matches!(
        check_option("group.id", "x"),
        Err(OptionError::Owned(_))
    ));
    assert!(matches!(
        check_option("sasl.password", "x"),
        Err(OptionError::Owned(_))
    ));
    assert!(matches!(
        check_option("no.such.property", "1"),
        Err(OptionError::Refused { .. })
    ));
    assert!(matches!(
        check_option("socket.timeout.ms", "soon"),
        Err(OptionError::Refused { .. })
    ));
    check_option("ssl.endpoint.identification.algorithm", "none").unwrap();
    check_option("socket.timeout.ms", "30000").unwrap();
}

#[test]
fn apply_sets_what_the_settings_say() {
    let security = KafkaSecurity {
        protocol: Protocol::SaslSsl,
        ca_file: Some("/etc/kafka/ca.pem".into()),
        client_cert: None,
        sasl: Some(Sasl {
            mechanism: Mechanism::ScramSha256,
            username: "limiter".into(),
            password: Hidden::new("pw".into()),
        }),
        options: vec![("socket.timeout.ms".into(), Hidden::new("30000".into()))],
    };
    let mut config = ClientConfig::new();
    apply(&security, &mut config);
    assert_eq!(config.get("security.protocol"), Some("sasl_ssl"));
    assert_eq!(config.get("ssl.ca.location"), Some("/etc/kafka/ca.pem"));
    assert_eq!(config.get("sasl.mechanism"), Some("SCRAM-SHA-256"));
    assert_eq!(config.get("sasl.password"), Some("pw"));
    assert_eq!(config.get("socket.timeout.ms"), Some("30000"));
    assert_eq!(config.get("ssl.certificate.location"), None);
}

#[test]
fn tls_without_a_ca_file_uses_the_systems_cas() {
    let security = KafkaSecurity {
        protocol: Protocol::Ssl,
        ..Default::default()
    };
    let mut config = ClientConfig::new();
    apply(&security, &mut config);
    assert_eq!(config.get("ssl.ca.location"), Some("probe"));
    let mut plain = ClientConfig::new();
    apply(&KafkaSecurity::default(), &mut plain);
    assert_eq!(plain.get("ssl.ca.location"), None);
}

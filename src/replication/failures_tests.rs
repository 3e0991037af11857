//! Unit tests of telling failures the operator must fix from a broker away.

use super::*;

#[test]
fn an_untrusted_broker_certificate_is_the_ca() {
    let reason = "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified, verify that ssl.ca.location is correctly configured or root CA certificates are installed (add broker's CA certificate to the Windows Root certificate store) (after 3ms in state SSL_HANDSHAKE)";
    assert_eq!(
        cause(Some(RDKafkaErrorCode::SSL), reason),
        Some(Cause::TlsCa)
    );
}

#[test]
fn a_refused_client_certificate_is_the_client_cert() {
    let reason = "ssl://127.0.0.1:9093/bootstrap: SSL transport error: error:0A00045C:SSL routines::tlsv13 alert certificate required";
    assert_eq!(
        cause(Some(RDKafkaErrorCode::BrokerTransportFailure), reason),
        Some(Cause::TlsClientCert)
    );
}

#[test]
fn a_tls_connection_closed_before_any_answer_is_told_by_the_log() {
    let closed = "ssl://127.0.0.1:42201/bootstrap: Disconnected: SSL connection closed by peer (after 0ms in state APIVERSION_QUERY)";
    assert_eq!(logged_cause("FAIL", closed), Some(Cause::TlsClosed));
    let later = "ssl://127.0.0.1:42201/0: Disconnected: SSL connection closed by peer (after 5012ms in state UP)";
    assert_eq!(logged_cause("FAIL", later), None);
    assert_eq!(logged_cause("BROKER", closed), None);
}

#[test]
fn a_refused_login_is_sasl() {
    let reason = "sasl_plaintext://127.0.0.1:9092/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512";
    assert_eq!(
        cause(Some(RDKafkaErrorCode::Authentication), reason),
        Some(Cause::Sasl)
    );
}

#[test]
fn a_broker_away_is_no_cause_even_on_a_secured_listener() {
    for reason in [
        "sasl_ssl://127.0.0.1:9093/bootstrap: Connect to ipv4#127.0.0.1:9093 failed: Connection refused (after 0ms in state CONNECT)",
        "1/1 brokers are down",
    ] {
        assert_eq!(
            cause(Some(RDKafkaErrorCode::BrokerTransportFailure), reason),
            None,
            "{reason}"
        );
    }
}

#[test]
fn every_cause_has_its_own_label() {
    let labels: std::collections::BTreeSet<_> = Cause::ALL.iter().map(|c| c.label()).collect();
    assert_eq!(labels.len(), Cause::ALL.len());
}

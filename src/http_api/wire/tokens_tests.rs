//! Unit tests of `tokens`.

use super::*;

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap()
}

#[test]
fn the_bearer_scheme_is_read_in_any_case() {
    for text in ["Bearer t0k", "bearer t0k", "BEARER t0k", "bEaReR  t0k "] {
        assert_eq!(bearer(&value(text)), Some(&b"t0k"[..]), "{text}");
    }
    for text in ["Basic dDprZXk=", "Bearer", "Bearert0k", ""] {
        assert_eq!(bearer(&value(text)), None, "{text}");
    }
}

#[test]
fn the_decision_token_is_taken_from_its_header_or_a_bearer_when_allowed() {
    let token = "decision-token-0123456789";
    let telemetry = Telemetry::new();
    let access = DecisionAccess::Token(Secret::new(token.into()));
    let check = |headers: &[(&'static str, String)], authorization| {
        let mut map = HeaderMap::new();
        for (name, text) in headers {
            map.append(HeaderName::from_static(name), value(text));
        }
        access.check(&map, authorization, &telemetry)
    };
    let by_header = [("x-limiter-token", token.to_string())];
    let by_bearer = [("authorization", format!("bearer {token}"))];
    assert_eq!(check(&by_header, true), Ok(()));
    assert_eq!(check(&by_header, false), Ok(()));
    assert_eq!(check(&by_bearer, true), Ok(()));
    // On forward-auth the bearer is the client's: not the proxy's token.
    assert_eq!(
        check(&by_bearer, false),
        Err(ApiError::MissingDecisionToken { header_only: true })
    );
    // The proxy's header counts beside a client's own bearer.
    let both = [
        ("x-limiter-token", token.to_string()),
        ("authorization", "Bearer client-jwt".to_string()),
    ];
    assert_eq!(check(&both, false), Ok(()));
    let wrong = [("x-limiter-token", format!("{token}x"))];
    assert_eq!(check(&wrong, true), Err(ApiError::BadDecisionToken));
    assert_eq!(
        check(&[], true),
        Err(ApiError::MissingDecisionToken { header_only: false })
    );
    let closed = DecisionAccess::new(None, true);
    let refused = closed.check(&HeaderMap::new(), true, &telemetry);
    assert_eq!(refused, Err(ApiError::DecisionApisClosed));
    let open = DecisionAccess::new(None, false);
    assert_eq!(open.check(&HeaderMap::new(), true, &telemetry), Ok(()));
}

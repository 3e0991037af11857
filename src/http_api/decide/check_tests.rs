//! Unit tests of `check`.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use actix_web::body::MessageBody;

use super::*;
use crate::limiter::{Limit, Stamp, Store};
use crate::policy::{Policy, RuleSet};

fn body(verdict: Option<&Verdict>) -> String {
    let bytes = respond(verdict).into_body().try_into_bytes().unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn the_answer_has_every_field_in_its_order() {
    assert_eq!(
        body(None),
        r#"{"allowed":true,"limit":null,"remaining":null,"reset_ms":0,"retry_after_ms":0,"rule":null}"#
    );
    // Two tokens, one earned every 1.5 s.
    let limit = Limit::new(NonZeroU32::new(2).unwrap(), Duration::from_millis(1500)).unwrap();
    let policy = Policy::new(RuleSet::single(limit));
    let store = Store::new(limit, NonZeroUsize::new(10).unwrap());
    let request = Request {
        user: "u",
        route: "",
        method: "",
        tenant: None,
        ip: None,
        plan: None,
    };
    let now = Stamp::from_unix_nanos(1_000_000_000);
    assert_eq!(
        body(policy.check(&store, &request, 2, now).as_ref()),
        r#"{"allowed":true,"limit":2,"remaining":0,"reset_ms":3000,"retry_after_ms":0,"rule":"default"}"#
    );
    assert_eq!(
        body(policy.check(&store, &request, 1, now).as_ref()),
        r#"{"allowed":false,"limit":2,"remaining":0,"reset_ms":3000,"retry_after_ms":1500,"rule":"default"}"#
    );
}

fn check(body: &str) -> Result<String, ApiError> {
    let mut scratch = Vec::new();
    let wire: CheckBody = parse_body(body.as_bytes(), &mut scratch)?;
    Check::try_from(&wire).map(|c| format!("{:?} {}", c.request, c.cost))
}

#[test]
fn fields_are_checked_in_their_order_and_named() {
    let refused = |body: &str| check(body).map_err(|e| e.to_string());
    assert_eq!(
        refused(r#"{"user":"","route":"api"}"#),
        Err("`user`: must be 1-256 bytes".into())
    );
    assert_eq!(
        refused(r#"{"cost":0,"route":"api","user":"a"}"#),
        Err("`route`: a path starting with '/', at most 512 bytes of visible ASCII".into())
    );
    assert_eq!(
        refused(r#"{"user":7}"#),
        Err("`user`: must be a string".into())
    );
    assert_eq!(refused(r#"{"user":null}"#), Err("`user`: required".into()));
    assert_eq!(
        refused(r#"{"user":"a","cost":4294967296}"#),
        Err("`cost`: a whole number of tokens from 1 to 4294967295".into())
    );
    assert!(check(r#"{"user":"a","ip":"::1","cost":null,"tenant":null}"#).is_ok());
}

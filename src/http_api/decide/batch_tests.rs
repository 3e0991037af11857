//! Unit tests of `/v1/checks` parsing and validation: every mistake named
//! with the item's index, the first invalid item named, the bound said first.

use std::borrow::Cow;

use super::*;
use crate::http_api::wire::request::Field;

/// `(user, cost)` of every check, or the error.
fn checks(body: &str) -> Result<Vec<(String, u32)>, ApiError> {
    let mut scratch = Vec::new();
    let wire = parse(body.as_bytes(), &mut scratch)?;
    let checks = validate(&wire)?;
    Ok(checks
        .iter()
        .map(|c| (c.request.user.to_string(), c.cost))
        .collect())
}

fn refused(body: &str) -> String {
    checks(body).expect_err("refused").to_string()
}

/// A body of `n` copies of `item`.
fn batch_of(n: usize, item: &str) -> String {
    format!(r#"{{"checks":[{}]}}"#, vec![item; n].join(","))
}

#[test]
fn items_are_read_in_order_with_their_own_costs() {
    assert_eq!(
        checks(r#" {"checks":[{"user":"a"},{"user":"b","cost":3},{"user":"a","cost":null}]}"#),
        Ok(vec![("a".into(), 1), ("b".into(), 3), ("a".into(), 1)])
    );
}

#[test]
fn strings_without_escapes_are_borrowed_from_the_body() {
    let mut scratch = Vec::new();
    let wire = parse(br#"{"checks":[{"user":"plain"}]}"#, &mut scratch).unwrap();
    let Items::List(items) = wire.checks else {
        panic!("a list: {:?}", wire.checks)
    };
    assert!(matches!(
        &items[0],
        Item::Body(CheckBody {
            user: Field::Value(Cow::Borrowed("plain")),
            ..
        })
    ));
}

#[test]
fn the_checks_field_itself_is_named_when_wrong() {
    assert_eq!(refused("{}"), "`checks`: required");
    let list = "`checks`: a list of 1 to 1000 /v1/check bodies";
    for wrong in ["null", "1", "true", r#""x""#, r#"{"user":"a"}"#] {
        assert_eq!(refused(&format!(r#"{{"checks":{wrong}}}"#)), list);
    }
    assert_eq!(
        refused(r#"{"checks":[]}"#),
        "`checks`: empty; send a list of 1 to 1000 /v1/check bodies"
    );
    assert_eq!(
        refused(r#"{"checks":[],"user":"a"}"#),
        "`user`: unknown field; the only field is checks"
    );
}

#[test]
fn a_thousand_pass_and_more_are_refused_before_any_item_is_judged() {
    assert_eq!(
        checks(&batch_of(MAX_BATCH, r#"{"user":"a"}"#))
            .unwrap()
            .len(),
        1000
    );
    assert_eq!(
        refused(&batch_of(MAX_BATCH + 1, r#"{"user":"a"}"#)),
        "`checks`: 1001 checks; at most 1000 in one call"
    );
    // Invalid items, and an unknown field (the parser's rare path), too.
    assert_eq!(
        refused(&batch_of(2000, "{}")),
        "`checks`: 2000 checks; at most 1000 in one call"
    );
    assert_eq!(
        refused(&batch_of(1001, r#"{"nmae":1}"#)),
        "`checks`: 1001 checks; at most 1000 in one call"
    );
}

#[test]
fn an_invalid_item_is_named_with_its_index_as_v1_check_names_it() {
    let ok = r#"{"user":"a"}"#;
    let with = |k: usize, bad: &str| {
        let mut items = [ok; 5];
        items[k] = bad;
        refused(&format!(r#"{{"checks":[{}]}}"#, items.join(",")))
    };
    assert_eq!(
        with(3, r#"{"user":""}"#),
        "`checks[3].user`: must be 1-256 bytes"
    );
    assert_eq!(with(0, "{}"), "`checks[0].user`: required");
    assert_eq!(
        with(4, r#"{"user":7}"#),
        "`checks[4].user`: must be a string"
    );
    assert_eq!(
        with(1, r#"{"user":"a","cost":0}"#),
        "`checks[1].cost`: a whole number of tokens from 1 to 4294967295"
    );
    assert_eq!(
        with(2, r#"{"user":"a","ip":"nope"}"#),
        "`checks[2].ip`: `nope` is not an IPv4 or IPv6 address"
    );
    assert_eq!(
        with(2, r#"{"user":"a","nmae":"b"}"#),
        "`checks[2].nmae`: unknown field; the fields are user, route, method, tenant, ip and cost"
    );
    for not_object in ["1", "null", r#"["user"]"#, r#""a""#] {
        assert_eq!(
            with(1, not_object),
            "`checks[1]`: must be an object, a /v1/check body"
        );
    }
}

#[test]
fn the_first_invalid_item_is_named_whatever_the_mistakes() {
    // Item 1's wrong value comes before item 3's unknown field, which only
    // the rare path of the parser sees.
    assert_eq!(
        refused(r#"{"checks":[{"user":"a"},{"user":""},{"user":"b"},{"usr":"c"}]}"#),
        "`checks[1].user`: must be 1-256 bytes"
    );
    assert_eq!(
        refused(r#"{"checks":[{"user":"a"},5,{"usr":"c"}]}"#),
        "`checks[1]`: must be an object, a /v1/check body"
    );
}

#[test]
fn a_repeated_field_counts_its_last_value() {
    assert_eq!(
        checks(
            r#"{"checks":[{"user":"a","cost":1,"cost":2}],"checks":[{"user":"b","cost":5,"cost":4}]}"#
        ),
        Ok(vec![("b".into(), 4)])
    );
}

#[test]
fn only_a_json_object_is_a_body() {
    let invalid = |detail: &str| format!("the body must be a JSON object: {detail}");
    assert_eq!(refused(r#"[{"user":"a"}]"#), invalid("not an object"));
    assert_eq!(
        refused(r#"{"checks":[{"user":"a"}"#),
        invalid("EOF while parsing a list at line 1 column 23")
    );
}

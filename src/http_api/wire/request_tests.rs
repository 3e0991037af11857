//! Unit tests of `request`.

use super::*;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Pair<'a> {
    #[serde(borrow)]
    name: Field<Cow<'a, str>>,
    count: Field<u64>,
}

impl<'a> Body<'a> for Pair<'a> {
    const UNKNOWN: &'static str = "send name and count";
}

/// The body's fields, or the error.
fn parse(body: &str) -> Result<(Field<String>, Field<u64>), ApiError> {
    let mut scratch = Vec::new();
    let pair: Pair = parse_body(body.as_bytes(), &mut scratch)?;
    let name = match pair.name {
        Field::Value(name) => Field::Value(name.into_owned()),
        Field::Absent => Field::Absent,
        Field::Null => Field::Null,
        Field::WrongType => Field::WrongType,
    };
    Ok((name, pair.count))
}

#[test]
fn fields_keep_what_was_sent_and_wrong_types_do_not_fail_the_parse() {
    let value = |s: &str| Field::Value(s.to_string());
    assert_eq!(
        parse(r#"{"name":"a","count":3}"#),
        Ok((value("a"), Field::Value(3)))
    );
    assert_eq!(parse("{}"), Ok((Field::Absent, Field::Absent)));
    assert_eq!(
        parse(r#"{"name":null,"count":null}"#),
        Ok((Field::Null, Field::Null))
    );
    for wrong in ["1", "true", "[1,{\"a\":[]}]", "{\"b\":{}}"] {
        let body = format!(r#"{{"name":{wrong},"count":"3"}}"#);
        assert_eq!(parse(&body), Ok((Field::WrongType, Field::WrongType)));
    }
    for not_whole in ["-1", "1.5", "1.0", "18446744073709551616"] {
        let body = format!(r#"{{"count":{not_whole}}}"#);
        assert_eq!(parse(&body), Ok((Field::Absent, Field::WrongType)));
    }
    assert_eq!(
        parse(r#"{"name":"a\"\u0062"}"#),
        Ok((value("a\"b"), Field::Absent))
    );
}

#[test]
fn strings_without_escapes_are_borrowed_from_the_body() {
    let mut scratch = Vec::new();
    let pair: Pair = parse_body(br#"{"name":"plain"}"#, &mut scratch).unwrap();
    assert!(matches!(pair.name, Field::Value(Cow::Borrowed("plain"))));
}

#[test]
fn an_unknown_field_is_named_before_any_wrong_type() {
    let unknown = |field: &str| Err(ApiError::field(field, "send name and count"));
    assert_eq!(parse(r#"{"name":1,"nmae":"a"}"#), unknown("nmae"));
    // Of several, the first in sorted order, as a map would list them.
    assert_eq!(parse(r#"{"zz":1,"aa":2}"#), unknown("aa"));
    assert_eq!(parse(r#"{"a`, expected b":1}"#), unknown("a`, expected b"));
    assert_eq!(parse(r#"{"":1}"#), unknown(""));
}

#[test]
fn a_repeated_field_counts_its_last_value() {
    assert_eq!(
        parse(r#"{"count":1,"name":"a","count":2}"#),
        Ok((Field::Value("a".into()), Field::Value(2)))
    );
}

#[test]
fn only_a_json_object_is_a_body() {
    let invalid = |detail: &str| Err(ApiError::InvalidJson(detail.into()));
    assert_eq!(parse(r#"["a",1]"#), invalid("not an object"));
    assert_eq!(parse(r#""x""#), invalid("not an object"));
    assert_eq!(
        parse(""),
        invalid("EOF while parsing a value at line 1 column 0")
    );
    assert_eq!(
        parse("{"),
        invalid("EOF while parsing an object at line 1 column 1")
    );
    assert_eq!(
        parse("{} x"),
        invalid("trailing characters at line 1 column 4")
    );
    // Broken JSON is reported as such even after an unknown field.
    assert_eq!(
        parse(r#"{"nmae":1,"#),
        invalid("EOF while parsing a value at line 1 column 10")
    );
}

#[test]
fn optional_and_required_fields() {
    fn reason<T>(field: &str, reason: &str) -> Result<T, ApiError> {
        Err(ApiError::field(field, reason))
    }
    assert_eq!(Field::<u64>::Absent.optional("n", "whole"), Ok(None));
    assert_eq!(Field::<u64>::Null.optional("n", "whole"), Ok(None));
    assert_eq!(Field::Value(1_u64).optional("n", "whole"), Ok(Some(&1)));
    assert_eq!(
        Field::<u64>::WrongType.optional("n", "whole"),
        reason("n", "whole")
    );
    assert_eq!(
        Field::<u64>::Absent.required("n", "whole"),
        reason("n", "required")
    );
    assert_eq!(
        Field::<u64>::Null.required("n", "whole"),
        reason("n", "whole")
    );
    assert_eq!(Field::Value(1_u64).required("n", "whole"), Ok(&1));
}

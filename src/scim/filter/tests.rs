//! Filter tests: grammar, error offsets, canonical display (with a round-trip proptest),
//! evaluation semantics and schema validation.

use proptest::prelude::*;
use serde_json::{Number, json};

use super::*;
use crate::scim::schema::fixtures::{ENTERPRISE_URN, user, user_schema};

fn p(name: &str) -> AttrPath {
    AttrPath::simple(name)
}

fn parse(text: &str) -> Filter {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn cmp(name: &str, op: CompareOp, v: CompValue) -> Filter {
    Filter::Compare(p(name), op, v)
}

fn pr(name: &str) -> Filter {
    Filter::Present(p(name))
}

fn bx(f: Filter) -> Box<Filter> {
    Box::new(f)
}

#[test]
fn parses_to_expected_ast() {
    let s = |v: &str| CompValue::Str(v.into());
    let cases: Vec<(&str, Filter)> = vec![
        (
            r#"userName Eq "john""#,
            cmp("userName", CompareOp::Eq, s("john")),
        ),
        ("title PR", pr("title")),
        (
            "active eq TRUE",
            cmp("active", CompareOp::Eq, CompValue::Bool(true)),
        ),
        (
            "x ne False",
            cmp("x", CompareOp::Ne, CompValue::Bool(false)),
        ),
        ("x eq NULL", cmp("x", CompareOp::Eq, CompValue::Null)),
        (
            "x gt -1.5e3",
            cmp(
                "x",
                CompareOp::Gt,
                CompValue::Number(Number::from_f64(-1500.0).unwrap()),
            ),
        ),
        (
            "x le 0",
            cmp("x", CompareOp::Le, CompValue::Number(0.into())),
        ),
        (
            "x lt 12",
            cmp("x", CompareOp::Lt, CompValue::Number(12.into())),
        ),
        (
            "a pr or b pr and c pr",
            Filter::Or(bx(pr("a")), bx(Filter::And(bx(pr("b")), bx(pr("c"))))),
        ),
        (
            "a pr and b pr or c pr",
            Filter::Or(bx(Filter::And(bx(pr("a")), bx(pr("b")))), bx(pr("c"))),
        ),
        (
            "a pr or b pr or c pr",
            Filter::Or(bx(Filter::Or(bx(pr("a")), bx(pr("b")))), bx(pr("c"))),
        ),
        (
            "not (a pr) and b pr",
            Filter::And(bx(Filter::Not(bx(pr("a")))), bx(pr("b"))),
        ),
        (
            "  a   pr   AND(b pr)  ",
            Filter::And(bx(pr("a")), bx(pr("b"))),
        ),
        ("NOT(a pr)", Filter::Not(bx(pr("a")))),
        ("((a pr))", pr("a")),
        ("x eq\"y\"", cmp("x", CompareOp::Eq, s("y"))),
        (
            r#"x eq "\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#,
            cmp("x", CompareOp::Eq, s("\"\\/\u{8}\u{c}\n\r\té😀")),
        ),
        (
            r#"emails[type eq "work" and not (primary eq false)]"#,
            Filter::ValuePath(
                p("emails"),
                bx(Filter::And(
                    bx(cmp("type", CompareOp::Eq, s("work"))),
                    bx(Filter::Not(bx(cmp(
                        "primary",
                        CompareOp::Eq,
                        CompValue::Bool(false),
                    )))),
                )),
            ),
        ),
        // A bare `not` not followed by '(' is an attribute name.
        ("not pr", pr("not")),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text), expected, "{text}");
    }
}

#[test]
fn parses_rfc_7644_examples() {
    // RFC 7644 §3.4.2.2 example filters.
    for text in [
        r#"userName eq "bjensen""#,
        r#"name.familyName co "O'Malley""#,
        r#"userName sw "J""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        "title pr",
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and (emails.type eq "work")"#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    ] {
        let f = parse(text);
        assert_eq!(parse(&f.to_string()), f, "{text}");
    }
}

#[test]
fn displays_canonically() {
    let cases = [
        ("a PR  or (b pr AND c pr)", "a pr or b pr and c pr"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
        ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
        ("not(a eq TRUE)", "not (a eq true)"),
        (r#"x eq "\u0041\/""#, r#"x eq "A/""#),
        (r#"emails[ type eq "w" ]"#, r#"emails[type eq "w"]"#),
    ];
    for (text, shown) in cases {
        assert_eq!(parse(text).to_string(), shown, "{text}");
    }
}

#[test]
fn syntax_errors_carry_offsets() {
    let cases: &[(&str, usize, &str)] = &[
        (
            r#"userName eq "x" foo"#,
            16,
            "unexpected 'foo' at offset 16",
        ),
        ("userName eq", 11, "missing value at offset 11"),
        (r#"userName xx "a""#, 9, "unknown operator 'xx' at offset 9"),
        (
            r#"userName eq "abc"#,
            12,
            "unterminated string starting at offset 12",
        ),
        (
            r#"userName eq "\q""#,
            13,
            "invalid escape '\\q' at offset 13",
        ),
        (r#"userName eq "\ud800""#, 13, "unpaired UTF-16 surrogate"),
        (
            r#"userName eq "\udc00\ud800""#,
            13,
            "unpaired UTF-16 surrogate",
        ),
        (r#"userName eq "\u12G4""#, 17, "expected 4 hex digits"),
        ("userName eq \"a\u{1}\"", 14, "control character U+0001"),
        ("(userName pr", 12, "missing ')' at offset 12"),
        ("userName pr)", 11, "unexpected ')' at offset 11"),
        (
            r#"emails[type eq "work"].value.x eq "x""#,
            22,
            "expected one sub-attribute name after ']'",
        ),
        ("not userName pr", 4, "expected '(' after 'not'"),
        ("userName eq 01", 13, "unexpected '1' at offset 13"),
        ("userName eq 1.", 14, "expected a JSON number"),
        ("userName eq tru", 12, "invalid value 'tru' at offset 12"),
        ("userName eq 1e999", 12, "out of range"),
        ("a pr and", 8, "unexpected end of input at offset 8"),
        ("", 0, "expected an attribute name"),
        (
            "a pr and or",
            11,
            "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after 'or'",
        ),
        (r#"emails[type[value pr] pr]"#, 11, "cannot be nested"),
        ("emails[type pr", 14, "missing ']' at offset 14"),
        ("x eq 'single'", 5, "unexpected"),
        ("x eq \"ok\" and é pr", 14, "unexpected 'é' at offset 14"),
    ];
    for (text, offset, needle) in cases {
        match text.parse::<Filter>() {
            Err(FilterError::Syntax { offset: o, message }) => {
                assert!(message.contains(needle), "{text}: {message}");
                assert_eq!(o, *offset, "{text}: {message}");
            }
            other => panic!("{text}: expected a syntax error, got {other:?}"),
        }
    }
}

#[test]
fn a_filter_over_the_length_bound_is_refused_naming_both_lengths() {
    let value = "a".repeat(100 * 1024);
    let text = format!("userName eq \"{value}\"");
    let e = text.parse::<Filter>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "the filter is 102414 bytes long, more than the 2048 a filter may have"
    );
    let at_bound = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LENGTH - 14));
    assert_eq!(at_bound.len(), MAX_FILTER_LENGTH);
    assert!(at_bound.parse::<Filter>().is_ok());
    let over = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LENGTH - 13));
    assert!(matches!(
        over.parse::<Filter>(),
        Err(FilterError::TooLong {
            length: 2049,
            max: 2048
        })
    ));
}

#[test]
fn limits_nesting_and_size() {
    let deep = format!("{}a pr{}", "(".repeat(1_000), ")".repeat(1_000));
    let e = deep.parse::<Filter>().unwrap_err().to_string();
    assert!(e.contains("nests deeper than 64"), "{e}");
    let huge = format!("{}a pr{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(
        huge.parse::<Filter>(),
        Err(FilterError::TooLong {
            length: 200_004,
            max: MAX_FILTER_LENGTH
        })
    );
    let nots = format!("{}a pr{}", "not (".repeat(100), ")".repeat(100));
    assert!(nots.parse::<Filter>().is_err());
    let ok = format!("{}a pr{}", "(".repeat(60), ")".repeat(60));
    assert!(ok.parse::<Filter>().is_ok());
    let long = vec!["a pr"; 201].join(" and ");
    let e = long.parse::<Filter>().unwrap_err().to_string();
    assert!(e.contains("more than 200 comparisons"), "{e}");
    let fine = vec!["a pr"; 200].join(" or ");
    let f = fine.parse::<Filter>().unwrap();
    assert_eq!(f.to_string(), fine);
    assert!(!matches(&f, &user(), &user_schema()));
    assert_eq!(
        validate(&f, &user_schema()),
        Err(FilterError::UnknownAttribute {
            attribute: "a".into()
        })
    );
    let nested = format!(
        "{}emails[{}type pr{}]{}",
        "not (".repeat(31),
        "(".repeat(31),
        ")".repeat(31),
        ")".repeat(31)
    );
    let f = nested.parse::<Filter>().unwrap();
    assert_eq!(f.to_string().parse::<Filter>(), Ok(f.clone()));
    assert!(!matches(&f, &user(), &user_schema()));
}

#[test]
fn evaluates_rfc_semantics() {
    let schema = user_schema();
    let resource = user();
    let e = ENTERPRISE_URN;
    let cases: Vec<(String, bool)> = vec![
        (r#"userName eq "BJENSEN@example.com""#.into(), true),
        (r#"USERNAME eq "bjensen@example.com""#.into(), true),
        (
            r#"id eq "2819C223-7F76-453A-919D-413861904646""#.into(),
            false,
        ),
        (
            r#"id eq "2819c223-7f76-453a-919d-413861904646""#.into(),
            true,
        ),
        (r#"externalId eq "bjensen""#.into(), false),
        (r#"userName sw "BJEN""#.into(), true),
        (r#"userName ew ".COM""#.into(), true),
        (r#"userName co "jensen@""#.into(), true),
        (r#"userName co "nope""#.into(), false),
        (r#"userName gt "a""#.into(), true),
        (r#"userName lt "A""#.into(), false),
        (r#"name.familyName co "ENS""#.into(), true),
        (r#"emails eq "babs@jensen.org""#.into(), true),
        (r#"emails co "jensen.org""#.into(), true),
        (r#"emails gt "a""#.into(), false),
        (r#"emails.type eq "home""#.into(), true),
        (r#"emails[type eq "work" and primary eq true]"#.into(), true),
        (
            r#"emails[type eq "home" and primary eq true]"#.into(),
            false,
        ),
        (r#"emails[not (type eq "home")]"#.into(), true),
        (r#"EMAILS[TYPE eq "WORK"]"#.into(), true),
        (r#"emails[type eq "other"]"#.into(), false),
        (
            r#"emails[primary pr and value ew "example.com"]"#.into(),
            true,
        ),
        ("active eq true".into(), true),
        ("active ne false".into(), true),
        ("active gt false".into(), false),
        ("active eq false".into(), false),
        ("loginCount gt 41".into(), true),
        ("loginCount ge 42.0".into(), true),
        ("loginCount lt 42".into(), false),
        ("loginCount eq 42".into(), true),
        ("loginCount co 4".into(), false),
        (
            r#"meta.lastModified gt "2011-05-13T04:42:33Z""#.into(),
            true,
        ),
        (
            r#"meta.created eq "2010-01-23T06:56:22+02:00""#.into(),
            true,
        ),
        (
            r#"meta.created lt "2010-01-23T06:56:22+02:00""#.into(),
            false,
        ),
        (
            r#"meta.created le "2010-01-23T06:56:22.000+02:00""#.into(),
            true,
        ),
        (r#"employeeSince lt "2009-04-01T07:00:00Z""#.into(), true),
        (r#"meta.resourceType eq "User""#.into(), true),
        ("title pr".into(), false),
        ("title eq null".into(), true),
        ("title ne null".into(), false),
        (r#"title ne "x""#.into(), true),
        (r#"title eq "x""#.into(), false),
        (r#"title gt "x""#.into(), false),
        ("displayName pr".into(), true),
        ("displayName ne null".into(), true),
        ("displayName eq null".into(), false),
        ("name pr".into(), true),
        ("emails pr".into(), true),
        ("groups.display co \"GUIDES\"".into(), true),
        (r#"foo eq "x""#.into(), false),
        (r#"foo ne "x""#.into(), true),
        (format!(r#"schemas eq "{e}""#), true),
        (format!(r#"{e}:department eq "tour operations""#), true),
        (
            format!(r#"{}:department eq "tour operations""#, e.to_lowercase()),
            true,
        ),
        (
            format!(r#"{e}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
            true,
        ),
        (
            format!(r#"{e}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#),
            true,
        ),
        (format!(r#"{e}:employeeNumber gt "7""#), true),
        (format!("{e}:costCenter pr"), false),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "b""#.into(),
            true,
        ),
        ("title pr or userName pr and active eq false".into(), false),
        ("(title pr or userName pr) and active eq true".into(), true),
        ("not (title pr)".into(), true),
        (
            r#"phoneNumbers[type eq "work"] and emails[type eq "home"]"#.into(),
            true,
        ),
    ];
    for (text, expected) in cases {
        let f = parse(&text);
        assert_eq!(matches(&f, &resource, &schema), expected, "{text}");
    }
}

#[test]
fn present_ignores_empty_values() {
    let schema = user_schema();
    let r = json!({"nickName": "", "phoneNumbers": [], "name": {}, "title": null, "active": false});
    for (text, expected) in [
        ("nickName pr", false),
        ("phoneNumbers pr", false),
        ("name pr", false),
        ("title pr", false),
        ("active pr", true),
        ("phoneNumbers eq null", true),
        ("active eq \"false\"", true),
    ] {
        assert_eq!(matches(&parse(text), &r, &schema), expected, "{text}");
    }
    // Booleans stored as strings by a legacy back end still compare.
    let legacy = json!({"active": "True"});
    assert!(matches(&parse("active eq true"), &legacy, &schema));
    assert!(!matches(&parse("active eq false"), &legacy, &schema));
    // Entra ID quotes booleans in filters and paths: roles[primary eq "True"].
    let active = json!({"active": true});
    assert!(matches(&parse(r#"active eq "TRUE""#), &active, &schema));
    assert!(!matches(&parse(r#"active eq "False""#), &active, &schema));
    assert!(matches(&parse(r#"active ne "false""#), &active, &schema));
}

#[test]
fn matches_value_filters_on_elements() {
    let schema = user_schema();
    let Ok(super::super::path::ResolvedAttr { attr, .. }) = p("emails").resolve(&schema) else {
        panic!("emails resolves");
    };
    let f = parse(r#"type eq "WORK" and primary eq true"#);
    assert!(matches_value(
        &f,
        &json!({"type": "work", "primary": true}),
        attr
    ));
    assert!(!matches_value(&f, &json!({"type": "work"}), attr));
}

#[test]
fn validates_against_schema() {
    let schema = user_schema();
    let e = ENTERPRISE_URN;
    let ok = [
        r#"userName eq "x""#.to_string(),
        r#"emails eq "x""#.into(),
        r#"emails co "x""#.into(),
        r#"emails[type eq "work" and primary eq true]"#.into(),
        "active eq true".into(),
        r#"active eq "True""#.into(),
        r#"emails[primary eq "True"]"#.into(),
        "active ne null".into(),
        "loginCount gt 3".into(),
        r#"meta.created gt "2011-05-13T04:42:34Z""#.into(),
        r#"id eq "1" or externalId eq "2""#.into(),
        format!(r#"schemas eq "{e}""#),
        format!(r#"{e}:manager.value eq "1""#),
        format!(r#"{e}:manager eq "1""#),
        "name pr".into(),
        "groups pr".into(),
    ];
    for text in ok {
        assert_eq!(validate(&parse(&text), &schema), Ok(()), "{text}");
    }
    let bad: Vec<(String, &str)> = vec![
        (r#"foo eq "x""#.into(), "unknown attribute 'foo'"),
        (
            r#"name.nope eq "x""#.into(),
            "unknown attribute 'name.nope'",
        ),
        (
            r#"urn:x:y:z eq "x""#.into(),
            "unknown attribute 'urn:x:y:z'",
        ),
        ("active gt true".into(), "'active' is boolean"),
        (r#"active co "t""#.into(), "'active' is boolean"),
        (r#"active eq "yes""#.into(), "compare it with true or false"),
        (r#"name gt "x""#.into(), "'name' is complex"),
        (r#"name eq "x""#.into(), "'name' is complex"),
        (r#"emails gt "x""#.into(), "'emails' is complex"),
        ("loginCount co 1".into(), "'loginCount' is a number"),
        (r#"loginCount eq "1""#.into(), "'loginCount' is a number"),
        ("userName eq 1".into(), "'userName' is a string"),
        (
            "userName gt null".into(),
            "cannot compare 'userName' with null",
        ),
        (
            r#"meta.created sw "2010""#.into(),
            "'meta.created' is a dateTime",
        ),
        (
            r#"meta.created gt "yesterday""#.into(),
            "'meta.created' is a dateTime",
        ),
        (
            r#"emails[nope eq "x"]"#.into(),
            "unknown attribute 'emails.nope'",
        ),
        (
            r#"emails[primary eq "maybe"]"#.into(),
            "'primary' is boolean",
        ),
        (r#"userName[x pr]"#.into(), "cannot take a value filter"),
        (r#"not (x pr) or y pr"#.into(), "unknown attribute 'x'"),
        (format!("{e}:nope pr"), "unknown attribute"),
    ];
    for (text, needle) in bad {
        let err = validate(&parse(&text), &schema)
            .expect_err(&text)
            .to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

#[test]
fn validates_programmatic_nested_value_paths() {
    let schema = user_schema();
    let nested = Filter::ValuePath(
        p("emails"),
        bx(Filter::ValuePath(p("type"), bx(pr("value")))),
    );
    let err = validate(&nested, &schema).unwrap_err().to_string();
    assert!(err.contains("cannot be nested"), "{err}");
}

// ---- property tests ----

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        1 => Just("$ref".to_string()),
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null"]).prop_map(String::from),
    ]
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    let urn = prop::sample::select(vec![
        None,
        Some(ENTERPRISE_URN),
        Some("urn:ietf:params:scim:schemas:core:2.0:User"),
        Some("urn:a:b"),
    ]);
    (urn, name(), prop::option::of(name())).prop_map(|(urn, name, sub)| AttrPath {
        urn: urn.map(String::from),
        name,
        sub,
    })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::Str),
    ]
}

fn compare_op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn attr_exp() -> impl Strategy<Value = Filter> {
    prop_oneof![
        attr_path().prop_map(Filter::Present),
        (attr_path(), compare_op(), comp_value()).prop_map(|(p, o, v)| Filter::Compare(p, o, v)),
    ]
}

fn combine(leaf: BoxedStrategy<Filter>, depth: u32, size: u32) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(depth, size, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(bx(a), bx(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(bx(a), bx(b))),
            inner.prop_map(|a| Filter::Not(bx(a))),
        ]
    })
    .boxed()
}

fn filter() -> impl Strategy<Value = Filter> {
    let value_filter = combine(attr_exp().boxed(), 3, 8);
    let leaf = prop_oneof![
        3 => attr_exp(),
        1 => (attr_path(), value_filter).prop_map(|(p, f)| Filter::ValuePath(p, bx(f))),
    ];
    combine(leaf.boxed(), 5, 32)
}

fn filterish_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        prop::sample::select(vec![
            "(", ")", "[", "]", " ", " and ", " or ", "not", " not (", "pr", " eq ", " gt ", "\"",
            "\\", "\\u", "\\ud83d", "d800", "1e5", "-", ".", "0", "true", "NULL", ":", "urn:",
            "emails", "type", "$ref", "é", "\u{0}",
        ])
        .prop_map(String::from),
        "[a-z]{1,4}",
        any::<String>(),
    ];
    prop::collection::vec(token, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn display_then_parse_round_trips(f in filter()) {
        let text = f.to_string();
        let parsed: Result<Filter, _> = text.parse();
        prop_assert_eq!(parsed, Ok(f), "{}", text);
    }

    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = text.parse::<Filter>();
    }

    #[test]
    fn parse_never_panics_on_filterish_text(text in filterish_text()) {
        if let Ok(f) = text.parse::<Filter>() {
            let _ = matches(&f, &user(), &user_schema());
            // Whatever parses displays to text that parses back to the same filter.
            let again: Result<Filter, _> = f.to_string().parse();
            prop_assert_eq!(again, Ok(f));
        }
        let _ = text.parse::<crate::scim::path::PatchPath>();
    }

    #[test]
    fn evaluation_and_validation_never_panic(f in filter()) {
        let schema = user_schema();
        let _ = matches(&f, &user(), &schema);
        let _ = validate(&f, &schema);
    }
}

/// Entra ID filters on its matching attribute `emails[type eq "work"].value` with a
/// sub-attribute after the brackets, outside RFC 7644's grammar; it reads as one value filter.
#[test]
fn a_sub_attribute_after_a_value_filter_joins_the_filter() {
    let entra: Filter = r#"emails[type eq "work"].value eq "ann@example.com""#
        .parse()
        .unwrap();
    let rfc: Filter = r#"emails[type eq "work" and value eq "ann@example.com"]"#
        .parse()
        .unwrap();
    assert_eq!(entra, rfc);
}

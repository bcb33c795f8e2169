//! serde's wording of a deserialization error ("invalid type: string \"30s\", expected u64",
//! "unknown field `craete`, expected one of ...") said in TOML's words, naming the table and
//! suggesting the key or value meant ("did you mean"). Nothing here knows gateway.toml's keys:
//! the valid ones come from serde's own message.

/// What serde said went wrong, read from its message.
#[derive(Debug, PartialEq, Eq)]
pub enum SerdeSaid<'a> {
    /// `unknown field `x`, expected ...`: the valid keys of the table.
    UnknownKey { key: &'a str, valid: Vec<&'a str> },
    /// `unknown variant `x`, expected ...`: the valid values.
    UnknownValue { value: &'a str, valid: Vec<&'a str> },
    /// `missing field `x``.
    MissingKey(&'a str),
    /// `invalid type: ..., expected X` or `invalid value: ..., expected X`: what was expected,
    /// in serde's words, and whether the type was right but the value out of range.
    Mismatch {
        expected: &'a str,
        out_of_range: bool,
    },
    /// Anything else: a message written by a visitor of the gateway's own (already in words a
    /// user reads) or a TOML syntax error.
    Other(&'a str),
}

/// Reads serde's message.
pub fn read(message: &str) -> SerdeSaid<'_> {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (key, valid) = name_and_choices(rest);
        return SerdeSaid::UnknownKey { key, valid };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (value, valid) = name_and_choices(rest);
        return SerdeSaid::UnknownValue { value, valid };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return SerdeSaid::MissingKey(rest.trim_matches('`'));
    }
    for (prefix, out_of_range) in [("invalid type: ", false), ("invalid value: ", true)] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(at) = rest.rfind(", expected ")
        {
            return SerdeSaid::Mismatch {
                expected: &rest[at + ", expected ".len()..],
                out_of_range,
            };
        }
    }
    SerdeSaid::Other(message)
}

/// `` `x`, expected one of `a`, `b` `` -> ("x", ["a", "b"]); also "expected `a` or `b`",
/// "expected `a`" and "there are no fields".
fn name_and_choices(rest: &str) -> (&str, Vec<&str>) {
    let (name, choices) = rest.split_once(", ").unwrap_or((rest, ""));
    let valid = choices.split('`').skip(1).step_by(2).collect();
    (name.trim_matches('`'), valid)
}

/// What serde expected, as a TOML type, with the unit the key's name gives (`_ms`, `_bytes`,
/// `_s`). A phrase written by one of the gateway's own visitors is kept as written.
pub fn expected(serde_expected: &str, key: &str, out_of_range: bool) -> String {
    let unit = unit_of(key);
    let integer = |what: &str| match unit {
        Some(unit) => format!("{what} ({unit})"),
        None => what.to_owned(),
    };
    let word = serde_expected
        .trim_start_matches("a ")
        .trim_start_matches("an ");
    match word {
        "u8" | "u16" | "u32" if out_of_range => {
            let max = match word {
                "u8" => u32::from(u8::MAX),
                "u16" => u32::from(u16::MAX),
                _ => u32::MAX,
            };
            integer(&format!("an integer from 0 to {max}"))
        }
        "u64" | "u128" | "usize" if out_of_range => integer("an integer of 0 or more"),
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => integer("an integer"),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => integer("an integer"),
        "f32" | "f64" => integer("a number"),
        "string" | "borrowed string" | "string or map" => "a string".to_owned(),
        "char" | "character" => "a string of one character".to_owned(),
        "boolean" | "bool" => "true or false".to_owned(),
        "sequence" | "seq" => "an array".to_owned(),
        "map" => "a table".to_owned(),
        w if w.starts_with("struct ") => "a table".to_owned(),
        w if w.starts_with("enum ") || w.starts_with("variant ") => {
            "one of the values this key takes".to_owned()
        }
        w if w.starts_with("tuple") => "an array".to_owned(),
        _ => serde_expected.to_owned(),
    }
}

/// The unit a key's name says its number is in.
fn unit_of(key: &str) -> Option<&'static str> {
    let last = key.rsplit('.').next().unwrap_or(key);
    [
        ("_ms", "milliseconds"),
        ("_bytes", "bytes"),
        ("_mb", "megabytes"),
        ("_s", "seconds"),
    ]
    .into_iter()
    .find(|(suffix, _)| last.ends_with(suffix))
    .map(|(_, unit)| unit)
}

/// `unknown key "craete" in [users]; did you mean "create"?`, or the valid keys when none is
/// close.
pub fn unknown_key(key: &str, table: &str, valid: &[&str]) -> String {
    let head = format!("unknown key {key:?} in {table}");
    match (closest(key, valid), valid.is_empty()) {
        (Some(meant), _) => format!("{head}; did you mean {meant:?}?"),
        (None, true) => format!("{head}, which takes no keys"),
        (None, false) => format!("{head}; the keys are {}", valid.join(", ")),
    }
}

/// `unknown value "strin"; did you mean "string"?`, or the valid values when none is close.
pub fn unknown_value(value: &str, valid: &[&str]) -> String {
    match closest(value, valid) {
        Some(meant) => format!("unknown value {value:?}; did you mean {meant:?}?"),
        None => format!("unknown value {value:?}; use one of {}", valid.join(", ")),
    }
}

/// The valid word `typed` was most likely meant to be: a letter or two off (a transposition
/// counts as one), a different case, or the start of it.
pub fn closest<'a>(typed: &str, valid: &[&'a str]) -> Option<&'a str> {
    let typed_lower = typed.to_ascii_lowercase();
    let allowed = if typed.chars().count() >= 5 { 2 } else { 1 };
    valid
        .iter()
        .map(|v| {
            let lower = v.to_ascii_lowercase();
            let distance = strsim::damerau_levenshtein(&typed_lower, &lower);
            let prefix = typed_lower.len() >= 3
                && (lower.starts_with(&typed_lower) || typed_lower.starts_with(&lower));
            (v, if prefix { distance.min(1) } else { distance })
        })
        .filter(|(_, distance)| *distance <= allowed)
        .min_by_key(|(_, distance)| *distance)
        .map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_serde_messages() {
        let cases = [
            (
                "unknown field `craete`, expected one of `create`, `read`, `update`",
                SerdeSaid::UnknownKey {
                    key: "craete",
                    valid: vec!["create", "read", "update"],
                },
            ),
            (
                "unknown field `crate`, expected `create` or `list`",
                SerdeSaid::UnknownKey {
                    key: "crate",
                    valid: vec!["create", "list"],
                },
            ),
            (
                "unknown field `x`, there are no fields",
                SerdeSaid::UnknownKey {
                    key: "x",
                    valid: vec![],
                },
            ),
            (
                "unknown variant `strin`, expected one of `string`, `boolean`",
                SerdeSaid::UnknownValue {
                    value: "strin",
                    valid: vec!["string", "boolean"],
                },
            ),
            ("missing field `create`", SerdeSaid::MissingKey("create")),
            (
                "invalid type: string \"30s\", expected u64",
                SerdeSaid::Mismatch {
                    expected: "u64",
                    out_of_range: false,
                },
            ),
            (
                "invalid value: integer `-1`, expected u32",
                SerdeSaid::Mismatch {
                    expected: "u32",
                    out_of_range: true,
                },
            ),
            ("number too large", SerdeSaid::Other("number too large")),
        ];
        for (message, said) in cases {
            assert_eq!(read(message), said, "{message}");
        }
    }

    #[test]
    fn says_the_expected_type_in_toml_words() {
        let cases = [
            (
                "u64",
                "server.request_timeout_ms",
                false,
                "an integer (milliseconds)",
            ),
            ("u64", "server.max_body_bytes", false, "an integer (bytes)"),
            ("u64", "cache.memory_mb", false, "an integer (megabytes)"),
            ("u64", "auth.jwt.leeway_s", false, "an integer (seconds)"),
            ("u32", "limits.burst", false, "an integer"),
            (
                "u32",
                "limits.burst",
                true,
                "an integer from 0 to 4294967295",
            ),
            (
                "u64",
                "cache.records_ttl_ms",
                true,
                "an integer of 0 or more (milliseconds)",
            ),
            ("i64", "groups.rules.rank", false, "an integer"),
            ("f64", "limits.requests_per_second", false, "a number"),
            ("a string", "users.create", false, "a string"),
            ("a boolean", "server.metrics", false, "true or false"),
            ("a sequence", "auth.bearer", false, "an array"),
            ("struct RawTls", "server.tls", false, "a table"),
            ("a map", "users.search", false, "a table"),
            (
                "a number, or a string such as \"${RATE}\"",
                "downstream.max_concurrent",
                false,
                "a number, or a string such as \"${RATE}\"",
            ),
        ];
        for (serde, key, out_of_range, words) in cases {
            assert_eq!(
                expected(serde, key, out_of_range),
                words,
                "{serde} at {key}"
            );
        }
    }

    #[test]
    fn suggests_the_key_meant_and_lists_them_only_when_none_is_close() {
        let valid = ["create", "read", "update", "delete", "list"];
        assert_eq!(
            unknown_key("craete", "[users]", &valid),
            "unknown key \"craete\" in [users]; did you mean \"create\"?"
        );
        assert_eq!(
            unknown_key("Update", "[users]", &valid),
            "unknown key \"Update\" in [users]; did you mean \"update\"?"
        );
        assert_eq!(
            unknown_key("colour", "[users]", &valid),
            "unknown key \"colour\" in [users]; the keys are create, read, update, delete, list"
        );
        assert_eq!(
            closest("timeout", &["timeout_ms", "health"]),
            Some("timeout_ms")
        );
        assert_eq!(closest("id", &["ids", "list"]), Some("ids"));
        assert_eq!(
            unknown_value("strin", &["string", "boolean"]),
            "unknown value \"strin\"; did you mean \"string\"?"
        );
    }
}

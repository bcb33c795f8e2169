//! gateway.toml read into its raw form ([`RawConfig`]) with every problem of syntax, type or
//! key reported at once, each naming its key in TOML's words (see [`super::words`]).
//!
//! serde stops at the first problem, so the file is read again after each one with the entry
//! at fault taken out: an unknown key, a value of the wrong type, a table missing a key (a
//! "missing key" caused by taking an entry out is not reported). What can still be read is
//! returned, with the sections that had a problem, so that the later checks can run on the
//! others.

use std::collections::BTreeSet;
use std::ops::Range;

use serde::Deserialize;
use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, Source};
use super::raw::RawConfig;
use super::words::{self, SerdeSaid};

/// More problems than anyone reads at once; the reading stops there.
const MAX_PROBLEMS: usize = 200;

/// What could be read of a file, and what could not.
pub struct Shape {
    /// The file as written, when it could be read once the entries at fault were taken out.
    pub raw: Option<RawConfig>,
    /// Every syntax, type and key problem, in the order found.
    pub problems: Vec<ConfigError>,
    /// The top-level keys (sections) that had a problem: checks of them would only repeat it.
    pub tainted: BTreeSet<String>,
}

/// One step of a key path: a table's key or an array's index.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Reads `src` as gateway.toml, reporting every problem.
pub fn read(src: &Source) -> Shape {
    let (document, syntax) = DeTable::parse_recoverable(src.text);
    if !syntax.is_empty() {
        return Shape {
            raw: None,
            problems: syntax_problems(src, syntax),
            tainted: BTreeSet::new(),
        };
    }
    let root_span = document.span();
    let mut document = DeValue::Table(document.into_inner());
    let mut shape = Shape {
        raw: None,
        problems: Vec::new(),
        tainted: BTreeSet::new(),
    };
    // (span of a table, key) for each entry taken out, whose absence is no news.
    let mut taken_out: Vec<(Range<usize>, String)> = Vec::new();
    // (table, key) for each key an unknown key was probably meant to be: its absence is
    // the same mistake.
    let mut meant: Vec<(String, String)> = Vec::new();
    while shape.problems.len() < MAX_PROBLEMS {
        let spanned = serde_spanned::Spanned::new(root_span.clone(), document.clone());
        let error = match RawConfig::deserialize(toml::de::ValueDeserializer::from(spanned)) {
            Ok(raw) => {
                shape.raw = Some(raw);
                return shape;
            }
            Err(error) => error,
        };
        let span = error.span().unwrap_or(0..0);
        let found = (span != root_span)
            .then(|| find(&document, &span, &mut Vec::new()))
            .flatten()
            .unwrap_or_default();
        let said = words::read(error.message());
        let missing_news = is_news(&said, &span, &found, &taken_out, &mut meant);
        let missing_first = match &said {
            SerdeSaid::MissingKey(key) => Some((*key).to_owned()),
            _ => None,
        };
        if missing_news {
            shape
                .problems
                .push(problem(src, &document, span.clone(), &found, said));
        }
        if let Some(Step::Key(section)) = found.first() {
            shape.tainted.insert(section.clone());
        }
        let Some((parent_span, key)) = take_out(&mut document, root_span.clone(), &found) else {
            if let Some(first) = missing_first {
                let absent = |key: &str| {
                    key != first
                        && !taken_out.contains(&(root_span.clone(), key.to_owned()))
                        && value_at(&document, &[Step::Key(key.to_owned())]).is_none()
                };
                missing_sections(src, &absent, &mut shape.problems);
            }
            return shape;
        };
        if let Some(key) = key {
            taken_out.push((parent_span, key));
        }
    }
    shape
}

/// The syntax errors of the file, each at its position.
fn syntax_problems(src: &Source, syntax: Vec<toml::de::Error>) -> Vec<ConfigError> {
    syntax
        .into_iter()
        .map(|e| {
            let (line, column) = src.line_col(e.span().map_or(0, |s| s.start));
            ConfigError::Syntax {
                file: src.file.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })
        .collect()
}

/// Whether what serde said is news: a missing key is not when it was taken out after an
/// earlier problem (`taken_out`) or is what an unknown key was `meant` to be. An unknown key
/// close to a valid one notes that one in `meant`.
fn is_news(
    said: &SerdeSaid<'_>,
    span: &Range<usize>,
    found: &[Step],
    taken_out: &[(Range<usize>, String)],
    meant: &mut Vec<(String, String)>,
) -> bool {
    match said {
        SerdeSaid::MissingKey(key) => {
            !taken_out.contains(&(span.clone(), (*key).to_owned()))
                && !meant.contains(&(key_path(found), (*key).to_owned()))
        }
        SerdeSaid::UnknownKey { key, valid } => {
            if let Some(guess) = words::closest(key, valid) {
                let table = key_path(&found[..found.len().saturating_sub(1)]);
                meant.push((table, guess.to_owned()));
            }
            true
        }
        _ => true,
    }
}

/// The required sections `absent` from the file besides the one serde named (it names one at
/// a time, and a file without its top level cannot be read further): each is a problem too.
fn missing_sections(src: &Source, absent: &dyn Fn(&str) -> bool, problems: &mut Vec<ConfigError>) {
    let schema = super::schema::json_schema();
    let required = schema["required"].as_array().into_iter().flatten();
    for key in required.filter_map(|k| k.as_str()).filter(|k| absent(k)) {
        problems.push(src.invalid(
            0..0,
            key,
            format!("missing key {key:?} in {}", table_name(&[])),
        ));
    }
}

/// The problem serde reported at `span`, said in TOML's words; `path` is the entry it points
/// at (empty for the top level).
fn problem(
    src: &Source,
    document: &DeValue,
    span: Range<usize>,
    path: &[Step],
    said: SerdeSaid,
) -> ConfigError {
    match said {
        SerdeSaid::UnknownKey { key, valid } => {
            let table = table_name(&path[..path.len().saturating_sub(1)]);
            src.invalid(
                span,
                &key_path(path),
                words::unknown_key(key, &table, &valid),
            )
        }
        SerdeSaid::MissingKey(key) => {
            let mut full = path.to_vec();
            full.push(Step::Key(key.to_owned()));
            src.invalid(
                span,
                &key_path(&full),
                format!("missing key {key:?} in {}", table_name(path)),
            )
        }
        SerdeSaid::UnknownValue { value, valid } => {
            src.invalid(span, &key_path(path), words::unknown_value(value, &valid))
        }
        SerdeSaid::Mismatch {
            expected,
            out_of_range,
        } => {
            let key = key_path(path);
            let expected = words::expected(expected, &key, out_of_range);
            let message = match value_at(document, path).map(describe) {
                Some(found) => format!("expected {expected}, found {found}"),
                None => format!("expected {expected}"),
            };
            src.invalid(span, &key, message)
        }
        SerdeSaid::Other(message) => src.invalid(span, &key_path(path), message),
    }
}

/// The path of the deepest entry whose key or value was written at exactly `span`.
fn find(value: &DeValue, span: &Range<usize>, path: &mut Vec<Step>) -> Option<Vec<Step>> {
    let mut within = |step: Step, key_span: Option<Range<usize>>, v: &Spanned<DeValue>| {
        path.push(step);
        let found = find(v.get_ref(), span, path).or_else(|| {
            (v.span() == *span || key_span.as_ref() == Some(span)).then(|| path.clone())
        });
        path.pop();
        found
    };
    match value {
        DeValue::Table(table) => table
            .iter()
            .find_map(|(k, v)| within(Step::Key(k.get_ref().to_string()), Some(k.span()), v)),
        DeValue::Array(array) => array
            .iter()
            .enumerate()
            .find_map(|(i, v)| within(Step::Index(i), None, v)),
        _ => None,
    }
}

/// The value at `path`.
fn value_at<'a, 'i>(value: &'a DeValue<'i>, path: &[Step]) -> Option<&'a DeValue<'i>> {
    match (path.split_first(), value) {
        (None, _) => Some(value),
        (Some((Step::Key(key), rest)), DeValue::Table(table)) => {
            value_at(table.get(key.as_str())?.get_ref(), rest)
        }
        (Some((Step::Index(i), rest)), DeValue::Array(array)) => {
            value_at(array.get(*i)?.get_ref(), rest)
        }
        _ => None,
    }
}

/// Takes the entry at `path` out of `value` (written at `span`); returns the span of the table
/// or array it was in and its key (none for an array's element). `None` when there is no
/// such entry.
fn take_out(
    value: &mut DeValue,
    span: Range<usize>,
    path: &[Step],
) -> Option<(Range<usize>, Option<String>)> {
    match (path, value) {
        ([Step::Key(key)], DeValue::Table(table)) => table
            .remove(key.as_str())
            .map(|_| (span, Some(key.clone()))),
        ([Step::Index(i)], DeValue::Array(array)) if *i < array.len() => {
            let mut kept: Vec<_> = std::mem::replace(array, toml::de::DeArray::new())
                .into_iter()
                .collect();
            kept.remove(*i);
            *array = kept.into_iter().collect();
            Some((span, None))
        }
        ([Step::Key(key), rest @ ..], DeValue::Table(table)) => {
            let inner = table.get_mut(key.as_str())?;
            let inner_span = inner.span();
            take_out(inner.get_mut(), inner_span, rest)
        }
        ([Step::Index(i), rest @ ..], DeValue::Array(array)) => {
            let inner = array.get_mut(*i)?;
            let inner_span = inner.span();
            take_out(inner.get_mut(), inner_span, rest)
        }
        _ => None,
    }
}

/// `users.list.paging`: the keys of a path, without array indexes (line:col tells which
/// element); keys that are not bare are quoted.
fn key_path(path: &[Step]) -> String {
    path.iter()
        .filter_map(|step| match step {
            Step::Key(key) => Some(bare_or_quoted(key)),
            Step::Index(_) => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Whether TOML takes `key` unquoted (letters, digits, `_` and `-`).
pub fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn bare_or_quoted(key: &str) -> String {
    if is_bare_key(key) {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// How a table is written: `[users.list]`, `[[tenants]]` for an array's element, or "the top
/// level".
fn table_name(path: &[Step]) -> String {
    match path.last() {
        None => "the top level".to_owned(),
        Some(Step::Index(_)) => format!("[[{}]]", key_path(path)),
        Some(Step::Key(_)) => format!("[{}]", key_path(path)),
    }
}

/// A value as TOML names its type: `a string "30s"`, `an integer (3)`, `a table`.
fn describe(value: &DeValue) -> String {
    match value {
        DeValue::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if s.chars().count() > 40 { "..." } else { "" };
            format!("a string {:?}", format!("{shown}{more}"))
        }
        DeValue::Integer(i) => format!("an integer ({})", i.as_str()),
        DeValue::Float(f) => format!("a float ({})", f.as_str()),
        DeValue::Boolean(b) => format!("a boolean ({b})"),
        DeValue::Datetime(d) => format!("a date-time ({d})"),
        DeValue::Array(_) => "an array".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest file that reads: a section of every kind the cases below break.
    const BASE: &str = r#"[server]
request_timeout_ms = 30000

[downstream]
base_url = "http://127.0.0.1:9"

[users]
create = "POST /x"
read = "GET /x/{id}"
update = "PUT /x/{id}"
delete = "DELETE /x/{id}"
id = "/id"

[users.list]
request = "GET /x"
items = "/data"
"#;

    /// The problems of `BASE` with `from` replaced by `to`, as `line:col: key: message`.
    fn problems(from: &str, to: &str) -> Vec<String> {
        assert!(BASE.contains(from), "{from}");
        let text = BASE.replacen(from, to, 1);
        let shape = read(&Source {
            file: "g.toml",
            text: &text,
        });
        shape
            .problems
            .iter()
            .map(|p| p.to_string().trim_start_matches("g.toml:").to_owned())
            .collect()
    }

    #[test]
    fn the_base_file_reads() {
        assert_eq!(problems("", ""), Vec::<String>::new());
    }

    #[test]
    fn says_each_problem_in_toml_words_naming_the_key() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "request_timeout_ms = 30000",
                "request_timeout_ms = \"30s\"",
                &[
                    "2:22: server.request_timeout_ms: expected an integer (milliseconds), found a string \"30s\"",
                ],
            ),
            (
                "request_timeout_ms = 30000",
                "request_timeout_ms = -1",
                &[
                    "2:22: server.request_timeout_ms: expected an integer of 0 or more (milliseconds), found an integer (-1)",
                ],
            ),
            (
                "request_timeout_ms = 30000",
                "metrics = \"yes\"",
                &["2:11: server.metrics: expected true or false, found a string \"yes\""],
            ),
            (
                "request_timeout_ms = 30000",
                "tls = \"cert.pem\"",
                &["2:7: server.tls: expected a table, found a string \"cert.pem\""],
            ),
            (
                "[server]\nrequest_timeout_ms = 30000",
                "[auth]\nbearer = \"x\"",
                &["2:10: auth.bearer: expected an array, found a string \"x\""],
            ),
            (
                "[server]\nrequest_timeout_ms = 30000",
                "[limits]\nburst = 1.5",
                &["2:9: limits.burst: expected an integer, found a float (1.5)"],
            ),
            (
                "create = \"POST /x\"",
                "craete = \"POST /x\"",
                &["8:1: users.craete: unknown key \"craete\" in [users]; did you mean \"create\"?"],
            ),
            (
                "create = \"POST /x\"\n",
                "",
                &["7:1: users.create: missing key \"create\" in [users]"],
            ),
            (
                "items = \"/data\"",
                "items = \"/data\"\ncolour = 1",
                &[
                    "17:1: users.list.colour: unknown key \"colour\" in [users.list]; the keys are request, items, total, paging, page_param, size_param, first_page, offset_param, limit_param, cursor_param, next, max_page_size, max_scan",
                ],
            ),
            (
                "[server]",
                "sever = 1\n[server]",
                &["1:1: sever: unknown key \"sever\" in the top level; did you mean \"server\"?"],
            ),
            (
                "base_url = \"http://127.0.0.1:9\"",
                "base_url = \"http://127.0.0.1:9\"\nretries = { max = true }",
                &[
                    "6:19: downstream.retries.max: expected a number, or a string such as \"${RATE}\", found a boolean (true)",
                ],
            ),
            (
                "[server]",
                "[[users.extensions]]\nid = \"urn:x\"\nattributes = [{ name = \"a\", type = \"strin\" }]\n[server]",
                &[
                    "3:36: users.extensions.attributes.type: unknown value \"strin\"; did you mean \"string\"?",
                ],
            ),
        ];
        for (from, to, expected) in cases {
            assert_eq!(&problems(from, to), expected, "{to}");
        }
    }

    #[test]
    fn reports_every_problem_of_every_section_in_one_reading() {
        let text = BASE
            .replace("request_timeout_ms = 30000", "request_timeout_ms = \"30s\"")
            .replace("create = ", "craete = ")
            .replace("items = \"/data\"", "items = 3")
            + "\n[cache]\nrecords_ttl_ms = \"1m\"\n[[tenants]]\nnam = \"a\"\n";
        let shape = read(&Source {
            file: "g.toml",
            text: &text,
        });
        let keys: Vec<String> = shape
            .problems
            .iter()
            .map(|p| match p {
                ConfigError::Invalid { key, .. } => key.clone(),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(
            keys,
            [
                "server.request_timeout_ms",
                "users.craete",
                "users.list.items",
                "cache.records_ttl_ms",
                // its did-you-mean says "name": no second problem for the missing name
                "tenants.nam",
            ]
        );
        assert!(shape.raw.is_none(), "[users] lost a required key");
        assert!(shape.tainted.contains("server") && shape.tainted.contains("cache"));
    }

    #[test]
    fn names_every_missing_section() {
        let shape = read(&Source {
            file: "g.toml",
            text: "[server]\nlisten = 1\n",
        });
        let said: Vec<String> = shape.problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            said,
            [
                "g.toml:2:10: server.listen: expected a string, found an integer (1)",
                "g.toml:1:1: downstream: missing key \"downstream\" in the top level",
                "g.toml:1:1: users: missing key \"users\" in the top level",
            ]
        );
        let shape = read(&Source {
            file: "g.toml",
            text: &BASE.replace("[downstream]\nbase_url = \"http://127.0.0.1:9\"", ""),
        });
        assert_eq!(shape.problems.len(), 1, "{:?}", shape.problems);
    }

    #[test]
    fn reports_every_syntax_error() {
        let text = BASE.replace("id = \"/id\"", "id = /id") + "\n[broken\n";
        let shape = read(&Source {
            file: "g.toml",
            text: &text,
        });
        assert!(shape.problems.len() >= 2, "{:?}", shape.problems);
        assert!(shape.raw.is_none());
    }

    #[test]
    fn speaks_no_rust() {
        let breakages = [
            ("request_timeout_ms = 30000", "request_timeout_ms = [1]"),
            (
                "request_timeout_ms = 30000",
                "request_timeout_ms = { a = 1 }",
            ),
            ("request_timeout_ms = 30000", "listen = 1"),
            ("request_timeout_ms = 30000", "listen = 1979-05-27"),
            ("request_timeout_ms = 30000", "tls = { cert = 1 }"),
            ("request_timeout_ms = 30000", "max_header_bytes = 1.5"),
            ("[server]", "tenants = 1\n[server]"),
            ("[server]", "[[tenants]]\nname = 3\n[server]"),
            ("[server]", "[limits]\nburst = -1\n[server]"),
            ("items = \"/data\"", "items = {}"),
            ("items = \"/data\"", "items = \"/d\"\nfirst_page = \"1\""),
            ("id = \"/id\"", "id = \"/id\"\nsearch = 1"),
            (
                "id = \"/id\"",
                "id = \"/id\"\nattributes = { userName = 1 }",
            ),
            (
                "id = \"/id\"",
                "id = \"/id\"\nattributes = { userName = { pathh = \"/u\" } }",
            ),
            (
                "id = \"/id\"",
                "id = \"/id\"\nextensions = [{ id = \"u\", attributes = 1 }]",
            ),
        ];
        let rust = [
            "u8", "u16", "u32", "u64", "i64", "f64", "usize", "struct", "enum", "variant",
            "sequence", "map", "Raw", "field", "`",
        ];
        for (from, to) in breakages {
            let said = problems(from, to);
            assert!(!said.is_empty(), "{to}: no problem");
            for line in &said {
                let words: Vec<&str> = line.split(|c: char| !c.is_ascii_alphanumeric()).collect();
                for word in rust {
                    let found = if word.chars().all(|c| c.is_ascii_alphanumeric()) {
                        words
                            .iter()
                            .any(|w| w.eq_ignore_ascii_case(word) || w.starts_with("Raw"))
                    } else {
                        line.contains(word)
                    };
                    assert!(!found, "{to}: {line:?} says {word:?}");
                }
            }
        }
    }
}

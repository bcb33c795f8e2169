//! The layering of src/ holds: no import cycle between top-level modules, nor between files.
//!
//! Reads every `src/**/*.rs` as text (test code left out), follows the paths it names
//! (`crate::…`, `super::…`, `self::…`, a child module's name), and fails naming the modules of
//! any strongly connected component with more than one member. A file may always use its own
//! ancestors (a parent module is the facade its children implement), so only edges to other
//! files count in the file graph. Top-level modules also keep to [`LAYERS`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path below the crate root, e.g. `["scim", "filter", "parser"]`.
type ModPath = Vec<String>;

/// The layers of src/, bottom first: a module may use its own layer and the ones below it,
/// never one above. A new top-level module must be placed here.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "protocol and leaves",
        &["crypto", "json_pointer", "scim", "signals", "telemetry"],
    ),
    ("gateway.toml as written", &["config"]),
    (
        "rules and backends",
        &["auth", "cache", "downstream", "mapping", "store", "tls"],
    ),
    ("the checked configuration", &["settings"]),
    ("orchestration", &["service"]),
    ("edge", &["server", "admin"]),
    ("commands and development tools", &["cli", "tools", "init"]),
];

#[test]
fn top_level_modules_form_no_cycle() {
    let files = read_sources();
    let tops: BTreeSet<String> = files.keys().map(|m| m[0].clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, refs) in &files {
        let from = &module[0];
        graph.entry(from.clone()).or_default();
        for target in refs {
            if let Some(to) = target.first().filter(|t| tops.contains(*t) && *t != from) {
                graph.get_mut(from).map(|set| set.insert(to.clone()));
            }
        }
    }
    assert_eq!(
        cycles(&graph),
        Vec::<Vec<String>>::new(),
        "import cycles between top-level modules"
    );
}

#[test]
fn modules_use_only_their_layer_and_the_ones_below() {
    let files = read_sources();
    let layer_of = |module: &str| {
        LAYERS
            .iter()
            .position(|(_, members)| members.contains(&module))
    };
    let mut upward = BTreeSet::new();
    for (module, refs) in &files {
        let from = module[0].as_str();
        let Some(from_layer) = layer_of(from) else {
            panic!("top-level module {from} is in no layer; add it to LAYERS");
        };
        for target in refs {
            let to = target[0].as_str();
            if let Some(to_layer) = layer_of(to).filter(|l| *l > from_layer) {
                upward.insert(format!(
                    "{} ({}) -> {to} ({})",
                    module.join("::"),
                    LAYERS[from_layer].0,
                    LAYERS[to_layer].0
                ));
            }
        }
    }
    assert_eq!(upward, BTreeSet::new(), "imports from a higher layer");
}

#[test]
fn files_form_no_cycle() {
    let files = read_sources();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, refs) in &files {
        let from = module.join("::");
        graph.entry(from.clone()).or_default();
        for target in refs {
            let Some(to) = deepest_file(&files, target) else {
                continue;
            };
            if module.starts_with(to) {
                continue;
            }
            graph.get_mut(&from).map(|set| set.insert(to.join("::")));
        }
    }
    assert_eq!(
        cycles(&graph),
        Vec::<Vec<String>>::new(),
        "import cycles between files"
    );
}

/// Every library file's module path with the absolute module paths it names.
fn read_sources() -> BTreeMap<ModPath, Vec<ModPath>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .expect("below src/")
                .with_extension("");
            let module: ModPath = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let name = module.last().expect("a file name").as_str();
            if path.extension().is_none_or(|e| e != "rs")
                || name == "tests"
                || module == ["lib"]
                || module == ["main"]
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file is UTF-8");
            let tokens = without_test_items(tokenize(&text));
            out.insert(module.clone(), references(&module, &tokens));
        }
    }
    out
}

/// The longest prefix of `target` that is a file of its own.
fn deepest_file<'a>(
    files: &'a BTreeMap<ModPath, Vec<ModPath>>,
    target: &[String],
) -> Option<&'a ModPath> {
    (1..=target.len())
        .rev()
        .find_map(|n| files.get_key_value(&target[..n]).map(|(k, _)| k))
}

/// Identifiers and punctuation, with comments, strings and character literals dropped.
fn tokenize(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && raw_string_end(&chars, i).is_some()
        {
            i = raw_string_end(&chars, i).unwrap_or(chars.len());
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && next == Some(':') {
            tokens.push("::".to_owned());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// Where a raw string literal starting at `i` (`r"…"`, `r#"…"#`) ends, if one starts there.
fn raw_string_end(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if chars.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < chars.len() {
        if chars[j] == '"' && (1..=hashes).all(|h| chars.get(j + h) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(chars.len())
}

/// The tokens with every `#[cfg(test)]` item (a `mod tests { … }`, a `use`, a function) left out.
fn without_test_items(tokens: Vec<String>) -> Vec<String> {
    let cfg_test = ["#", "[", "cfg", "(", "test", ")", "]"];
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i..].starts_with(&cfg_test.map(String::from)) {
            i += cfg_test.len();
            while i < tokens.len() && tokens[i] != "{" && tokens[i] != ";" {
                i += 1;
            }
            if tokens.get(i).is_some_and(|t| t == "{") {
                let mut depth = 0;
                while i < tokens.len() {
                    depth += match tokens[i].as_str() {
                        "{" => 1,
                        "}" => -1,
                        _ => 0,
                    };
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
            } else {
                i += 1;
            }
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

/// The absolute module paths a file names: `crate::`, `super::`, `self::` and child-module
/// paths, with `use` trees (`a::{b, c::d}`) expanded.
fn references(module: &[String], tokens: &[String]) -> Vec<ModPath> {
    let children: BTreeSet<&str> = tokens
        .windows(3)
        .filter(|w| w[0] == "mod" && (w[2] == ";" || w[2] == "{"))
        .map(|w| w[1].as_str())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let starts_path = tokens.get(i + 1).is_some_and(|t| t == "::")
            && (i == 0 || tokens[i - 1] != "::")
            && (matches!(tokens[i].as_str(), "crate" | "super" | "self")
                || children.contains(tokens[i].as_str()));
        if starts_path {
            let mut paths = Vec::new();
            i = use_tree(tokens, i, Vec::new(), &mut paths);
            out.extend(paths.into_iter().filter_map(|p| absolute(module, &p)));
        } else {
            i += 1;
        }
    }
    out
}

/// Reads a path or a use tree starting at `i`, pushing each full path; returns the next index.
fn use_tree(
    tokens: &[String],
    mut i: usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix;
    loop {
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                i += 1;
                while tokens.get(i).is_some_and(|t| t != "}") {
                    i = use_tree(tokens, i, path.clone(), out);
                    if tokens.get(i).is_some_and(|t| t == ",") {
                        i += 1;
                    }
                }
                return i + 1;
            }
            Some(t) if t.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                path.push(t.to_owned());
                i += 1;
                if tokens.get(i).is_some_and(|t| t == "::") {
                    i += 1;
                    continue;
                }
                out.push(path);
                return i;
            }
            _ => {
                out.push(path);
                return i;
            }
        }
    }
}

/// A path named in `module` made absolute (below the crate root).
fn absolute(module: &[String], path: &[String]) -> Option<ModPath> {
    let mut base: ModPath = module.to_vec();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => {}
    }
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(base)
}

/// The strongly connected components with more than one member, each sorted.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from];
        while let Some(n) = todo.pop() {
            for m in graph.get(n).into_iter().flatten() {
                if seen.insert(m) {
                    todo.push(m);
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<&String>> =
        graph.keys().map(|n| (n, reach(n))).collect();
    let mut components = BTreeSet::new();
    for (n, from_n) in &reached {
        let component: Vec<String> = from_n
            .iter()
            .filter(|m| reached.get(**m).is_some_and(|r| r.contains(n)))
            .map(|m| (*m).clone())
            .collect();
        if component.len() > 1 {
            components.insert(component);
        }
    }
    components.into_iter().collect()
}

//! No function in src/ (test code left out) is longer than [`LIMIT`] lines, so that each reads
//! as one idea with named helpers.
//!
//! Reads every `src/**/*.rs` as rustfmt leaves it: a function runs from its `fn` line to the
//! first line that is a `}` at the indentation of that `fn`. `tests.rs` files and the item after
//! a `#[cfg(test)]` are skipped.

use std::path::{Path, PathBuf};

/// The most lines a function may have, its signature and closing brace included.
const LIMIT: usize = 80;

/// Functions still over the limit, as `file: name`, each with the reason it waits. Listed so
/// that the test guards every other function; an entry that is no longer long fails the test
/// until it is removed.
const WAITING: &[&str] = &[];

#[test]
fn no_function_is_longer_than_the_limit() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for path in rust_files(&src) {
        let text = std::fs::read_to_string(&path).expect("a source file is UTF-8");
        let file = path.strip_prefix(&src).expect("below src/").display();
        for (name, lines) in function_lengths(&text) {
            if lines > LIMIT {
                long.push(format!("{file}: {name}"));
            }
        }
    }
    long.sort();
    let mut waiting: Vec<String> = WAITING.iter().map(|w| w.to_string()).collect();
    waiting.sort();
    assert_eq!(
        long, waiting,
        "functions over {LIMIT} lines (split them by meaning, or update WAITING)"
    );
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                out.push(path);
            }
        }
    }
    out
}

/// The name and length in lines of every function with a body outside test items.
fn function_lengths(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = |line: &str| line.len() - line.trim_start().len();
    // The index of the line closing the item that starts at `start`, at `start`'s indentation.
    let close = |start: usize| {
        let at = indent(lines[start]);
        (start + 1..lines.len())
            .find(|&k| lines[k].trim() == "}" && indent(lines[k]) == at)
            .unwrap_or(lines.len() - 1)
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim() == "#[cfg(test)]" {
            let item = i + 1;
            i = if lines.get(item).is_some_and(|l| l.trim_end().ends_with(';')) {
                item + 1
            } else {
                close(item) + 1
            };
            continue;
        }
        if let Some(name) = fn_name(line) {
            let opens = (i..lines.len()).find(|&k| {
                let l = lines[k].trim_end();
                l.ends_with('{') || l.ends_with(';') || l.ends_with('}')
            });
            let has_body = opens.is_some_and(|k| lines[k].trim_end().ends_with('{'));
            if has_body {
                out.push((name, close(i) - i + 1));
            }
        }
        i += 1;
    }
    out
}

/// The function a line declares, if it starts one.
fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(word) = words.next() {
        match word {
            "fn" => {
                let rest = words.next()?;
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return (!name.is_empty()).then_some(name);
            }
            "pub" | "async" | "const" | "unsafe" | "default" => {}
            w if w.starts_with("pub(") => {}
            _ => return None,
        }
    }
    None
}

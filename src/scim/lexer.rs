//! The scanners attribute paths and filters share (RFC 7644 §3.10 names, whitespace, and
//! errors that quote what sits at an offset): pure functions over `&str` and byte offsets.

/// A syntax error found while scanning, before it is wrapped into the caller's error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// An error "unexpected X at offset N; hint" describing what sits at `pos` in `src`.
pub(crate) fn unexpected(src: &str, pos: usize, hint: &str) -> SyntaxError {
    SyntaxError {
        offset: pos,
        message: format!(
            "unexpected {} at offset {pos}; {hint}",
            describe_at(src, pos)
        ),
    }
}

/// A short quoted description of the token at `pos` (a word, or one character), for messages.
pub(crate) fn describe_at(src: &str, pos: usize) -> String {
    let Some(rest) = src.get(pos..) else {
        return "end of input".to_string();
    };
    let word: String = rest
        .chars()
        .take_while(|c| is_path_char(*c))
        .take(40)
        .collect();
    if !word.is_empty() {
        return format!("'{word}'");
    }
    match rest.chars().next() {
        Some(c) => format!("'{c}'"),
        None => "end of input".to_string(),
    }
}

/// The first position at or after `pos` that is not ASCII whitespace.
pub(crate) fn skip_ws(src: &str, mut pos: usize) -> usize {
    let bytes = src.as_bytes();
    while bytes.get(pos).is_some_and(|b| b.is_ascii_whitespace()) {
        pos += 1;
    }
    pos
}

/// Characters an attribute path token may contain (names, URNs, `.` and `$ref`).
pub(crate) fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$' | ':' | '.')
}

/// Scans one attribute name starting at `start` (used after `]` in PATCH paths).
pub(crate) fn scan_name(src: &str, start: usize) -> Result<(String, usize), SyntaxError> {
    let bytes = src.as_bytes();
    let mut end = start;
    while bytes
        .get(end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$'))
    {
        end += 1;
    }
    scan_name_until(src, start, end)
}

/// Validates the `ATTRNAME` (RFC 7644 §3.10: ALPHA *(nameChar), or `$ref`) beginning at `start`
/// and ending at the first '.' or at `limit`; returns it and where it ends.
pub(crate) fn scan_name_until(
    src: &str,
    start: usize,
    limit: usize,
) -> Result<(String, usize), SyntaxError> {
    let bytes = src.as_bytes();
    let mut end = start;
    while end < limit && bytes.get(end).is_some_and(|b| *b != b'.') {
        end += 1;
    }
    let name = src.get(start..end).unwrap_or_default();
    if name.is_empty() {
        return Err(SyntaxError {
            offset: start,
            message: format!("missing attribute name at offset {start}; names start with a letter"),
        });
    }
    if name == "$ref" {
        return Ok((name.to_string(), end));
    }
    for (i, c) in name.char_indices() {
        let ok = if i == 0 {
            c.is_ascii_alphabetic()
        } else {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        };
        if !ok {
            let offset = start + i;
            let hint = if i == 0 {
                "attribute names start with a letter"
            } else {
                "attribute names contain only letters, digits, '-' and '_'"
            };
            return Err(SyntaxError {
                offset,
                message: format!("unexpected '{c}' at offset {offset}; {hint}"),
            });
        }
    }
    Ok((name.to_string(), end))
}

//! Recursive-descent parser for the RFC 7644 §3.4.2.2 filter grammar (precedence
//! `not` > `and` > `or`, case-insensitive keywords), bounded so hostile input cannot overflow
//! the stack.

use serde_json::Number;

use super::{CompValue, CompareOp, Filter, FilterError};
use crate::scim::attr_path::{AttrPath, scan_attr_path};
use crate::scim::lexer::{skip_ws, unexpected};

/// Maximum nesting of parentheses, `not` and value filters; deeper filters are rejected.
pub const MAX_DEPTH: usize = 64;

/// Maximum number of comparisons in one filter, which bounds the AST's depth (`and`/`or`
/// chains nest to the left) and so the recursion of evaluation, display and drop.
pub const MAX_COMPARISONS: usize = 200;

/// The longest filter accepted, in bytes. RFC 7644 sets no bound, but a filter's value may
/// be pushed down into a downstream URL, and web servers refuse request lines over 8 KiB
/// (nginx, Apache: 414 or 400, which a client would see as a 502). A value of 2,048 bytes
/// stays under that even when every byte is percent-encoded (3 × 2,048), while IdP filters
/// are one comparison of a userName, externalId or displayName of at most a few hundred
/// bytes, and 200 comparisons of `a pr` fit too.
pub const MAX_FILTER_LENGTH: usize = 2_048;

/// Parses a whole filter.
pub(crate) fn parse_filter(src: &str) -> Result<Filter, FilterError> {
    if src.len() > MAX_FILTER_LENGTH {
        return Err(FilterError::TooLong {
            length: src.len(),
            max: MAX_FILTER_LENGTH,
        });
    }
    let mut p = Parser::new(src, 0, false);
    let filter = p.parse_or(0)?;
    p.pos = skip_ws(src, p.pos);
    if p.pos < src.len() {
        return Err(unexpected(src, p.pos, "expected 'and', 'or' or the end of the filter").into());
    }
    Ok(filter)
}

/// Parses a value filter (`valFilter`) that starts at `start`, just after a `[`; returns the
/// filter and the position just after the closing `]`. Used for PATCH paths (RFC 7644 §3.5.2).
pub(crate) fn parse_value_filter(src: &str, start: usize) -> Result<(Filter, usize), FilterError> {
    let mut p = Parser::new(src, start, true);
    let filter = p.parse_or(1)?;
    p.pos = skip_ws(src, p.pos);
    p.expect_close(b']', start.saturating_sub(1))?;
    Ok((filter, p.pos))
}

/// Parser state over the source text; positions are byte offsets into `src`.
struct Parser<'s> {
    src: &'s str,
    pos: usize,
    comparisons: usize,
    in_value_filter: bool,
}

impl<'s> Parser<'s> {
    fn new(src: &'s str, pos: usize, in_value_filter: bool) -> Self {
        Parser {
            src,
            pos,
            comparisons: 0,
            in_value_filter,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn err(&self, offset: usize, message: String) -> FilterError {
        FilterError::Syntax { offset, message }
    }

    /// `or`-separated terms, left-associative.
    fn parse_or(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(depth)?;
        while self.eat_keyword("or") {
            let right = self.parse_and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `and`-separated terms, left-associative.
    fn parse_and(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(depth)?;
        while self.eat_keyword("and") {
            let right = self.parse_unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// Consumes whitespace and the keyword `kw` (case-insensitive) when it comes next as a
    /// whole word; otherwise leaves the position unchanged.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let at = skip_ws(self.src, self.pos);
        let end = at + kw.len();
        let matches = self
            .src
            .get(at..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(kw))
            && !self.src.as_bytes().get(end).is_some_and(is_word_byte);
        if matches {
            self.pos = end;
        }
        matches
    }

    /// A parenthesized filter, `not (...)`, or an attribute expression.
    fn parse_unary(&mut self, depth: usize) -> Result<Filter, FilterError> {
        self.pos = skip_ws(self.src, self.pos);
        if depth > MAX_DEPTH {
            return Err(self.err(
                self.pos,
                format!(
                    "filter nests deeper than {MAX_DEPTH} levels at offset {}; simplify it",
                    self.pos
                ),
            ));
        }
        let open = self.pos;
        if self.peek() == Some(b'(') {
            self.pos += 1;
            let inner = self.parse_or(depth + 1)?;
            self.pos = skip_ws(self.src, self.pos);
            self.expect_close(b')', open)?;
            return Ok(inner);
        }
        let word_end = open + self.src[open..].bytes().take_while(is_word_byte).count();
        let after_word = skip_ws(self.src, word_end);
        if self.src[open..word_end].eq_ignore_ascii_case("not")
            && self.src.as_bytes().get(after_word) == Some(&b'(')
        {
            self.pos = after_word + 1;
            let inner = self.parse_or(depth + 1)?;
            self.pos = skip_ws(self.src, self.pos);
            self.expect_close(b')', after_word)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.parse_attr_exp(depth)
    }

    /// Expects `close` at the current position, naming the bracket opened at `open` if missing.
    fn expect_close(&mut self, close: u8, open: usize) -> Result<(), FilterError> {
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        let c = close as char;
        if self.pos >= self.src.len() {
            return Err(self.err(
                self.pos,
                format!(
                    "missing '{c}' at offset {}; close the bracket opened at offset {open}",
                    self.pos
                ),
            ));
        }
        Err(unexpected(
            self.src,
            self.pos,
            &format!("expected 'and', 'or' or '{c}'"),
        )
        .into())
    }

    /// Counts one comparison against [`MAX_COMPARISONS`].
    fn count_comparison(&mut self, at: usize) -> Result<(), FilterError> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(self.err(
                at,
                format!(
                    "filter has more than {MAX_COMPARISONS} comparisons at offset {at}; split it into several requests"
                ),
            ));
        }
        Ok(())
    }

    /// `attrPath "[" valFilter "]"`, `attrPath "pr"` or `attrPath compareOp compValue`.
    fn parse_attr_exp(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let start = self.pos;
        let (path, after) = scan_attr_path(self.src, start)?;
        let next = skip_ws(self.src, after);
        if self.src.as_bytes().get(next) == Some(&b'[') {
            return self.parse_value_path(path, next, depth);
        }
        self.pos = after;
        self.parse_comparison_after(path, start)
    }

    /// The operator and value after an attribute path that starts at `start`, with the cursor
    /// just after the path.
    fn parse_comparison_after(
        &mut self,
        path: AttrPath,
        start: usize,
    ) -> Result<Filter, FilterError> {
        let after = self.pos;
        self.pos = skip_ws(self.src, self.pos);
        let op_start = self.pos;
        let op_end = op_start
            + self.src[op_start..]
                .bytes()
                .take_while(is_word_byte)
                .count();
        let word = &self.src[op_start..op_end];
        if word.is_empty() {
            let hint = if is_not_keyword(&path) {
                "expected '(' after 'not'".to_string()
            } else {
                format!(
                    "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after '{path}'"
                )
            };
            return Err(unexpected(self.src, op_start, &hint).into());
        }
        self.pos = op_end;
        if word.eq_ignore_ascii_case("pr") {
            self.count_comparison(start)?;
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(word) else {
            let message = if is_not_keyword(&path) {
                format!("expected '(' after 'not' at offset {after}")
            } else {
                format!(
                    "unknown operator '{word}' at offset {op_start}; use eq, ne, co, sw, ew, gt, ge, lt, le or pr"
                )
            };
            return Err(self.err(op_start, message));
        };
        self.pos = skip_ws(self.src, self.pos);
        let value = self.parse_value(op)?;
        self.count_comparison(start)?;
        Ok(Filter::Compare(path, op, value))
    }

    /// The bracketed part of `emails[type eq "work"]`, with `[` at `open`.
    fn parse_value_path(
        &mut self,
        path: AttrPath,
        open: usize,
        depth: usize,
    ) -> Result<Filter, FilterError> {
        if self.in_value_filter {
            return Err(self.err(
                open,
                format!(
                    "value filters cannot be nested (offset {open}); name sub-attributes of the outer attribute directly"
                ),
            ));
        }
        if depth + 1 > MAX_DEPTH {
            return Err(self.err(
                open,
                format!(
                    "filter nests deeper than {MAX_DEPTH} levels at offset {open}; simplify it"
                ),
            ));
        }
        self.pos = open + 1;
        self.in_value_filter = true;
        let inner = self.parse_or(depth + 1)?;
        self.in_value_filter = false;
        self.pos = skip_ws(self.src, self.pos);
        self.expect_close(b']', open)?;
        if self.peek() == Some(b'.') {
            // Not in RFC 7644's filter grammar, but Entra ID sends it when its matching
            // attribute is `emails[type eq "work"].value`: read `a[f].sub op v` as
            // `a[f and sub op v]`.
            let dot = self.pos;
            let (sub, after) = scan_attr_path(self.src, dot + 1)?;
            if sub.urn.is_some() || sub.sub.is_some() {
                return Err(self.err(
                    dot,
                    format!("expected one sub-attribute name after ']' at offset {dot}"),
                ));
            }
            self.pos = after;
            self.in_value_filter = true;
            let condition = self.parse_comparison_after(sub, dot + 1);
            self.in_value_filter = false;
            let condition = condition?;
            return Ok(Filter::ValuePath(
                path,
                Box::new(Filter::And(Box::new(inner), Box::new(condition))),
            ));
        }
        Ok(Filter::ValuePath(path, Box::new(inner)))
    }

    /// A `compValue`: JSON string, JSON number, `true`, `false` or `null` (case-insensitive).
    fn parse_value(&mut self, op: CompareOp) -> Result<CompValue, FilterError> {
        let start = self.pos;
        let value = match self.peek() {
            Some(b'"') => return self.parse_string().map(CompValue::Str),
            Some(b'-' | b'0'..=b'9') => CompValue::Number(self.parse_number()?),
            Some(b) if b.is_ascii_alphabetic() => {
                let end = start + self.src[start..].bytes().take_while(is_word_byte).count();
                let word = &self.src[start..end];
                let value = if word.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if word.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if word.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else {
                    return Err(self.err(
                        start,
                        format!(
                            "invalid value '{word}' at offset {start}; quote strings, e.g. \"{word}\", or use a number, true, false or null"
                        ),
                    ));
                };
                self.pos = end;
                value
            }
            None => {
                return Err(self.err(
                    start,
                    format!(
                        "missing value at offset {start}; put a quoted string, a number, true, false or null after '{op}'"
                    ),
                ));
            }
            Some(_) => {
                return Err(unexpected(
                    self.src,
                    start,
                    "expected a value: a quoted string, a number, true, false or null",
                )
                .into());
            }
        };
        if self.peek().is_some_and(|b| is_word_byte(&b) || b == b'.') {
            return Err(unexpected(
                self.src,
                self.pos,
                "separate the value from what follows with a space",
            )
            .into());
        }
        Ok(value)
    }

    /// A JSON number (RFC 8259 §6): `-? int frac? exp?`.
    fn parse_number(&mut self) -> Result<Number, FilterError> {
        let bytes = self.src.as_bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        let bad = |at: usize| -> FilterError {
            unexpected(
                self.src,
                at,
                "expected a JSON number such as 42, -1.5 or 2e10 (no leading zeros)",
            )
            .into()
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return Err(bad(i)),
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return Err(bad(i));
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return Err(bad(i));
            }
        }
        let text = &self.src[start..i];
        let number = parse_json_number(text).ok_or_else(|| {
            self.err(
                start,
                format!("number {text} at offset {start} is out of range; use a smaller number"),
            )
        })?;
        self.pos = i;
        Ok(number)
    }

    /// A JSON string literal (RFC 8259 §7) starting at the opening quote, with all escapes
    /// including `\uXXXX` surrogate pairs.
    fn parse_string(&mut self) -> Result<String, FilterError> {
        let open = self.pos;
        let mut out = String::new();
        let mut i = open + 1;
        loop {
            let Some(c) = self.src.get(i..).and_then(|r| r.chars().next()) else {
                return Err(self.err(
                    open,
                    format!("unterminated string starting at offset {open}; close it with '\"'"),
                ));
            };
            match c {
                '"' => {
                    self.pos = i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let (ch, len) = self.parse_escape(i)?;
                    out.push(ch);
                    i += len;
                }
                c if (c as u32) < 0x20 => {
                    return Err(self.err(
                        i,
                        format!(
                            "control character U+{:04X} at offset {i} inside a string; escape it, e.g. \\n or \\u0009",
                            c as u32
                        ),
                    ));
                }
                c => {
                    out.push(c);
                    i += c.len_utf8();
                }
            }
        }
    }

    /// The escape sequence starting with the backslash at `at`: the character and its length.
    fn parse_escape(&self, at: usize) -> Result<(char, usize), FilterError> {
        let simple = match self.src.as_bytes().get(at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.parse_unicode_escape(at),
            _ => {
                return Err(self.err(
                    at,
                    format!(
                        "invalid escape {} at offset {at}; use \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX",
                        describe_escape(self.src, at)
                    ),
                ));
            }
        };
        Ok((simple, 2))
    }

    /// `\uXXXX` at `at`, combining a UTF-16 surrogate pair `\uD83D\uDE00` into one character.
    fn parse_unicode_escape(&self, at: usize) -> Result<(char, usize), FilterError> {
        let high = self.hex4(at + 2)?;
        if (0xDC00..0xE000).contains(&high) {
            return Err(self.lone_surrogate(at));
        }
        if !(0xD800..0xDC00).contains(&high) {
            let c = char::from_u32(high).ok_or_else(|| self.lone_surrogate(at))?;
            return Ok((c, 6));
        }
        let bytes = self.src.as_bytes();
        if bytes.get(at + 6) != Some(&b'\\') || bytes.get(at + 7) != Some(&b'u') {
            return Err(self.lone_surrogate(at));
        }
        let low = self.hex4(at + 8)?;
        if !(0xDC00..0xE000).contains(&low) {
            return Err(self.lone_surrogate(at));
        }
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        let c = char::from_u32(code).ok_or_else(|| self.lone_surrogate(at))?;
        Ok((c, 12))
    }

    fn lone_surrogate(&self, at: usize) -> FilterError {
        self.err(
            at,
            format!(
                "unpaired UTF-16 surrogate in \\u escape at offset {at}; write a high surrogate followed by a low one, e.g. \\ud83d\\ude00"
            ),
        )
    }

    /// Four hex digits at `at`.
    fn hex4(&self, at: usize) -> Result<u32, FilterError> {
        let mut value = 0u32;
        for k in 0..4 {
            let digit = self
                .src
                .as_bytes()
                .get(at + k)
                .and_then(|b| (*b as char).to_digit(16));
            match digit {
                Some(d) => value = value * 16 + d,
                None => {
                    return Err(unexpected(
                        self.src,
                        at + k,
                        "expected 4 hex digits after \\u, e.g. \\u00e9",
                    )
                    .into());
                }
            }
        }
        Ok(value)
    }
}

/// The value of JSON number text: an integer when it has no fraction or exponent and fits
/// 64 bits, else the correctly rounded float (std's parser, so display/parse round-trips).
fn parse_json_number(text: &str) -> Option<Number> {
    let integral = !text.contains(['.', 'e', 'E']);
    if integral {
        if let Ok(n) = text.parse::<u64>() {
            return Some(n.into());
        }
        if let Ok(n) = text.parse::<i64>() {
            return Some(n.into());
        }
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

/// Bytes that continue a keyword or literal word.
fn is_word_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-' || *b == b'$' || *b == b':'
}

/// Whether an attribute path is just the word `not` (a misplaced `not` without parentheses).
fn is_not_keyword(path: &AttrPath) -> bool {
    path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("not")
}

/// The escape at `at` as written, for messages.
fn describe_escape(src: &str, at: usize) -> String {
    match src.get(at..).and_then(|r| r.chars().nth(1)) {
        Some(c) => format!("'\\{c}'"),
        None => "'\\' at the end".to_string(),
    }
}

//! SCIM filters (RFC 7644 §3.4.2.2): the AST, its canonical text form, parsing, validation
//! against a schema and evaluation over resource JSON.

use std::fmt;
use std::str::FromStr;

use super::attr_path::AttrPath;

pub(crate) mod datetime;
pub(crate) mod error;
mod eval;
pub(crate) mod parser;
mod validate;

#[cfg(test)]
mod tests;

pub use error::FilterError;
pub use eval::{matches, matches_value, values_at};
pub use parser::{MAX_COMPARISONS, MAX_DEPTH, MAX_FILTER_LENGTH};
pub use validate::{validate, validate_value_filter};

/// A comparison operator (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A comparison literal (RFC 7644 §3.4.2.2 `compValue`).
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
}

/// A filter expression (RFC 7644 §3.4.2.2 `FILTER`).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, CompareOp, CompValue),
    /// `attrPath "[" valFilter "]"`: the inner filter's paths are relative to the complex attribute.
    ValuePath(AttrPath, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl CompareOp {
    /// The operator's keyword as written in filters (lowercase).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Every comparison operator (RFC 7644 §3.4.2.2), for parsing keywords and for tests.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator for a keyword, case-insensitively (RFC 7644 §3.4.2.2); `pr` is not one.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether the operator orders values (`gt`, `ge`, `lt`, `le`).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// Whether the operator is a substring test (`co`, `sw`, `ew`).
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Str(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

/// Binding strength used by [`Filter`]'s `Display` to place only the parentheses needed.
const PREC_OR: u8 = 0;
const PREC_AND: u8 = 1;
const PREC_ATOM: u8 = 2;

impl Filter {
    /// The attribute paths the filter compares or tests, outermost first (the paths inside a
    /// `attr[...]` value filter are relative to `attr` and not listed).
    pub fn paths(&self) -> Vec<&AttrPath> {
        let mut out = Vec::new();
        let mut todo = vec![self];
        while let Some(filter) = todo.pop() {
            match filter {
                Filter::Present(path) | Filter::Compare(path, ..) | Filter::ValuePath(path, _) => {
                    out.push(path)
                }
                Filter::And(a, b) | Filter::Or(a, b) => todo.extend([b.as_ref(), a.as_ref()]),
                Filter::Not(inner) => todo.push(inner),
            }
        }
        out
    }

    /// Writes `self`, parenthesized when it binds more loosely than `min` requires. `and` and
    /// `or` are left-associative, so a right operand of the same operator is parenthesized.
    fn write_prec(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        let own = match self {
            Filter::Or(..) => PREC_OR,
            Filter::And(..) => PREC_AND,
            _ => PREC_ATOM,
        };
        if own < min {
            f.write_str("(")?;
            self.write_prec(f, PREC_OR)?;
            return f.write_str(")");
        }
        match self {
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare(p, op, v) => write!(f, "{p} {op} {v}"),
            Filter::ValuePath(p, inner) => {
                write!(f, "{p}[")?;
                inner.write_prec(f, PREC_OR)?;
                f.write_str("]")
            }
            Filter::And(a, b) => {
                a.write_prec(f, PREC_AND)?;
                f.write_str(" and ")?;
                b.write_prec(f, PREC_ATOM)
            }
            Filter::Or(a, b) => {
                a.write_prec(f, PREC_OR)?;
                f.write_str(" or ")?;
                b.write_prec(f, PREC_AND)
            }
            Filter::Not(inner) => {
                f.write_str("not (")?;
                inner.write_prec(f, PREC_OR)?;
                f.write_str(")")
            }
        }
    }
}

/// The canonical text form: lowercase keywords, single spaces, JSON string literals and only
/// the parentheses precedence requires, so that parsing it yields the same AST.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_prec(f, PREC_OR)
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parser::parse_filter(s)
    }
}

//! What every guess `init` makes carries: how sure it is and why, written beside the rule in
//! gateway.toml and counted in the summary.

use std::fmt;

/// How sure a guess is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    /// Name, type and shape all agree with the usual meaning.
    High,
    /// The name fits but is common enough to mean something else, or the type is unknown.
    Medium,
    /// A fallback: nothing in the document says so.
    Low,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::High => "sure",
            Self::Medium => "likely",
            Self::Low => "a guess",
        })
    }
}

/// Why one value was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    pub confidence: Confidence,
    pub why: String,
}

impl Reason {
    pub fn new(confidence: Confidence, why: impl Into<String>) -> Self {
        Self {
            confidence,
            why: why.into(),
        }
    }

    /// The comment written after the value: `# sure: ...`.
    pub fn comment(&self) -> String {
        format!("# {}: {}", self.confidence, self.why)
    }
}

/// A field or parameter name reduced for comparison: lower case, without `_`, `-` and `.`
/// (`first_name`, `firstName` and `FirstName` all read `firstname`).
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_across_spellings() {
        assert_eq!(normalize("first_name"), "firstname");
        assert_eq!(normalize("firstName"), "firstname");
        assert_eq!(normalize("First-Name"), "firstname");
    }

    #[test]
    fn a_reason_reads_as_a_comment() {
        let r = Reason::new(Confidence::Medium, "named like a title");
        assert_eq!(r.comment(), "# likely: named like a title");
    }
}

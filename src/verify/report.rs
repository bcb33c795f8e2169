//! The probe's findings: one line per check, the request and answer under a failure, a
//! summary; or the same as JSON for a pipeline.

use serde_json::{Value, json};

/// Longest answer body shown under a failed check.
const SHOWN: usize = 600;

/// How one check went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// `why` in words, with the call that showed it.
    Fail {
        why: String,
        request: String,
        answer: String,
    },
    /// Not run, and why (the server does not offer it, or an earlier step failed).
    Skip(String),
}

/// One named check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub outcome: Outcome,
}

/// Every check, in the order run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no check failed (skipped ones do not count against it).
    pub fn passed(&self) -> bool {
        self.count(|o| matches!(o, Outcome::Fail { .. })) == 0
    }

    /// The failed checks' names.
    pub fn failures(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail { .. }))
            .map(|c| c.name.as_str())
            .collect()
    }

    fn count(&self, which: impl Fn(&Outcome) -> bool) -> usize {
        self.checks.iter().filter(|c| which(&c.outcome)).count()
    }

    /// For a terminal: `PASS name`, `FAIL name` with why, request and answer, then a summary.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            match &check.outcome {
                Outcome::Pass => out.push_str(&format!("PASS  {}\n", check.name)),
                Outcome::Skip(why) => out.push_str(&format!("SKIP  {} ({why})\n", check.name)),
                Outcome::Fail {
                    why,
                    request,
                    answer,
                } => out.push_str(&format!(
                    "FAIL  {}\n      why:     {why}\n      request: {}\n      answer:  {}\n",
                    check.name,
                    shorten(request),
                    shorten(answer)
                )),
            }
        }
        out.push_str(&format!(
            "{} passed, {} failed, {} skipped\n",
            self.count(|o| *o == Outcome::Pass),
            self.count(|o| matches!(o, Outcome::Fail { .. })),
            self.count(|o| matches!(o, Outcome::Skip(_)))
        ));
        out
    }

    /// For a pipeline: `{"passed": bool, "checks": [{"name", "outcome", ...}]}`.
    pub fn json(&self) -> Value {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|check| match &check.outcome {
                Outcome::Pass => json!({"name": check.name, "outcome": "pass"}),
                Outcome::Skip(why) => json!({"name": check.name, "outcome": "skip", "why": why}),
                Outcome::Fail {
                    why,
                    request,
                    answer,
                } => json!({"name": check.name, "outcome": "fail", "why": why,
                            "request": request, "answer": answer}),
            })
            .collect();
        json!({"passed": self.passed(), "checks": checks})
    }
}

/// `text` cut to [`SHOWN`] characters, on a character boundary.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            checks: vec![
                Check {
                    name: "one".into(),
                    outcome: Outcome::Pass,
                },
                Check {
                    name: "two".into(),
                    outcome: Outcome::Fail {
                        why: "givenName reads \"A\"".into(),
                        request: "PATCH /Users/1".into(),
                        answer: "200 {}".into(),
                    },
                },
                Check {
                    name: "three".into(),
                    outcome: Outcome::Skip("no groups".into()),
                },
            ],
        }
    }

    #[test]
    fn a_failure_shows_why_with_its_call_and_fails_the_report() {
        let report = report();
        assert!(!report.passed());
        assert_eq!(report.failures(), ["two"]);
        let text = report.text();
        assert!(text.contains("PASS  one\n"), "{text}");
        assert!(
            text.contains(
                "FAIL  two\n      why:     givenName reads \"A\"\n      request: PATCH /Users/1\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("1 passed, 1 failed, 1 skipped\n"), "{text}");
        let json = report.json();
        assert_eq!(json["passed"], false);
        assert_eq!(json["checks"][1]["outcome"], "fail");
        assert_eq!(json["checks"][2]["why"], "no groups");
    }

    #[test]
    fn long_answers_are_cut_on_a_character_boundary() {
        let long = "é".repeat(SHOWN + 10);
        let short = shorten(&long);
        assert_eq!(short.chars().count(), SHOWN + 3);
        assert_eq!(shorten("short"), "short");
    }
}

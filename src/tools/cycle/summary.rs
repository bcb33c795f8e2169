//! The one-screen text of a [`CycleReport`]: a table per phase, a table per kind of call, the
//! verification and the failures grouped by cause (status and detail), with an example user.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use super::{CallFailure, CycleReport};

/// Failure groups shown; the rest are counted.
const GROUPS_SHOWN: usize = 8;

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

impl fmt::Display for CycleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Entra provisioning cycle against {}", self.url)?;
        writeln!(
            f,
            "{} users (prefix {:?}), concurrency {}: {} created, {} matched existing",
            self.users, self.prefix, self.concurrency, self.created, self.matched
        )?;
        writeln!(f)?;
        self.fmt_phases(f)?;
        writeln!(f)?;
        self.fmt_calls(f)?;
        writeln!(f)?;
        self.fmt_verification(f)?;
        match self.removed {
            Some(n) => writeln!(f, "cleanup: {n} users deleted")?,
            None => writeln!(
                f,
                "the cycle's users are left in the tenant (--cleanup deletes them)"
            )?,
        }
        if self.failures.is_empty() {
            write!(f, "errors: none")?;
        } else {
            write!(f, "errors: {} failed SCIM calls", self.failures.len())?;
            for line in failure_groups(&self.failures) {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl CycleReport {
    /// The table of phases, with a total line.
    fn fmt_phases(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}",
            "phase", "users", "calls", "secs", "calls/s", "users/s", "p50 ms", "p99 ms", "errors"
        )?;
        for p in &self.phases {
            writeln!(
                f,
                "{:<8} {:>7} {:>7} {:>8.1} {:>8.0} {:>8.0} {:>8} {:>8} {:>7}",
                p.phase.name(),
                p.users,
                p.calls,
                p.elapsed.as_secs_f64(),
                p.calls_per_sec(),
                p.users_per_sec(),
                ms(p.latency.p50),
                ms(p.latency.p99),
                p.errors
            )?;
        }
        let calls: usize = self.phases.iter().map(|p| p.calls).sum();
        let secs: f64 = self.phases.iter().map(|p| p.elapsed.as_secs_f64()).sum();
        let errors: usize = self.phases.iter().map(|p| p.errors).sum();
        let rate = if secs > 0.0 { calls as f64 / secs } else { 0.0 };
        writeln!(
            f,
            "{:<8} {:>7} {:>7} {:>8.1} {:>8.0} {:>8} {:>8} {:>8} {:>7}",
            "total", "", calls, secs, rate, "", "", "", errors
        )
    }

    /// The table of calls by phase and kind.
    fn fmt_calls(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<19} {:>7} {:>8} {:>8} {:>8} {:>7}",
            "call", "calls", "p50 ms", "p99 ms", "max ms", "errors"
        )?;
        for p in &self.phases {
            for op in &p.ops {
                writeln!(
                    f,
                    "{:<19} {:>7} {:>8} {:>8} {:>8} {:>7}",
                    format!("{} {}", p.phase.name(), op.op.name()),
                    op.calls,
                    ms(op.latency.p50),
                    ms(op.latency.p99),
                    ms(op.latency.max),
                    op.errors
                )?;
            }
        }
        Ok(())
    }

    /// Whether every user of the cycle was found as it should be, and how the tenant listed.
    fn fmt_verification(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.verification;
        if v.passed() {
            writeln!(
                f,
                "verification: PASSED: {} of {} users found once each, none lost, duplicated or \
                 wrong, all disabled",
                v.found, v.expected
            )?;
        } else {
            writeln!(
                f,
                "verification: FAILED: {} of {} users found; {}",
                v.found,
                v.expected,
                v.problems()
            )?;
            for line in v.examples() {
                writeln!(f, "  {line}")?;
            }
        }
        writeln!(
            f,
            "  (listed through SCIM: {} users in the tenant, {} pages, totalResults {})",
            v.listed,
            v.pages,
            v.total_results
                .map_or_else(|| "unknown".to_owned(), |t| t.to_string())
        )
    }
}

/// What failures are grouped by: phase, call, status, detail.
type GroupKey<'a> = (&'a str, &'a str, Option<u16>, &'a str);
/// A group's count, example user and first position.
type Group<'a> = (usize, Option<&'a str>, usize);

/// Failures grouped by phase, call, status and detail, the largest groups first.
fn failure_groups(failures: &[CallFailure]) -> Vec<String> {
    let mut groups: HashMap<GroupKey<'_>, Group<'_>> = HashMap::new();
    for (order, failure) in failures.iter().enumerate() {
        let key = (
            failure.phase.name(),
            failure.op.name(),
            failure.status,
            failure.detail.as_str(),
        );
        let entry = groups
            .entry(key)
            .or_insert((0, failure.user.as_deref(), order));
        entry.0 += 1;
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.2.cmp(&b.1.2)));
    let mut lines: Vec<String> = groups
        .iter()
        .take(GROUPS_SHOWN)
        .map(|((phase, op, status, detail), (count, user, _))| {
            let status = status.map_or_else(|| "-".to_owned(), |s| s.to_string());
            let example = user.map(|u| format!(" (e.g. {u})")).unwrap_or_default();
            format!("{count} x {phase} {op} {status}: {detail}{example}")
        })
        .collect();
    if groups.len() > GROUPS_SHOWN {
        let rest: usize = groups[GROUPS_SHOWN..].iter().map(|g| g.1.0).sum();
        lines.push(format!(
            "... and {rest} more in {} other groups",
            groups.len() - GROUPS_SHOWN
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::stats::{Latency, OpStats, PhaseReport};
    use super::super::{Op, Phase, Verification};
    use super::*;

    fn report(failures: Vec<CallFailure>, verification: Verification) -> CycleReport {
        CycleReport {
            url: "http://127.0.0.1:1/scim/v2".into(),
            users: 2,
            concurrency: 4,
            prefix: "cy".into(),
            created: 2,
            matched: 0,
            phases: vec![PhaseReport {
                phase: Phase::Initial,
                users: 2,
                calls: 6,
                errors: failures.len(),
                elapsed: Duration::from_secs(2),
                latency: Latency::default(),
                ops: vec![OpStats {
                    op: Op::Create,
                    calls: 2,
                    errors: 0,
                    latency: Latency::default(),
                }],
            }],
            failures,
            verification,
            removed: None,
        }
    }

    #[test]
    fn a_passing_report_says_so_on_one_screen() {
        let v = Verification {
            expected: 2,
            found: 2,
            listed: 2,
            pages: 1,
            total_results: Some(2),
            ..Verification::default()
        };
        let report = report(Vec::new(), v);
        assert!(report.passed());
        let text = report.to_string();
        assert!(text.contains("verification: PASSED"), "{text}");
        assert!(text.contains("initial POST"), "{text}");
        assert!(text.contains("errors: none"), "{text}");
        assert!(text.lines().count() < 25, "{text}");
    }

    #[test]
    fn failures_are_grouped_by_cause() {
        let fail = |user: &str, status, detail: &str| CallFailure {
            phase: Phase::Delta,
            op: Op::Patch,
            user: Some(user.into()),
            status,
            detail: detail.into(),
        };
        let failures = vec![
            fail("a", Some(502), "downstream failed"),
            fail("b", None, "lost: no user matches"),
            fail("c", Some(502), "downstream failed"),
        ];
        let v = Verification {
            expected: 2,
            found: 1,
            lost: vec!["cy-2@example.com".into()],
            ..Verification::default()
        };
        let report = report(failures, v);
        assert!(!report.passed());
        let text = report.to_string();
        assert!(
            text.contains("2 x delta PATCH 502: downstream failed (e.g. a)"),
            "{text}"
        );
        assert!(text.contains("1 x delta PATCH -: lost"), "{text}");
        assert!(text.contains("lost: cy-2@example.com"), "{text}");
        assert_eq!(
            report.failure_message(),
            "the Entra cycle failed: 3 SCIM call(s) failed; verification: 1 lost"
        );
    }
}

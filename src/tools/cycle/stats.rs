//! Figures of a cycle: per phase and per kind of call, the count, time, throughput and latency
//! percentiles, computed once at the end from the raw samples.

use std::time::Duration;

use super::{CallFailure, Op, Phase};

/// One timed SCIM call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) phase: Phase,
    pub(crate) op: Op,
    pub(crate) latency: Duration,
    /// A 2xx answer with a usable body.
    pub(crate) ok: bool,
}

/// Latency percentiles (nearest rank) of a set of calls; zero when there were none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest call.
    pub max: Duration,
}

impl Latency {
    fn of(mut latencies: Vec<Duration>) -> Self {
        latencies.sort_unstable();
        Self {
            p50: percentile(&latencies, 50),
            p99: percentile(&latencies, 99),
            max: latencies.last().copied().unwrap_or_default(),
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// The calls of one kind within a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpStats {
    /// The kind of call.
    pub op: Op,
    /// Calls made.
    pub calls: usize,
    /// Calls that failed (non-2xx, transport error or unusable answer).
    pub errors: usize,
    /// Their latency.
    pub latency: Latency,
}

/// The figures of one phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseReport {
    /// Which phase.
    pub phase: Phase,
    /// Users handled (for verify: users listed).
    pub users: usize,
    /// SCIM calls made.
    pub calls: usize,
    /// Failures recorded (failed calls, and 2xx answers that found no or several users).
    pub errors: usize,
    /// Wall-clock time of the phase.
    pub elapsed: Duration,
    /// Latency of all its calls.
    pub latency: Latency,
    /// Per kind of call, in [`Op::ALL`] order, kinds not used left out.
    pub ops: Vec<OpStats>,
}

impl PhaseReport {
    /// Calls per second of wall-clock time.
    pub fn calls_per_sec(&self) -> f64 {
        rate(self.calls, self.elapsed)
    }

    /// Users per second of wall-clock time.
    pub fn users_per_sec(&self) -> f64 {
        rate(self.users, self.elapsed)
    }
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

/// Builds a phase's figures from every sample and failure of the cycle.
pub(crate) fn phase_report(
    phase: Phase,
    users: usize,
    elapsed: Duration,
    samples: &[Sample],
    failures: &[CallFailure],
) -> PhaseReport {
    let mine: Vec<&Sample> = samples.iter().filter(|s| s.phase == phase).collect();
    let ops = Op::ALL
        .iter()
        .filter_map(|&op| {
            let of_op: Vec<&&Sample> = mine.iter().filter(|s| s.op == op).collect();
            (!of_op.is_empty()).then(|| OpStats {
                op,
                calls: of_op.len(),
                errors: of_op.iter().filter(|s| !s.ok).count(),
                latency: Latency::of(of_op.iter().map(|s| s.latency).collect()),
            })
        })
        .collect();
    PhaseReport {
        phase,
        users,
        calls: mine.len(),
        errors: failures.iter().filter(|f| f.phase == phase).count(),
        elapsed,
        latency: Latency::of(mine.iter().map(|s| s.latency).collect()),
        ops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&values, 50), ms(50));
        assert_eq!(percentile(&values, 99), ms(99));
        assert_eq!(percentile(&[ms(7)], 99), ms(7));
        assert_eq!(percentile(&[], 50), Duration::ZERO);
        let latency = Latency::of(vec![ms(3), ms(1), ms(2)]);
        assert_eq!(
            (latency.p50, latency.p99, latency.max),
            (ms(2), ms(3), ms(3))
        );
    }

    #[test]
    fn phase_report_counts_only_its_phase() {
        let sample = |phase, op, n, ok| Sample {
            phase,
            op,
            latency: ms(n),
            ok,
        };
        let samples = [
            sample(Phase::Initial, Op::Match, 1, true),
            sample(Phase::Initial, Op::Create, 4, false),
            sample(Phase::Delta, Op::Patch, 9, true),
        ];
        let failures = [CallFailure {
            phase: Phase::Initial,
            op: Op::Create,
            user: Some("u".into()),
            status: Some(409),
            detail: "taken".into(),
        }];
        let report = phase_report(Phase::Initial, 1, ms(500), &samples, &failures);
        assert_eq!((report.calls, report.errors), (2, 1));
        assert_eq!(report.ops.len(), 2);
        assert_eq!(report.ops[1].errors, 1);
        assert_eq!(report.calls_per_sec(), 4.0);
        assert_eq!(report.users_per_sec(), 2.0);
        assert_eq!(report.latency.max, ms(4));
    }
}

//! `scim-gateway reconcile`: compares the store with the downstream (missing and orphaned
//! users) and, with `--fix`, repairs. Its exit status tells a script what it found: 0 both
//! agree, 1 they differ, 2 (from `cli::main`) it could not tell.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::service::users::Progress;
use crate::settings::Config;

/// Prints the differences found, and what was fixed; progress goes to stderr meanwhile.
pub(super) async fn run(
    path: PathBuf,
    tenant: Option<String>,
    fix: bool,
) -> Result<ExitCode, String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let tenant = config
        .select_tenant(tenant.as_deref())
        .map_err(|e| e.to_string())?;
    let (store, users) = super::users_of(&config, tenant).await?;
    let meter = Meter::new(std::io::stderr().is_terminal());
    let report = users.reconcile(fix, &|p| meter.show(p)).await;
    meter.finish();
    store.close().await;
    let report = report.map_err(|e| e.to_string())?;
    println!(
        "checked {} downstream users: {} missing (correlated, but gone downstream), {} orphaned (downstream, never correlated)",
        report.checked,
        report.missing.len(),
        report.orphans.len()
    );
    for id in &report.missing {
        println!("  missing  SCIM id {id}");
    }
    for id in &report.orphans {
        println!("  orphaned downstream id {id}");
    }
    let clean = report.missing.is_empty() && report.orphans.is_empty();
    match (clean, fix) {
        (true, _) => return Ok(ExitCode::SUCCESS),
        (false, true) => println!("fixed: missing correlations dropped, orphans correlated"),
        (false, false) => println!("run again with --fix to repair"),
    }
    Ok(ExitCode::from(1))
}

/// Progress lines on stderr: on a terminal one line rewritten in place; otherwise (a log file,
/// a CI job) a line now and then, so a long read is seen to be moving.
struct Meter {
    tty: bool,
    /// When the last line was shown; `None` before the first.
    shown: Mutex<Option<Instant>>,
}

impl Meter {
    fn new(tty: bool) -> Self {
        Self {
            tty,
            shown: Mutex::new(None),
        }
    }

    fn show(&self, progress: Progress) {
        let every = match self.tty {
            true => Duration::from_millis(100),
            false => Duration::from_secs(5),
        };
        let Ok(mut shown) = self.shown.lock() else {
            return;
        };
        let due = shown.is_none_or(|at| at.elapsed() >= every);
        if !due && matches!(progress, Progress::Reading { .. }) {
            return;
        }
        *shown = Some(Instant::now());
        let line = match progress {
            Progress::Reading {
                read,
                total: Some(total),
            } => format!("reconcile: read {read} of {total} downstream users"),
            Progress::Reading { read, total: None } => {
                format!("reconcile: read {read} downstream users")
            }
            Progress::Comparing { records, rows } => {
                format!("reconcile: comparing {records} downstream users with {rows} in the store")
            }
        };
        let mut err = std::io::stderr().lock();
        // Progress is a courtesy: a closed stderr does not stop the work.
        let _ = match self.tty {
            true => write!(err, "\r\x1b[2K{line}"),
            false => writeln!(err, "{line}"),
        };
    }

    /// Ends the line rewritten in place, so what follows starts on its own.
    fn finish(&self) {
        if self.tty && self.shown.lock().is_ok_and(|s| s.is_some()) {
            eprintln!();
        }
    }
}

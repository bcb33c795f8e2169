//! `scim-gateway reconcile`: compares the store with the downstream (missing and orphaned
//! users) and, with `--fix`, repairs.

use std::path::PathBuf;

use crate::settings::Config;

/// Prints the differences found, and what was fixed.
pub(super) async fn run(path: PathBuf, tenant: Option<String>, fix: bool) -> Result<(), String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let tenant = config
        .select_tenant(tenant.as_deref())
        .map_err(|e| e.to_string())?;
    let (store, users) = super::users_of(&config, tenant).await?;
    let report = users.reconcile(fix).await;
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
        (true, _) => {}
        (false, true) => println!("fixed: missing correlations dropped, orphans correlated"),
        (false, false) => println!("run again with --fix to repair"),
    }
    Ok(())
}

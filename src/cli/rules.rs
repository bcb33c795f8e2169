//! `scim-gateway rules apply`: gives every user the role and licences its groups earn under
//! the configured rules.

use std::path::PathBuf;

use crate::settings::Config;

/// Applies the rules (or, in a dry run, lists who would change).
pub(super) async fn apply(
    path: PathBuf,
    tenant: Option<String>,
    dry_run: bool,
) -> Result<(), String> {
    let config = Config::load(&path).map_err(|e| e.to_string())?;
    let tenant = config
        .select_tenant(tenant.as_deref())
        .map_err(|e| e.to_string())?;
    if !tenant.groups.rules.is_active() {
        println!(
            "tenant {}: no group rules configured; nobody's role or licences are touched",
            tenant.name
        );
        return Ok(());
    }
    let (store, users) = super::users_of(&config, tenant).await?;
    let report = users.apply_rules(dry_run).await;
    store.close().await;
    let report = report.map_err(|e| e.to_string())?;
    let verb = if dry_run { "would change" } else { "changed" };
    for change in &report.changes {
        println!("  {change}");
    }
    for (user, error) in &report.failed {
        println!("  failed {user}: {error}");
    }
    println!(
        "tenant {}: checked {} users, {} {verb}{}",
        tenant.name,
        report.checked,
        report.changes.len(),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    match report.failed.len() {
        0 => Ok(()),
        n => Err(format!(
            "{n} users could not be updated; run again to retry them"
        )),
    }
}

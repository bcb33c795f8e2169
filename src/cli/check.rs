//! `scim-gateway check`: reads a gateway.toml and reports the first problem with its line:col,
//! or a summary of what it configures.

use std::path::Path;

use crate::settings::Config;

/// Checks the file at `config` and prints what it configures.
pub(super) fn run(config: &Path) -> Result<(), String> {
    Config::load(config)
        .map(|c| {
            println!("{}: ok", config.display());
            println!("  listen: {}", c.server.listen);
            println!("  store: {}", crate::store::redact_url(&c.store_url));
            for t in &c.tenants {
                println!(
                    "  tenant {}: SCIM at {}, {} attribute rules",
                    t.name,
                    t.base_path,
                    t.users.mapping.rules.len()
                );
            }
        })
        .map_err(|e| e.to_string())
}

//! `scim-gateway check`: reads a gateway.toml and reports every problem it finds, each as
//! `file:line:col: key: message` in the order of the file, or a summary of what it configures.

use std::path::Path;

use crate::config::interpolate;
use crate::settings::Config;

/// Checks the file at `config` and prints what it configures, or every problem (on standard
/// error) and how many; with `allow_missing_env`, unset `${NAME}`s get stand-ins (a CI job
/// checking the file without production secrets).
pub(super) fn run(config: &Path, allow_missing_env: bool) -> Result<(), String> {
    let env = move |name: &str| match allow_missing_env {
        true => interpolate::from_env_or_stand_in(name),
        false => interpolate::from_env(name),
    };
    match Config::check(config, &env) {
        Ok(c) => {
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
            Ok(())
        }
        Err(problems) => {
            for line in problems.lines() {
                eprintln!("{line}");
            }
            Err(match problems.len() {
                1 => format!("1 problem in {}", config.display()),
                n => format!("{n} problems in {}", config.display()),
            })
        }
    }
}

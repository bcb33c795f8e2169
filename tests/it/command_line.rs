//! The command line as a Unix tool: the config from `-c` or `SCIM_GATEWAY_CONFIG`, quiet
//! stderr for one-shot commands unless `-v`, shell completions and a man page.

use std::process::Command;

use crate::support::process::{TempDir, free_port, write_config};

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");

/// Runs the binary with `RUST_LOG` unset and the sample API's variables; success, stdout
/// and stderr.
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("SCIM_GATEWAY_CONFIG")
        .env("LEGACY_URL", "http://127.0.0.1:9")
        .env("LEGACY_API_KEY", "k")
        .env("SCIM_TOKEN", crate::support::TOKEN)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A gateway.toml in a fresh folder (listening on its own port, its store beside it, issued
/// tokens on), the folder and the port.
fn config() -> (TempDir, std::path::PathBuf, u16) {
    let dir = TempDir::new("cli-unix");
    let port = free_port();
    let path = write_config(&dir, port, |text| {
        text.replace(
            "bearer = [\"${SCIM_TOKEN}\"]",
            "bearer = [\"${SCIM_TOKEN}\"]\nissued_tokens = true",
        )
    });
    (dir, path, port)
}

#[test]
fn the_config_comes_from_scim_gateway_config_or_dash_c() {
    let (_dir, path, port) = config();
    let path = path.to_str().unwrap();
    let listen = format!("listen: 127.0.0.1:{port}");
    // The working directory (the repository) has a gateway.toml of its own: not the one read.
    let (ok, out, err) = run(&["check"], &[("SCIM_GATEWAY_CONFIG", path)]);
    assert!(ok && out.contains(&listen), "{out}{err}");
    let (ok, out, err) = run(&["check", "-c", path], &[]);
    assert!(ok && out.contains(&listen), "{out}{err}");
    // -c wins over the variable.
    let (ok, out, err) = run(
        &["check", "-c", path],
        &[("SCIM_GATEWAY_CONFIG", "/nonexistent/gateway.toml")],
    );
    assert!(ok && out.contains(&listen), "{out}{err}");
    let (ok, _, err) = run(
        &["token", "list"],
        &[("SCIM_GATEWAY_CONFIG", "/nonexistent/gateway.toml")],
    );
    assert!(!ok && err.contains("/nonexistent/gateway.toml"), "{err}");
}

#[test]
fn one_shot_commands_keep_stderr_quiet_unless_verbose() {
    let (_dir, path, _) = config();
    let path = path.to_str().unwrap();
    let (ok, out, err) = run(&["check", "-c", path], &[]);
    assert!(ok, "{out}{err}");
    assert_eq!(err, "", "check logged on stderr");
    // `token` opens the store, which logs at info.
    let (ok, out, err) = run(&["token", "create", "-c", path, "--name", "entra"], &[]);
    assert!(ok, "{out}{err}");
    assert_eq!(err, "", "token create logged on stderr");
    assert!(out.contains("expires never"), "{out}");
    let (ok, out, err) = run(&["token", "list", "-c", path, "-v"], &[]);
    assert!(ok, "{out}{err}");
    assert!(err.contains("store opened"), "-v shows info lines: {err}");
    assert!(
        out.contains("expires never") && out.contains("last used never"),
        "{out}"
    );
}

#[test]
fn completions_and_the_man_page_name_every_command() {
    let commands = ["serve", "check", "explain", "reconcile", "token", "verify"];
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (ok, out, err) = run(&["completions", shell], &[]);
        assert!(ok, "{shell}: {err}");
        for command in commands {
            assert!(out.contains(command), "{shell} completes no {command}");
        }
    }
    let (ok, page, err) = run(&["man"], &[]);
    assert!(ok, "{err}");
    assert!(
        page.starts_with(".ie") || page.contains(".TH scim-gateway 1"),
        "{page}"
    );
    for command in commands {
        assert!(page.contains(command), "the man page names no {command}");
    }
    let (ok, _, err) = run(&["completions", "tcsh"], &[]);
    assert!(!ok && err.contains("possible values"), "{err}");
}

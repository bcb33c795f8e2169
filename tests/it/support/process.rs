//! The gateway binary as an operator runs it: spawned on a config file, its log captured when
//! a test reads it, killed when the test ends however it ends.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TOKEN;

/// A fresh directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "scim-gateway-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the gateway binary as a command line user does, with `env` set and the variables
/// named in `unset` removed; whether it succeeded, and its stdout then stderr.
pub fn run_binary(args: &[&str], env: &[(&str, &str)], unset: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
    command.args(args).envs(env.iter().copied());
    for name in unset {
        command.env_remove(name);
    }
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A port free right now (another process could take it before use; good enough on loopback).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Writes the example gateway.toml, changed by `edit`, as `dir/gateway.toml`, listening on
/// `port` with its SQLite store at `dir/gateway.db`; returns the file's path.
pub fn write_config(dir: &TempDir, port: u16, edit: impl FnOnce(String) -> String) -> PathBuf {
    let text = scim_gateway::cli::demo::EXAMPLE_CONFIG.replace(
        "listen = \"127.0.0.1:8080\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    ) + &format!(
        "\n[store]\nurl = \"sqlite://{}\"\n",
        dir.0.join("gateway.db").display()
    );
    let path = dir.0.join("gateway.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

/// The gateway binary, serving a config file, killed at will.
pub struct SpawnedGateway(pub Child);

impl SpawnedGateway {
    /// Sends SIGTERM, as systemd, Docker and Kubernetes do to stop a service.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to end and returns how it ended.
    pub async fn exit_status(&mut self, limit: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the gateway did not exit within {limit:?}");
    }
}

impl Drop for SpawnedGateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `scim-gateway serve` on `config` (listening on `port`) and waits until it answers
/// HTTP. `log`, when given, receives its stderr at debug level.
pub async fn spawn_gateway(
    config: &Path,
    env: &[(&'static str, String)],
    port: u16,
    log: Option<&Path>,
) -> SpawnedGateway {
    scim_gateway::crypto::install_provider();
    spawn_gateway_with(config, env, port, log, &[]).await
}

/// Like [`spawn_gateway`], with more arguments for `serve` (e.g. `--log-format json`).
pub async fn spawn_gateway_with(
    config: &Path,
    env: &[(&'static str, String)],
    port: u16,
    log: Option<&Path>,
    args: &[&str],
) -> SpawnedGateway {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
    command
        .args(["serve", "--config"])
        .arg(config)
        .args(args)
        .env("SCIM_TOKEN", TOKEN)
        .stdout(Stdio::null());
    match log {
        Some(path) => command
            .env("RUST_LOG", "debug")
            .stderr(std::fs::File::create(path).unwrap()),
        None => command.env("RUST_LOG", "warn").stderr(Stdio::null()),
    };
    for (k, v) in env {
        command.env(k, v);
    }
    let child = SpawnedGateway(command.spawn().unwrap());
    let url = format!("http://127.0.0.1:{port}/");
    let started = Instant::now();
    let client = reqwest::Client::new();
    while started.elapsed() < Duration::from_secs(30) {
        // Any answer (the root is a 404) means it is serving.
        if client.get(&url).send().await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the gateway did not start");
}

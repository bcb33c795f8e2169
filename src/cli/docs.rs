//! `scim-gateway completions SHELL` and `scim-gateway man`: the shell completion script and
//! the manual page, generated from the command line's own definition so they never drift
//! from it.

use std::io::Write;

/// Prints `shell`'s completion script to stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<(), String> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut super::definition(), "scim-gateway", &mut out);
    write_stdout(&out)
}

/// Prints the roff manual page to stdout.
pub(super) fn man() -> Result<(), String> {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::definition())
        .render(&mut out)
        .map_err(|e| format!("cannot render the manual page: {e}"))?;
    write_stdout(&out)
}

/// Writes all of `bytes`; a closed pipe (`| head`) is an error the caller reports.
fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

//! `scim-gateway verify`: a probe of a deployed SCIM endpoint (this gateway or any SCIM
//! server), run from the operator's machine. It does what Microsoft's online SCIM Validator does
//! and a little more: the discovery documents, Test Connection's filter, then one uniquely named
//! test user through the shapes Entra ID sends (enterprise extension, capitalised ops, "False"
//! as a string, manager as a bare id) and a test group with a member. Each check passes or fails
//! on its own, with the request and the answer when it fails; everything the probe made is
//! removed at the end, even after a failure.

mod checks;
mod probe;
mod report;

pub use report::{Check, Outcome, Report};

/// Where to probe, and with which Secret Token (never printed).
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The Tenant URL, e.g. `https://scim.example.com/scim/v2`.
    pub url: String,
    pub token: String,
}

/// Why the probe could not run at all (a check that fails is a [`Report`] entry instead).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("invalid Tenant URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot build an HTTP client: {0}")]
    Client(String),
}

/// Runs every check against `options.url` and removes what it created.
pub async fn run(options: &VerifyOptions) -> Result<Report, VerifyError> {
    let probe = probe::Probe::new(&options.url, &options.token)?;
    Ok(checks::Run::new(probe).all().await)
}

/// `scim-gateway verify`: the report on stdout (text or JSON); an error naming the failed
/// checks when any failed, so the exit status is 1.
pub async fn run_cli(options: &VerifyOptions, json: bool) -> Result<(), String> {
    let report = run(options).await.map_err(|e| e.to_string())?;
    if json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    match report.failures().as_slice() {
        [] => Ok(()),
        failed => Err(format!(
            "{} check(s) failed: {}",
            failed.len(),
            failed.join("; ")
        )),
    }
}

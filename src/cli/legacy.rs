//! `scim-gateway legacy`: the sample legacy API alone, with a line on the pace it sees.

use std::net::SocketAddr;

use crate::signals::stop_requested;
use crate::tools::legacy;

/// Serves the sample API until a stop is requested.
pub(super) async fn run(listen: SocketAddr, api_key: String) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!(
        "sample legacy API on http://{listen}/api/v1 (X-Api-Key required, or a bearer token \
         from http://{listen}{} for client id {})",
        legacy::OAUTH_TOKEN_PATH,
        legacy::OAUTH_CLIENT_ID
    );
    let api = legacy::LegacyApi::new(api_key);
    let reporter = tokio::spawn(report_pace(api.clone()));
    let served = legacy::serve(listener, api.clone(), stop_requested()).await;
    reporter.abort();
    println!("{}", pace_line(&api));
    served.map_err(|e| e.to_string())
}

/// Every 10 s with new requests, one line on the pace the sample API sees: what a gateway's
/// `[downstream] rate_limit` is checked against (scripts/bench.sh reads it).
async fn report_pace(api: legacy::LegacyApi) {
    let mut reported = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        let total = api.request_count().total();
        if total != reported {
            reported = total;
            println!("{}", pace_line(&api));
        }
    }
}

fn pace_line(api: &legacy::LegacyApi) -> String {
    format!(
        "sample legacy API: {} requests, peak {} requests in one second",
        api.request_count().total(),
        api.peak_per_second()
    )
}

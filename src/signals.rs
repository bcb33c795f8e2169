//! The signals that stop a running command: Ctrl-C (SIGINT) and, on Unix, SIGTERM, which
//! systemd, Docker and Kubernetes send to stop a service.

/// Resolves when the process is asked to stop; never when neither signal can be watched.
pub async fn stop_requested() {
    let signal = tokio::select! {
        () = interrupt() => "SIGINT",
        () = terminate() => "SIGTERM",
    };
    tracing::info!(signal, "stop requested");
}

async fn interrupt() {
    if tokio::signal::ctrl_c().await.is_err() {
        tracing::warn!("cannot watch Ctrl-C");
        std::future::pending::<()>().await;
    }
}

#[cfg(unix)]
async fn terminate() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            term.recv().await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await;
}

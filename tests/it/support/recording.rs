//! A downstream that records what it is asked (method, path and query, `X-Request-Id`) and
//! answers like an empty sample API, with a health endpoint at `/api/v1/health`.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::IntoResponse;
use serde_json::json;
use tokio::net::TcpListener;

/// One request the downstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, e.g. `/api/v1/accounts?page=1`.
    pub uri: String,
    pub request_id: Option<String>,
}

/// What a recording downstream received, shared with its server task.
pub type Record = Arc<Mutex<Vec<Seen>>>;

/// Starts the downstream on loopback; returns its base URL and what it records.
pub async fn recording_downstream() -> (String, Record) {
    let seen: Record = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |request: Request| {
        let log = log.clone();
        async move {
            let uri = request.uri().to_string();
            log.lock().unwrap().push(Seen {
                method: request.method().to_string(),
                uri: uri.clone(),
                request_id: request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            });
            let (status, body) =
                if uri.starts_with("/api/v1/accounts?") || uri == "/api/v1/accounts" {
                    (200, json!({"data": [], "meta": {"total": 0}}))
                } else if uri == "/api/v1/health" {
                    (200, json!({"status": "up"}))
                } else {
                    (404, json!({"error": "no such account"}))
                };
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

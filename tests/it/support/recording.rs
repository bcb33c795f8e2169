//! A downstream that records what it is asked (method, path and query, `X-Request-Id`) and
//! answers like an empty sample API, with a health endpoint at `/api/v1/health`; and a
//! recording proxy that passes every request on to a real downstream.

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

fn seen_of(request: &Request) -> Seen {
    Seen {
        method: request.method().to_string(),
        uri: request.uri().to_string(),
        request_id: request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

/// Serves `app` on loopback; returns its base URL.
async fn serve(app: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Starts a proxy on loopback that records each request exactly as it arrives (its path is
/// never normalized) and passes it on to `upstream`; returns the proxy's base URL and what
/// it records.
pub async fn recording_proxy(upstream: String) -> (String, Record) {
    let seen_log: Record = Arc::new(Mutex::new(Vec::new()));
    let log = seen_log.clone();
    scim_gateway::crypto::install_provider();
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |request: Request| {
        let (log, client, upstream) = (log.clone(), client.clone(), upstream.clone());
        async move {
            log.lock().unwrap().push(seen_of(&request));
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let mut headers = parts.headers.clone();
            headers.remove("host");
            let answer = client
                .request(parts.method, format!("{upstream}{}", parts.uri))
                .headers(headers)
                .body(body)
                .send()
                .await
                .expect("the upstream answers");
            let status = answer.status();
            let content_type = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_owned();
            let text = answer.text().await.unwrap();
            (status, [("content-type", content_type)], text).into_response()
        }
    });
    (serve(app).await, seen_log)
}

/// Starts the downstream on loopback; returns its base URL and what it records.
pub async fn recording_downstream() -> (String, Record) {
    let seen: Record = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |request: Request| {
        let log = log.clone();
        async move {
            let uri = request.uri().to_string();
            log.lock().unwrap().push(seen_of(&request));
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
    (serve(app).await, seen)
}

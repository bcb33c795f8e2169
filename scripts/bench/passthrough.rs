//! The floor under the gateway's speed: a bare reverse proxy on the same stack (hyper's
//! server, reqwest's client, tokio, mimalloc) that forwards each request's method, path,
//! query and body to one downstream and answers its status and body, doing nothing else.
//! `scripts/bench.sh` runs it beside a plain nginx proxy (the `floor-get` row), so the
//! gateway's ratio to nginx can be read against what any proxy built on these crates gets.
//!
//! Usage: `cargo run --release --example passthrough -- 127.0.0.1:18003 http://127.0.0.1:18001`

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;

use axum::body::{Body, to_bytes};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The most of a request body it forwards (the gateway's own default limit).
const MAX_BODY_BYTES: usize = 1 << 20;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(downstream)) = (args.next(), args.next()) else {
        eprintln!("usage: passthrough <listen address> <downstream base URL>");
        return ExitCode::from(2);
    };
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        eprintln!("passthrough: {listen:?} is not an address such as 127.0.0.1:18003");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("passthrough: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(listen, downstream.trim_end_matches('/').to_owned())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("passthrough: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(listen: SocketAddr, downstream: String) -> std::io::Result<()> {
    scim_gateway::crypto::install_provider();
    // The gateway's own client builder (its TLS provider), with the gateway's redirect policy.
    let client = scim_gateway::crypto::http_client()
        .map_err(|_| std::io::Error::other("no TLS provider"))?
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let (client, downstream) = (client.clone(), downstream.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                forward(client.clone(), downstream.clone(), request)
            });
            // A client that goes away mid-request is not this proxy's concern.
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One request sent on as it came; a failure is a bare 502.
async fn forward(
    client: reqwest::Client,
    downstream: String,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let url = match request.uri().path_and_query() {
        Some(target) => format!("{downstream}{target}"),
        None => downstream,
    };
    let method = request.method().clone();
    let sent = async {
        let body = to_bytes(Body::new(request.into_body()), MAX_BODY_BYTES).await?;
        let answer = client.request(method, url).body(body).send().await?;
        let status = answer.status();
        let body = answer.bytes().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, body))
    };
    let mut response = Response::new(Body::empty());
    match sent.await {
        Ok((status, body)) => {
            *response.status_mut() = status;
            *response.body_mut() = Body::from(body);
        }
        Err(_) => *response.status_mut() = StatusCode::BAD_GATEWAY,
    }
    Ok(response)
}

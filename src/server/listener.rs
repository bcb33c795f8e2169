//! The accept loop of the SCIM side: plain TCP or TLS, HTTP/1.1 and HTTP/2 on one port, limits
//! on how long and how large a request head may be, and a bounded drain on shutdown.

/// Writes `AsyncRead`/`AsyncWrite` methods that pass a call through to the wrapped stream in
/// the wrapper's `inner` field: each wrapper here changes one or two methods and forwards the
/// rest, so the forwarding is written once.
macro_rules! forward_io {
    ($($method:ident),* $(,)?) => {
        $(forward_io!(@ $method);)*
    };
    (@ poll_read) => {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
        }
    };
    (@ poll_write) => {
        fn poll_write(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::pin::Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
        }
    };
    (@ poll_write_vectored) => {
        fn poll_write_vectored(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            bufs: &[std::io::IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            std::pin::Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
        }
    };
    (@ is_write_vectored) => {
        fn is_write_vectored(&self) -> bool {
            self.inner.is_write_vectored()
        }
    };
    (@ poll_flush) => {
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
        }
    };
    (@ poll_shutdown) => {
        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::pin::Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
        }
    };
}

mod parse_errors;
mod preface;

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request, Version, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::live::LiveApp;
use crate::scim::error::ScimError;
use crate::settings::ServerConfig;
use crate::tls::{self, TlsError};
use parse_errors::ScimParseErrors;
use preface::PrefaceDeadline;

/// How long the loop pauses after a failed accept (e.g. EMFILE), so that a full file table
/// does not turn into a busy loop while connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);

/// Why the listener cannot start. Once it runs, nothing stops it but the shutdown signal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("cannot serve TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Prepares to serve `app` on `listener` with the TLS, head limits and drain time of `config`:
/// the certificate is loaded now, so a bad one is an error here rather than in a spawned task.
/// Each request goes to the app current when it arrives (see [`LiveApp`]), so a reload needs
/// no new listener. The returned future serves until `shutdown` resolves, then stops
/// accepting, lets in-flight requests run for `config.shutdown_grace` and cuts whatever is
/// left.
pub fn serve(
    listener: TcpListener,
    app: LiveApp,
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<impl Future<Output = ()> + Send + 'static, ServeError> {
    let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
    Ok(run(listener, app, tls, config.clone(), shutdown))
}

async fn run(
    listener: TcpListener,
    app: LiveApp,
    tls: Option<TlsAcceptor>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let http = Arc::new(http_builder(&config));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(ended) = connections.join_next() => {
                if let Err(e) = ended && e.is_panic() {
                    tracing::error!(error = %e, "a connection task panicked");
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(connection(Connection {
                        tcp,
                        peer,
                        tls: tls.clone(),
                        http: http.clone(),
                        app: app.clone(),
                        watcher: graceful.watcher(),
                        head_timeout: config.header_read_timeout,
                        max_header_bytes: config.max_header_bytes,
                    }));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    // New connections are refused from here on.
    drop(listener);
    let open = graceful.count();
    tracing::info!(open, "shutting down; letting in-flight requests finish");
    if tokio::time::timeout(config.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            left = connections.len(),
            "shutdown grace elapsed; closing the remaining connections"
        );
    }
    connections.shutdown().await;
}

/// HTTP/1.1 and HTTP/2 with the head limits. The protocol is told by the client's first bytes
/// (the HTTP/2 preface or not); over TLS, ALPN has already told the client which are on offer.
fn http_builder(config: &ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        // A head that does not fit the read buffer gets 431 from hyper (with a SCIM body
        // written in by `ScimParseErrors`); one that does but is over the limit gets it
        // from `oversized_head`.
        .max_buf_size(config.max_header_bytes);
    // h2 answers a header list over its limit with a bare 431 of its own, which no layer can
    // give a body; so its limit is a backstop at twice the configured one, and a head between
    // the two gets the SCIM 431 of `oversized_head`.
    builder.http2().max_header_list_size(
        u32::try_from(config.max_header_bytes.saturating_mul(H2_BACKSTOP)).unwrap_or(u32::MAX),
    );
    builder
}

/// How many times `server.max_header_bytes` h2 itself accepts (see [`http_builder`]).
const H2_BACKSTOP: usize = 2;

/// One accepted TCP connection and what serving it needs.
struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    http: Arc<auto::Builder<TokioExecutor>>,
    app: LiveApp,
    /// Held from accept on, so the drain also waits for handshakes under way.
    watcher: Watcher,
    /// Bounds the TLS handshake and the first bytes, like the request head.
    head_timeout: Duration,
    /// The largest request head served (`server.max_header_bytes`).
    max_header_bytes: usize,
}

async fn connection(c: Connection) {
    let limit = c.max_header_bytes;
    let Some(acceptor) = c.tls else {
        let io = ScimParseErrors::new(PrefaceDeadline::new(c.tcp, c.head_timeout), limit);
        return serve_http(io, &c.http, c.app, c.watcher, c.peer, limit).await;
    };
    match tokio::time::timeout(c.head_timeout, acceptor.accept(c.tcp)).await {
        Ok(Ok(stream)) => {
            let io = ScimParseErrors::new(PrefaceDeadline::new(stream, c.head_timeout), limit);
            serve_http(io, &c.http, c.app, c.watcher, c.peer, limit).await;
        }
        Ok(Err(e)) => tracing::debug!(peer = %c.peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(peer = %c.peer, "TLS handshake timed out"),
    }
}

async fn serve_http<I>(
    io: I,
    http: &auto::Builder<TokioExecutor>,
    app: LiveApp,
    watcher: Watcher,
    peer: SocketAddr,
    max_header_bytes: usize,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The app is taken per request, not per connection: a keep-alive connection opened
    // before a reload gets the new configuration on its next request.
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let refused = oversized_head(&request, max_header_bytes);
        let app = app.current();
        async move {
            match refused {
                Some(answer) => Ok(answer),
                None => {
                    let mut request = host_from_authority(request);
                    // Whether forwarded headers are believed depends on who sent them.
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    app.oneshot(request).await
                }
            }
        }
    });
    let served = watcher.watch(http.serve_connection(TokioIo::new(io), service));
    if let Err(e) = served.await {
        tracing::debug!(%peer, error = %e, "connection closed with an error");
    }
}

/// A SCIM 431 for a request whose head is larger than `limit` (`server.max_header_bytes`).
/// hyper's own bounds are backstops only: its HTTP/1.1 read buffer lets a somewhat larger head
/// through when it arrives in one read, and h2 (at twice the limit) answers a bare 431. An
/// HTTP/1.1 head is counted as sent (request line, `name: value` lines, blank line); an
/// HTTP/2 one as h2 counts it (RFC 9113 §6.5.2: name, value and 32 bytes per field,
/// pseudo-header fields included).
fn oversized_head<B>(request: &Request<B>, limit: usize) -> Option<Response> {
    let uri = request.uri();
    let method = request.method().as_str().len();
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len());
    let size = if request.version() == Version::HTTP_2 {
        const FIELD: usize = 32;
        let pseudo = [
            ":method".len() + method,
            ":scheme".len() + uri.scheme_str().map_or(0, str::len),
            ":authority".len() + uri.authority().map_or(0, |a| a.as_str().len()),
            ":path".len() + target,
        ];
        let fields = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len());
        pseudo.into_iter().chain(fields).map(|n| n + FIELD).sum()
    } else {
        // "GET /target HTTP/1.1\r\n" … "\r\n"
        let request_line = method + 1 + target + " HTTP/1.1\r\n".len();
        let fields: usize = request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + ": \r\n".len() + value.len())
            .sum();
        request_line + fields + "\r\n".len()
    };
    (size > limit).then(|| {
        ScimError::new(
            431,
            None,
            format!(
                "the request line and headers are larger than the {limit} bytes this gateway \
                 accepts (server.max_header_bytes)"
            ),
        )
        .into_response()
    })
}

/// HTTP/2 requests carry the host in `:authority`, not `Host` (RFC 9113 §8.3.1); handlers
/// build `meta.location` from `Host`, so it is filled in from the authority when absent.
fn host_from_authority(mut request: Request<Incoming>) -> Request<Incoming> {
    if !request.headers().contains_key(header::HOST)
        && let Some(host) = request
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        request.headers_mut().insert(header::HOST, host);
    }
    request
}

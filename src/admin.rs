//! The operator console (`[admin] listen`): server-rendered pages (no JavaScript) on a listener
//! of its own, never the SCIM one, showing what the identity providers did to each tenant
//! (from the activity store) and managing issued tokens. Every page needs a signed-in session
//! (`session.rs`); every form carries a CSRF token and a POST without the right one is refused
//! with 403 before any handler runs (`csrf.rs`); every answer carries a strict CSP, `frame-ancestors 'none'`, `no-store`.

mod csrf;
mod mapping;
mod overview;
mod pages;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};

use crate::server::serving::ServingState;
use crate::store::Store;
pub use session::SessionError;
use session::{COOKIE, Session, Sessions};

/// What every page reads.
pub struct Console {
    /// What the gateway serves now: each page reads the latest, so the console follows
    /// reloads.
    serving: ServingState,
    store: Store,
    sessions: Sessions,
}

impl Console {
    /// The configuration served now.
    fn config(&self) -> Arc<crate::settings::Config> {
        self.serving.now().config.clone()
    }
}

/// The console's routes over `store`, for the tenants `serving` serves. The admin credential
/// is the one served at start (a change takes a restart).
pub fn router(serving: ServingState, store: Store) -> Result<Router, SessionError> {
    let credential = serving.now().config.admin.credential.clone();
    let console = Arc::new(Console {
        sessions: Sessions::new(credential)?,
        serving,
        store,
    });
    Ok(Router::new()
        .route("/", get(overview::overview))
        .route("/activity", get(pages::activity))
        .route("/activity/{id}", get(pages::activity_entry))
        .route("/mapping", get(mapping::playground).post(mapping::explain))
        .route("/tokens", get(pages::tokens))
        .route("/tokens/create", post(pages::create_token))
        .route("/tokens/revoke", post(pages::revoke_token))
        .route("/tokens/rotate", post(pages::rotate_token))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/style.css", get(pages::style))
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            csrf::checked,
        ))
        .layer(axum::middleware::from_fn_with_state(
            console.clone(),
            signed_in,
        ))
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(console))
}

/// Now, in Unix seconds.
fn now() -> i64 {
    crate::auth::issued::unix_now()
}

/// The session the request's cookie holds.
fn session_of(console: &Console, request_headers: &http::HeaderMap) -> Option<Session> {
    request_headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| console.sessions.read(value, now()))
}

/// The `Set-Cookie` value carrying `cookie`; `Secure` when the browser reached the console
/// over HTTPS, through a reverse proxy that terminates TLS (`X-Forwarded-Proto: https`; the
/// console itself serves plain HTTP).
fn set_cookie(cookie: &str, request: &http::HeaderMap) -> HeaderValue {
    let https = request
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let secure = if https { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Lets a signed-in session through to every page but the login form and the style sheet,
/// handing the session to the handler; others are sent to the login form. A visitor without a
/// session gets one (not signed in), so the login form has a CSRF token to carry.
async fn signed_in(
    State(console): State<Arc<Console>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let open = path == "/login" || path == "/style.css";
    match session_of(&console, request.headers()) {
        Some(session) if session.signed_in || open => {
            request.extensions_mut().insert(session);
            next.run(request).await
        }
        Some(_) => redirect("/login"),
        None => {
            let Ok((session, cookie)) = console.sessions.start(false, now()) else {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            };
            let signed_in = session.signed_in;
            let set_cookie = set_cookie(&cookie, request.headers());
            let mut response = if open || signed_in {
                request.extensions_mut().insert(session);
                next.run(request).await
            } else {
                redirect("/login")
            };
            response
                .headers_mut()
                .append(header::SET_COOKIE, set_cookie);
            response
        }
    }
}

/// A 303 to `to`.
fn redirect(to: &'static str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// The headers every console answer carries.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Serves the console on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Binds `[admin] listen` and serves the console there in a task of its own, if configured.
pub async fn start(
    serving: &ServingState,
    store: &Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>, String> {
    let Some(listen) = serving.now().config.admin.listen else {
        return Ok(None);
    };
    let router = router(serving.clone(), store.clone()).map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen} (admin.listen): {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(listen = %bound, "operator console serving");
    Ok(Some(tokio::spawn(serve(listener, router, shutdown))))
}

//! The CSRF check of every form: a POST is let through to its handler only when its `csrf`
//! field is the one the session's pages carry, so no handler can forget the check. The form
//! is read here (up to [`FORM_LIMIT`]) and handed on unchanged.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{Method, StatusCode};
use maud::html;

use super::session::Session;
use super::{Console, redirect};

/// The largest form the console takes (the playground's request body is the biggest field).
pub const FORM_LIMIT: usize = 256 * 1024;

/// Refuses a POST whose CSRF token is not its session's with 403 (413 for a form over
/// [`FORM_LIMIT`]); lets every other request through.
pub async fn checked(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return redirect("/login");
    };
    let (parts, body) = request.into_parts();
    let Ok(form) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return refused(
            &console,
            &session,
            StatusCode::PAYLOAD_TOO_LARGE,
            "This form is larger than the console takes (256 KiB).",
        );
    };
    let presented = form_urlencoded::parse(&form)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    if !console.sessions.csrf_ok(&session, &presented) {
        return refused(
            &console,
            &session,
            StatusCode::FORBIDDEN,
            "This form is stale or was not sent from this console. Reload the page and try again.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(form))).await
}

fn refused(console: &Console, session: &Session, status: StatusCode, why: &str) -> Response {
    let mut response = super::pages::page(console, session, "Refused", html! { p { (why) } });
    *response.status_mut() = status;
    response
}

//! The Mapping page: the served gateway.toml with its secrets masked, and a playground where
//! an operator pastes a SCIM request and sees what `explain` shows for it: the downstream calls
//! it would make (credentials and sensitive fields masked) and what the client would get. It
//! runs on the live tenant as a dry run: reads are sent, writes only recorded, the store left
//! as it was.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Extension, State};
use axum::response::Response;
use http::StatusCode;
use maud::{Markup, html};
use serde::Deserialize;

use super::Console;
use super::pages::page;
use super::session::Session;
use crate::server::dry_run::{Asked, explain_asked};
use crate::server::serving::Serving;

/// The playground's fields.
#[derive(Deserialize, Default)]
pub struct TryForm {
    tenant: String,
    method: String,
    path: String,
    #[serde(default)]
    body: String,
}

/// The playground, empty, and the configuration.
pub async fn playground(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
) -> Response {
    let serving = console.serving.now();
    let form = TryForm {
        method: "GET".into(),
        path: "/Users?filter=userName eq \"ann.lee@example.com\"".into(),
        ..TryForm::default()
    };
    let body = html! {
        (try_form(&console, &session, &serving, &form))
        (configuration(&serving))
    };
    page(&console, &session, "Mapping", body)
}

/// Runs the pasted request as a dry run and shows what it would do.
pub async fn explain(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
    Form(form): Form<TryForm>,
) -> Response {
    let serving = console.serving.now();
    let outcome = run(&serving, &form).await;
    let body = html! {
        (try_form(&console, &session, &serving, &form))
        @match &outcome {
            Ok(text) => { h2 { "What it would do" } pre id="explained" { (text) } },
            Err(why) => p.failed id="explained" { (why) },
        }
        (configuration(&serving))
    };
    let mut response = page(&console, &session, "Mapping", body);
    if outcome.is_err() {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// `explain`'s text for the request in `form`, or why it cannot run.
async fn run(serving: &Serving, form: &TryForm) -> Result<String, String> {
    let state = serving
        .tenant(&form.tenant)
        .ok_or_else(|| format!("no tenant {:?}", form.tenant))?;
    let body = match form.body.trim() {
        "" => None,
        text => Some(serde_json::from_str(text).map_err(|e| format!("the body is not JSON: {e}"))?),
    };
    let asked = Asked::new(
        &state.base_path,
        Some(form.method.as_str()),
        form.path.trim(),
        body,
    )
    .map_err(|e| e.to_string())?;
    let explained = explain_asked(state, asked)
        .await
        .map_err(|e| format!("cannot run the request: {e}"))?;
    Ok(explained.render())
}

fn try_form(console: &Console, session: &Session, serving: &Serving, form: &TryForm) -> Markup {
    html! {
        p { "Paste a SCIM request as Entra or Okta would send it: the page shows the downstream \
             calls it would make. Reads (GET) are sent to the downstream; writes are not, and \
             the gateway's store is not changed." }
        form method="post" action="/mapping" {
            input type="hidden" name="csrf" value=(console.sessions.csrf(session));
            p {
                label { "Tenant " select name="tenant" {
                    @for t in &serving.tenants {
                        option value=(t.tenant) selected[t.tenant == form.tenant] { (t.tenant) }
                    }
                } }
                " "
                label { "Method " select name="method" {
                    @for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                        option value=(m) selected[m == form.method] { (m) }
                    }
                } }
                " "
                label { "Path " input type="text" name="path" size="60" value=(form.path); }
            }
            p { label { "Body (JSON) " br;
                textarea name="body" rows="12" cols="90" { (form.body) } } }
            button type="submit" { "Explain" }
        }
    }
}

/// The served gateway.toml, masked.
fn configuration(serving: &Serving) -> Markup {
    html! {
        h2 { "gateway.toml (version " (serving.config.text.version()) ")" }
        p { "Secrets are masked; values taken from the environment show as their ${NAME}." }
        pre id="config" { (serving.config.text.masked()) }
    }
}

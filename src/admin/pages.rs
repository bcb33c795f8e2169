//! The console's pages, server-rendered with maud: HTML escaping is the template's default
//! (a userName or an error detail from a client cannot inject markup) and templates are
//! type-checked Rust, with no template files to ship or find at run time.

use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::session::{COOKIE, Session};
use super::{Console, now, redirect, set_cookie};
use crate::auth::issued;
use crate::store::{Activity, ActivityFilter, IssuedToken};

/// Rows on one page of activity.
const PAGE: u64 = 50;
/// Tokens expiring sooner than this are flagged.
const EXPIRY_WARNING_S: i64 = 14 * 86_400;

const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;\
text-align:left}nav a,nav form{margin-right:1em;display:inline}.failed{color:#a00}\
.warn{color:#a60;font-weight:bold}.secret{font-family:monospace;background:#ffd;padding:.5em}";

/// The style sheet (a file of its own: the CSP allows no inline style).
pub async fn style() -> Response {
    ([(header::CONTENT_TYPE, "text/css")], STYLE).into_response()
}

fn layout(console: &Console, session: &Session, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "scim-gateway: " (title) }
                link rel="stylesheet" href="/style.css";
            }
            body {
                @if session.signed_in {
                    nav {
                        a href="/" { "Overview" }
                        a href="/activity" { "Activity" }
                        a href="/tokens" { "Tenants and tokens" }
                        a href="/mapping" { "Mapping" }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(console.sessions.csrf(session));
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                h1 { (title) }
                (body)
            }
        }
    }
}

pub(super) fn page(console: &Console, session: &Session, title: &str, body: Markup) -> Response {
    axum::response::Html(layout(console, session, title, body).into_string()).into_response()
}

pub(super) fn when(at_ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| at_ms.to_string())
}

pub(super) fn when_s(at: Option<i64>) -> String {
    at.map_or_else(|| "never".to_owned(), |s| when(s.saturating_mul(1000)))
}

/// The login form.
pub async fn login_form(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
) -> Response {
    login_page(&console, &session, None)
}

fn login_page(console: &Console, session: &Session, error: Option<&str>) -> Response {
    let config = console.config();
    let credential = &config.admin.credential;
    let body = html! {
        @if let Some(error) = error { p.failed { (error) } }
        form method="post" action="/login" {
            input type="hidden" name="csrf" value=(console.sessions.csrf(session));
            @if credential.basic.is_some() {
                p { label { "User " input type="text" name="user" autocomplete="username"; } }
                p.note { "Leave the user empty to sign in with the admin token." }
            } @else {
                input type="hidden" name="user" value="";
            }
            p { label { "Admin token or password " input type="password" name="secret" autocomplete="current-password"; } }
            button type="submit" { "Sign in" }
        }
    };
    page(console, session, "Sign in", body)
}

/// The login form's fields.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    user: String,
    secret: String,
}

/// Checks the credential and starts a signed-in session (a new id: none chosen before login
/// survives it).
pub async fn login(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
    headers: http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !console
        .sessions
        .credential_ok(form.user.trim(), &form.secret)
    {
        tracing::warn!("console sign-in refused");
        let mut response = login_page(&console, &session, Some("Wrong credential."));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        return response;
    }
    let Ok((_, cookie)) = console.sessions.start(true, now()) else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let mut response = redirect("/");
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&cookie, &headers));
    response
}

/// Ends the session.
pub async fn logout() -> Response {
    let mut response = redirect("/login");
    if let Ok(expired) = HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    )) {
        response.headers_mut().append(header::SET_COOKIE, expired);
    }
    response
}

/// The Activity page's filters.
#[derive(Deserialize, Default)]
pub struct ActivityQuery {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    operation: String,
    /// `failed`, `ok` or empty.
    #[serde(default)]
    outcome: String,
    /// `hour`, `day`, `week` or empty (any time).
    #[serde(default)]
    since: String,
    #[serde(default)]
    page: u64,
}

/// The time ranges the Activity page offers: its value, label and length in milliseconds.
const SINCE: [(&str, &str, i64); 3] = [
    ("hour", "last hour", 3_600_000),
    ("day", "last day", 86_400_000),
    ("week", "last week", 7 * 86_400_000),
];

fn some(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A searchable, paged table of recorded requests, newest first.
pub async fn activity(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
    Query(q): Query<ActivityQuery>,
) -> Response {
    let filter = ActivityFilter {
        tenant: some(&q.tenant),
        user: some(&q.user),
        operation: some(&q.operation),
        failed: match q.outcome.as_str() {
            "failed" => Some(true),
            "ok" => Some(false),
            _ => None,
        },
        since_ms: SINCE
            .iter()
            .find(|(value, _, _)| *value == q.since)
            .map(|(_, _, ms)| now().saturating_mul(1000) - ms),
    };
    let found = console
        .store
        .activity
        .activity_page(&filter, q.page.saturating_mul(PAGE), PAGE + 1)
        .await;
    let link = |page: u64| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("tenant", &q.tenant)
            .append_pair("user", &q.user)
            .append_pair("operation", &q.operation)
            .append_pair("outcome", &q.outcome)
            .append_pair("since", &q.since)
            .append_pair("page", &page.to_string());
        format!("/activity?{}", query.finish())
    };
    let body = html! {
        (activity_filters(&console, &q))
        @match &found {
            Err(e) => p.failed { "Cannot read the activity: " (e) },
            Ok(entries) => {
                @if entries.is_empty() { p { "No recorded request matches." } }
                @else {
                    table {
                        tr { th { "Time" } th { "Tenant" } th { "Client" } th { "Operation" } th { "Resource" }
                             th { "userName" } th { "Status" } th { "Downstream calls" } th { "" } }
                        @for a in entries.iter().take(PAGE as usize) { (activity_row(a)) }
                    }
                }
                p {
                    @if q.page > 0 { a href=(link(q.page - 1)) { "newer" } " " }
                    @if entries.len() as u64 > PAGE { a href=(link(q.page + 1)) { "older" } }
                }
            }
        }
    };
    page(&console, &session, "Activity", body)
}

/// The Activity page's search form, showing the filters `q` applies.
fn activity_filters(console: &Console, q: &ActivityQuery) -> Markup {
    html! {
        form method="get" action="/activity" {
            label { "Tenant " select name="tenant" {
                option value="" { "any" }
                @for t in &console.config().tenants {
                    option value=(t.name) selected[t.name == q.tenant] { (t.name) }
                }
            } }
            " "
            label { "User " input type="text" name="user" value=(q.user) placeholder="userName or id"; }
            " "
            label { "Operation " select name="operation" {
                @for op in ["", "create", "replace", "patch", "delete", "read", "search"] {
                    option value=(op) selected[op == q.operation] { (if op.is_empty() { "any" } else { op }) }
                }
            } }
            " "
            label { "Outcome " select name="outcome" {
                @for (value, label) in [("", "any"), ("ok", "succeeded"), ("failed", "failed")] {
                    option value=(value) selected[value == q.outcome] { (label) }
                }
            } }
            " "
            label { "Time " select name="since" {
                option value="" { "any" }
                @for (value, label, _) in SINCE {
                    option value=(value) selected[value == q.since] { (label) }
                }
            } }
            " "
            button type="submit" { "Search" }
        }
    }
}

fn activity_row(a: &Activity) -> Markup {
    html! {
        tr class=[a.failed().then_some("failed")] {
            td { (when(a.at_ms)) }
            td { (a.tenant) }
            td { (a.client_auth) " " (a.client) }
            td { (a.operation) }
            td { (a.resource_type) " " (a.resource_id.as_deref().unwrap_or("")) }
            td { (a.user_name.as_deref().unwrap_or("")) }
            td { (a.status) " " (a.scim_type.as_deref().unwrap_or("")) }
            td { (a.calls.len() as u64 + a.calls_omitted) }
            td { a href={ "/activity/" (a.id) } { "details" } }
        }
    }
}

/// One recorded request with its downstream calls.
pub async fn activity_entry(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Response {
    let entry = match console.store.activity.activity_by_id(id).await {
        Ok(Some(entry)) => entry,
        Ok(None) => {
            let mut response = page(
                &console,
                &session,
                "Not found",
                html! { p { "No such request is recorded (it may have been pruned)." } },
            );
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        }
        Err(e) => {
            return page(
                &console,
                &session,
                "Activity",
                html! { p.failed { "Cannot read the activity: " (e) } },
            );
        }
    };
    let user_link = entry
        .user_name
        .as_deref()
        .or(entry.resource_id.as_deref())
        .map(|user| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("tenant", &entry.tenant)
                .append_pair("user", user);
            format!("/activity?{}", query.finish())
        });
    let body = html! {
        table {
            tr { th { "Time" } td { (when(entry.at_ms)) } }
            tr { th { "Tenant" } td { (entry.tenant) } }
            tr { th { "Client" } td { (entry.client_auth) " " (entry.client) } }
            tr { th { "Operation" } td { (entry.operation) " " (entry.resource_type) } }
            tr { th { "Resource id" } td { (entry.resource_id.as_deref().unwrap_or("-")) } }
            tr { th { "userName" } td { (entry.user_name.as_deref().unwrap_or("-"))
                @if let Some(link) = &user_link { " " a href=(link) { "history" } } } }
            tr { th { "Status" } td class=[entry.failed().then_some("failed")] { (entry.status) } }
            tr { th { "scimType" } td { (entry.scim_type.as_deref().unwrap_or("-")) } }
            tr { th { "Detail" } td { (entry.detail.as_deref().unwrap_or("-")) } }
            tr { th { "Request id" } td { (entry.request_id) } }
            tr { th { "Took" } td { (entry.duration_ms) " ms" } }
        }
        h2 { "Downstream calls" }
        @if entry.calls.is_empty() { p { "None." } }
        @else {
            table {
                tr { th { "Method" } th { "Path" } th { "Status" } th { "ms" } }
                @for c in &entry.calls {
                    tr class=[c.status.is_none_or(|s| s >= 400).then_some("failed")] {
                        td { (c.method) } td { (c.path) }
                        td { (c.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string())) }
                        td { (c.ms) }
                    }
                }
            }
            @if entry.calls_omitted > 0 { p { "and " (entry.calls_omitted) " more calls." } }
        }
    };
    page(&console, &session, &format!("Request {}", entry.id), body)
}

fn token_state(token: &IssuedToken, now: i64) -> Markup {
    html! {
        @if token.revoked_at.is_some() { "revoked" }
        @else if !token.is_valid_at(now) { "expired" }
        @else if token.expires_at.is_some_and(|e| e - now < EXPIRY_WARNING_S) {
            span.warn { "expires soon" }
        } @else { "valid" }
    }
}

/// Every tenant, its authentication and its issued tokens, with forms to create and revoke.
pub async fn tokens(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
) -> Response {
    tokens_page(&console, &session, None).await
}

async fn tokens_page(
    console: &Console,
    session: &Session,
    created: Option<(&str, &issued::NewToken)>,
) -> Response {
    let now = now();
    let csrf = console.sessions.csrf(session);
    let mut tenants = Vec::new();
    let config = console.config();
    for tenant in &config.tenants {
        let tokens = if tenant.auth.issued_tokens {
            Some(console.store.tokens.list_tokens(&tenant.name).await)
        } else {
            None
        };
        tenants.push((tenant, tokens));
    }
    let body = html! {
        @if let Some((tenant, new)) = created {
            div.secret {
                p { "New token for " (tenant) " (" (new.record.name) "). Copy it now: it is shown only once." }
                p { code id="new-token" { (new.secret) } }
            }
        }
        @for (tenant, tokens) in &tenants {
            h2 { (tenant.name) }
            p { "Tenant URL path " code { (tenant.base_path) } "; clients authenticate with: "
                (auth_summary(&tenant.auth)) }
            @match tokens {
                None => p { "Issued tokens are off for this tenant (auth.issued_tokens)." },
                Some(Err(e)) => p.failed { "Cannot read the tokens: " (e) },
                Some(Ok(list)) => {
                    table {
                        tr { th { "Name" } th { "Prefix" } th { "Created" } th { "Expires" } th { "Last used" } th { "State" } th { "" } }
                        @for t in list {
                            tr {
                                td { (t.name) } td { code { (t.prefix) "…" } }
                                td { (when_s(Some(t.created_at))) } td { (when_s(t.expires_at)) }
                                td { (when_s(t.last_used_at)) } td { (token_state(t, now)) }
                                td {
                                    @if t.revoked_at.is_none() {
                                        form method="post" action="/tokens/revoke" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="tenant" value=(tenant.name);
                                            input type="hidden" name="id" value=(t.id);
                                            button type="submit" name="revoke" value=(t.name) { "Revoke" }
                                        }
                                    }
                                    @if t.is_valid_at(now) {
                                        form method="post" action="/tokens/rotate" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="tenant" value=(tenant.name);
                                            input type="hidden" name="id" value=(t.id);
                                            button type="submit" { "Rotate (old one valid 24 h more)" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    form method="post" action="/tokens/create" {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="tenant" value=(tenant.name);
                        label { "Name " input type="text" name="name" required; }
                        " "
                        label { "Expires in days " input type="number" name="days" min="1" value="90"; }
                        " "
                        button type="submit" { "Create token" }
                    }
                }
            }
        }
    };
    page(console, session, "Tenants and tokens", body)
}

/// How a tenant's clients may authenticate, without any secret or digest.
fn auth_summary(auth: &crate::settings::ClientAuthConfig) -> String {
    let mut ways = Vec::new();
    if !auth.bearer_sha256.is_empty() {
        ways.push(format!(
            "{} configured bearer token(s)",
            auth.bearer_sha256.len()
        ));
    }
    if auth.issued_tokens {
        ways.push("issued tokens".to_owned());
    }
    if let Some(basic) = &auth.basic {
        ways.push(format!("Basic (user {})", basic.username));
    }
    if auth.jwt.is_some() {
        ways.push("JWT".to_owned());
    }
    ways.join(", ")
}

/// The create form.
#[derive(Deserialize)]
pub struct CreateForm {
    tenant: String,
    name: String,
    #[serde(default)]
    days: String,
}

/// Issues a token and shows it once.
pub async fn create_token(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
    Form(form): Form<CreateForm>,
) -> Response {
    let config = console.config();
    let Some(tenant) = config
        .tenants
        .iter()
        .find(|t| t.name == form.tenant && t.auth.issued_tokens)
    else {
        return bad_request(&console, &session, "no such tenant with issued tokens");
    };
    let name = form.name.trim();
    if name.is_empty() || name.len() > 64 {
        return bad_request(
            &console,
            &session,
            "give the token a name of 1 to 64 characters",
        );
    }
    let expires = match form.days.trim() {
        "" => None,
        days => match days.parse::<u64>() {
            Ok(d) if (1..=3650).contains(&d) => Some(Duration::from_secs(d * 86_400)),
            _ => return bad_request(&console, &session, "expiry: 1 to 3650 days"),
        },
    };
    let new = match issued::create(console.store.tokens.as_ref(), &tenant.name, name, expires).await
    {
        Ok(new) => new,
        Err(e) => return bad_request(&console, &session, &format!("cannot issue the token: {e}")),
    };
    tracing::info!(tenant = %tenant.name, name, id = %new.record.id, "token issued from the console");
    tokens_page(&console, &session, Some((&tenant.name, &new))).await
}

fn bad_request(console: &Console, session: &Session, message: &str) -> Response {
    let mut response = page(
        console,
        session,
        "Not done",
        html! { p.failed { (message) } p { a href="/tokens" { "back" } } },
    );
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

/// How long a rotated token still works, so the SCIM client can switch without a failed call.
const ROTATION_OVERLAP: Duration = Duration::from_secs(86_400);

/// Rotates a valid token: a successor with the same name and expiry length, shown once; the
/// old one works for [`ROTATION_OVERLAP`] more.
pub async fn rotate_token(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
    Form(form): Form<TokenForm>,
) -> Response {
    let tokens = console.store.tokens.as_ref();
    let old = match tokens.list_tokens(&form.tenant).await {
        Ok(list) => list
            .into_iter()
            .filter(|t| t.id == form.id && t.is_valid_at(now()))
            .collect::<Vec<_>>(),
        Err(e) => return bad_request(&console, &session, &format!("cannot read the tokens: {e}")),
    };
    let lifetime = old
        .first()
        .and_then(|t| t.expires_at.map(|e| e - t.created_at))
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs);
    match issued::replace(tokens, &form.tenant, &old, ROTATION_OVERLAP, lifetime).await {
        Ok(new) => {
            tracing::info!(tenant = %form.tenant, old = %form.id, new = %new.record.id, "token rotated from the console");
            tokens_page(&console, &session, Some((&form.tenant, &new))).await
        }
        Err(e) => bad_request(&console, &session, &e),
    }
}

/// The revoke and rotate forms.
#[derive(Deserialize)]
pub struct TokenForm {
    tenant: String,
    id: String,
}

/// Revokes a token at once: the next SCIM request with it is refused.
pub async fn revoke_token(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
    Form(form): Form<TokenForm>,
) -> Response {
    match console
        .store
        .tokens
        .revoke_token(&form.tenant, &form.id, now())
        .await
    {
        Ok(_) => {
            tracing::info!(tenant = %form.tenant, id = %form.id, "token revoked from the console");
            redirect("/tokens")
        }
        Err(e) => bad_request(&console, &session, &format!("cannot revoke: {e}")),
    }
}

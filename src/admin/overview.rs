//! The Overview page: is provisioning healthy for each tenant? Requests and errors over the
//! last hour and day and the last request seen (from the activity store), the downstream's
//! breaker and pace now (from the live tenant), the store's readiness, and which
//! configuration is served and how the last reload went.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::response::Response;
use maud::{Markup, html};

use super::pages::{page, when, when_s};
use super::session::Session;
use super::{Console, now};
use crate::downstream::pacing::PacingSettings;
use crate::server::AppState;
use crate::server::serving::Serving;
use crate::store::{Activity, ActivityCounts, ActivityFilter, StoreError};

/// One tenant's row.
struct TenantRow {
    state: Arc<AppState>,
    hour: Result<ActivityCounts, StoreError>,
    day: Result<ActivityCounts, StoreError>,
    last: Result<Option<Activity>, StoreError>,
}

/// Per tenant: activity, downstream protection; the store; the configuration served.
pub async fn overview(
    State(console): State<Arc<Console>>,
    Extension(session): Extension<Session>,
) -> Response {
    let serving = console.serving.now();
    let now_ms = now().saturating_mul(1000);
    let log = &console.store.activity;
    let mut rows = Vec::new();
    for state in &serving.tenants {
        let newest = ActivityFilter {
            tenant: Some(state.tenant.clone()),
            ..ActivityFilter::default()
        };
        rows.push(TenantRow {
            state: state.clone(),
            hour: log.activity_counts(&state.tenant, now_ms - 3_600_000).await,
            day: log
                .activity_counts(&state.tenant, now_ms - 86_400_000)
                .await,
            last: log
                .activity_page(&newest, 0, 1)
                .await
                .map(|mut page| page.pop()),
        });
    }
    let store = console.store.ping().await;
    let body = html! {
        (configuration(&serving))
        p { "Store (" (console.store.backend.backend()) "): "
            @match &store { Ok(()) => "ready", Err(e) => span.failed { "not ready: " (e) } } }
        table {
            tr { th { "Tenant" } th { "Tenant URL path" } th { "Requests, last hour" } th { "Errors, last hour" }
                 th { "Requests, last day" } th { "Errors, last day" } th { "Last request" }
                 th { "Downstream breaker" } th { "Downstream pace" } th { "" } }
            @for row in &rows { (tenant_row(row)) }
        }
    };
    page(&console, &session, "Overview", body)
}

/// The configuration's version, since when it is served, and the last reload's outcome.
fn configuration(serving: &Serving) -> Markup {
    html! {
        p { "Configuration " code { (serving.config.text.version()) }
            ", served since " (when_s(Some(serving.since))) ". "
            a href="/mapping" { "View it and try a request" } }
        @match &serving.last_reload {
            None => p { "Not reloaded since start." },
            Some(r) => @match &r.error {
                None => p { "Last reload: " (when_s(Some(r.at))) " (" (r.trigger) "), taken." },
                Some(e) => p.failed { "Last reload: " (when_s(Some(r.at))) " (" (r.trigger)
                    "), refused; the configuration above is still served: " (e) },
            },
        }
    }
}

fn tenant_row(row: &TenantRow) -> Markup {
    let state = &row.state;
    let protection = state.users.api.client.protection();
    html! {
        tr {
            td { (state.tenant) }
            td { (state.base_path) }
            @for counts in [&row.hour, &row.day] {
                @match counts {
                    Ok(c) => {
                        td { (c.requests) }
                        td class=[(c.errors > 0).then_some("failed")] { (c.errors) }
                    }
                    Err(e) => { td colspan="2" .failed { (e) } }
                }
            }
            td { @match &row.last {
                Ok(Some(a)) => { (when(a.at_ms)) " " (a.operation) " by " (a.client_auth) " " (a.client) }
                Ok(None) => "none recorded",
                Err(e) => span.failed { (e) },
            } }
            td class=[(!matches!(protection.breaker, crate::downstream::breaker::BreakerStatus::Closed { failures: 0 })).then_some("failed")] {
                (protection.breaker.to_string())
            }
            td {
                (pace(&state.settings.downstream.pacing))
                @if let Some(paused) = protection.paused_for {
                    br; span.warn { "paused " (paused.as_secs() + 1) " s (Retry-After)" }
                }
            }
            td { a href={ "/activity?tenant=" (state.tenant) } { "activity" } }
        }
    }
}

/// `rate_limit` and `max_concurrent` as configured.
fn pace(pacing: &PacingSettings) -> String {
    let rate = pacing.rate.map_or_else(
        || "unlimited rate".to_owned(),
        |r| format!("{}/s, burst {}", r.per_second, r.burst),
    );
    match pacing.max_concurrent {
        Some(n) => format!("{rate}; {n} at once"),
        None => rate,
    }
}

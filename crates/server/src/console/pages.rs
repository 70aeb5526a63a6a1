//! The console's pages (everything but the mapping screen): each reads through the functions the
//! JSON API uses and renders HTML.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use maud::{html, Markup};
use mspbridge_core::alert::{Alert as CoreAlert, AlertKey};
use mspbridge_core::config::{Config, SourceKind};
use mspbridge_core::events;
use mspbridge_core::rules::routing::{self, Routing};
use mspbridge_store::{Alert, AlertState, ReportId, RuleDecision};
use serde::Deserialize;

use super::layout::{self, button, chart, csrf, page, table_wrap, time};
use super::session::{self, Sessions, LOGIN_COOKIE};
use super::{cookie, over_tls, set_cookie, Ctx};
use crate::api::views::{self, AlertQuery, EventQuery, EventView};
use crate::api::{ApiError, ApiState};
use crate::reports::charts::{daily_columns, horizontal_bars};

/// Days the overview's charts cover.
pub const OVERVIEW_DAYS: i64 = 14;

/// Whether event `code` is shown among the overview's failures: every failure of the catalogue,
/// and unrouted alerts.
pub fn is_failure(code: u32) -> bool {
    code == events::ALERT_UNROUTED || events::describe(code).is_some_and(|info| info.failure)
}

fn failed(ctx: &Ctx, title: &str, error: ApiError) -> Response {
    page(
        ctx,
        title,
        html! { p.flash.bad role="alert" { (error.message) } },
    )
}

fn state_badge(state: &str) -> Markup {
    let class = match state {
        "processed" | "done" | "published" | "open" | "mapped" | "auto" | "manual" | "ok" => {
            "badge b-ok"
        }
        "unrouted" | "dead" | "failed" | "refused" => "badge b-bad",
        "queued" | "pending" | "running" | "pending_create" | "unpublished" => "badge b-warn",
        _ => "badge b-none",
    };
    html! { span class=(class) { (state) } }
}

/// A link to a ConnectWise ticket in the configured site's web client.
pub fn ticket_link(config: &Config, ticket_id: i64) -> Markup {
    match &config.connectwise {
        Some(connectwise) => {
            let codebase = connectwise
                .codebase
                .as_deref()
                .unwrap_or("v4_6_release")
                .trim_matches('/');
            let mut url = connectwise.site.clone();
            url.set_path(&format!(
                "{codebase}/services/system_io/Service/fv_sr100_request.rsp"
            ));
            url.query_pairs_mut()
                .append_pair("service_recid", &ticket_id.to_string())
                .append_pair("companyName", &connectwise.company_id);
            html! { a href=(url.as_str()) rel="noopener noreferrer" target="_blank" { "#" (ticket_id) } }
        }
        None => html! { "#" (ticket_id) },
    }
}

fn per_day(events: &[EventView], now: DateTime<Utc>) -> Vec<(NaiveDate, u64)> {
    let first = (now - Duration::days(OVERVIEW_DAYS - 1)).date_naive();
    let mut days: BTreeMap<NaiveDate, u64> = (0..OVERVIEW_DAYS)
        .map(|offset| (first + Duration::days(offset), 0))
        .collect();
    for event in events {
        if let Some(count) = days.get_mut(&event.at.date_naive()) {
            *count += 1;
        }
    }
    days.into_iter().collect()
}

async fn recent(
    state: &ApiState,
    code: u32,
    since: DateTime<Utc>,
) -> Result<Vec<EventView>, ApiError> {
    views::events(
        state.store(),
        EventQuery {
            code: Some(code),
            since: Some(since.to_rfc3339()),
            limit: Some(views::MAX_LIMIT),
            ..EventQuery::default()
        },
        state.now(),
    )
    .await
}

/// `GET /`: the overview.
pub async fn overview(State(state): State<ApiState>, Extension(ctx): Extension<Ctx>) -> Response {
    match overview_body(&state, &ctx).await {
        Ok(body) => page(&ctx, "Overview", body),
        Err(error) => failed(&ctx, "Overview", error),
    }
}

async fn overview_body(state: &ApiState, ctx: &Ctx) -> Result<Markup, ApiError> {
    let store = state.store();
    let now = state.now();
    let since = now - Duration::days(OVERVIEW_DAYS);
    let by_state = store
        .count_alerts_by_state()
        .await
        .map_err(|e| ApiError::store("counting alerts", &e))?;
    let alerts_in = |wanted: AlertState| {
        by_state
            .iter()
            .filter(|(state, _)| *state == wanted)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    let queue = views::queue(store, Some(1)).await?;
    let created = recent(state, events::TICKET_CREATED, since).await?;
    let updated = recent(state, events::TICKET_UPDATED, since).await?;
    let reopened = recent(state, events::TICKET_REOPENED, since).await?;
    let floods = recent(state, events::FLOOD_TICKET_OPENED, since).await?;
    let mut flood_clients: BTreeMap<String, u64> = BTreeMap::new();
    for event in &floods {
        *flood_clients
            .entry(event.client.clone().unwrap_or_else(|| "(none)".into()))
            .or_default() += 1;
    }
    let mut flood_clients: Vec<(String, u64)> = flood_clients.into_iter().collect();
    flood_clients.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let latest = views::events(
        store,
        EventQuery {
            limit: Some(500),
            ..EventQuery::default()
        },
        now,
    )
    .await?;
    let failures: Vec<&EventView> = latest
        .iter()
        .filter(|event| is_failure(event.code))
        .take(10)
        .collect();
    let connection_failures: Vec<&EventView> = latest
        .iter()
        .filter(|event| event.code == events::CONNECTION_FAILED)
        .collect();
    let cards = [
        ("Alerts queued", alerts_in(AlertState::Queued)),
        ("Alerts processed", alerts_in(AlertState::Processed)),
        ("Alerts unrouted", alerts_in(AlertState::Unrouted)),
        (
            "Tickets created (14 d)",
            u64::try_from(created.len()).unwrap_or(0),
        ),
        (
            "Tickets updated (14 d)",
            u64::try_from(updated.len()).unwrap_or(0),
        ),
        (
            "Tickets reopened (14 d)",
            u64::try_from(reopened.len()).unwrap_or(0),
        ),
        ("Jobs queued", queue.depth.queued),
        ("Jobs running", queue.depth.running),
        ("Dead letters", queue.depth.dead),
    ];
    Ok(html! {
        div.cards {
            @for (label, n) in cards {
                div.card { span.n { (n) } span.l { (label) } }
            }
        }
        div.grid2 {
            section.panel { h2 { "Tickets created per day" } (chart(daily_columns("Tickets created per day", &per_day(&created, now)))) }
            section.panel { h2 { "Tickets updated per day" } (chart(daily_columns("Tickets updated per day", &per_day(&updated, now)))) }
            section.panel { h2 { "Tickets reopened per day" } (chart(daily_columns("Tickets reopened per day", &per_day(&reopened, now)))) }
            section.panel {
                h2 { "Flood tickets per client" }
                @if flood_clients.is_empty() {
                    p { "No flood ticket in the last " (OVERVIEW_DAYS) " days." }
                } @else {
                    (chart(horizontal_bars("Flood tickets per client, last 14 days", &flood_clients)))
                }
                (chart(daily_columns("Flood tickets per day", &per_day(&floods, now))))
            }
        }
        h2 { "Connections" }
        (connections(state.config(), ctx, &connection_failures))
        h2 { "Last failures" }
        @if failures.is_empty() {
            p { "No failure recorded." }
        } @else {
            (event_table(&failures.into_iter().cloned().collect::<Vec<_>>(), "Last failures"))
        }
    })
}

fn connections(config: &Config, ctx: &Ctx, failures: &[&EventView]) -> Markup {
    let mut rows: Vec<(&str, String, String, String)> = Vec::new();
    if let Some(connectwise) = &config.connectwise {
        rows.push((
            "connectwise",
            "connectwise".into(),
            "ConnectWise Manage".into(),
            connectwise.site.to_string(),
        ));
    }
    for source in &config.sources {
        if source.kind == SourceKind::NetwrixAuditor {
            rows.push((
                "auditor",
                source.name.clone(),
                format!("Netwrix Auditor source {}", source.name),
                source
                    .url
                    .as_ref()
                    .map(|url| url.to_string())
                    .unwrap_or_default(),
            ));
        }
    }
    for instance in &config.itglue {
        rows.push((
            "itglue",
            instance.name.clone(),
            format!("IT Glue instance {}", instance.name),
            instance.base_url().to_string(),
        ));
    }
    html! {
        @if rows.is_empty() {
            p { "No outside system is configured." }
        } @else {
            (table_wrap("Connections", html! {
                table {
                    thead { tr { th { "Connection" } th { "Address" } th { "Last failure" } th { span.sr { "Action" } } } }
                    tbody {
                        @for (kind, name, label, url) in &rows {
                            @let last = failures.iter().find(|event| {
                                event.subject.as_deref() == Some(name.as_str())
                                    || event.details.get("system").and_then(|v| v.as_str()) == Some(name.as_str())
                            });
                            tr {
                                td { (label) }
                                td { (url) }
                                td {
                                    @match last {
                                        Some(event) => { span.badge.b-bad { "failed" } " " (time(event.at)) ": " (event.message) }
                                        None => { span.badge.b-none { "no failure recorded" } }
                                    }
                                }
                                td { (button(ctx, "/connections/test", "Test connection", &[("kind", kind), ("name", name)])) }
                            }
                        }
                    }
                }
            }))
        }
    }
}

fn event_table(events: &[EventView], label: &str) -> Markup {
    table_wrap(
        label,
        html! {
            table {
                thead { tr { th { "When" } th { "Event" } th { "Client" } th { "Subject" } th { "Message" } } }
                tbody {
                    @for event in events {
                        tr {
                            td { (time(event.at)) }
                            td { (event.code) " " span.note { (event.name) } }
                            td { (event.client.as_deref().unwrap_or("")) }
                            td { (event.subject.as_deref().unwrap_or("")) }
                            td { (event.message) }
                        }
                    }
                }
            }
        },
    )
}

/// Filters of the alerts page (empty fields mean "any").
#[derive(Debug, Default, Deserialize)]
pub struct AlertsForm {
    client: Option<String>,
    source: Option<String>,
    state: Option<String>,
    since: Option<String>,
    after: Option<i64>,
}

fn some(text: &Option<String>) -> Option<String> {
    text.as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

fn select(name: &str, label: &str, options: &[String], chosen: Option<&str>, any: &str) -> Markup {
    html! {
        label {
            (label)
            select name=(name) {
                option value="" { (any) }
                @for option in options {
                    @if Some(option.as_str()) == chosen {
                        option value=(option) selected { (option) }
                    } @else {
                        option value=(option) { (option) }
                    }
                }
            }
        }
    }
}

/// Rows per page of the alerts listing.
pub const ALERTS_PAGE: u32 = 200;

/// `GET /alerts`.
pub async fn alerts(
    State(state): State<ApiState>,
    Extension(ctx): Extension<Ctx>,
    Query(form): Query<AlertsForm>,
) -> Response {
    let since = match some(&form.since) {
        None => None,
        Some(text) => match views::parse_since(&text, state.now()) {
            Ok(since) => Some(since),
            Err(error) => return failed(&ctx, "Alerts", error),
        },
    };
    let query = AlertQuery {
        state: some(&form.state),
        client: some(&form.client),
        source: some(&form.source),
        after: form.after,
        limit: Some(ALERTS_PAGE),
    };
    let listed = match views::alerts(state.store(), query.clone()).await {
        Ok(listed) => listed,
        Err(error) => return failed(&ctx, "Alerts", error),
    };
    let full_page = listed.len() == ALERTS_PAGE as usize;
    let last_id = listed.last().map(|alert| alert.id);
    let shown: Vec<_> = listed
        .into_iter()
        .filter(|alert| since.is_none_or(|since| alert.received_at >= since))
        .collect();
    let config = state.config();
    let clients: Vec<String> = config.clients.iter().map(|c| c.name.clone()).collect();
    let sources: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
    let states: Vec<String> = ["queued", "processed", "unrouted"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let next = last_id.filter(|_| full_page).map(|after| {
        let mut pairs = vec![("after".to_string(), after.to_string())];
        for (name, value) in [
            ("client", &query.client),
            ("source", &query.source),
            ("state", &query.state),
            ("since", &some(&form.since)),
        ] {
            if let Some(value) = value {
                pairs.push((name.to_string(), value.clone()));
            }
        }
        format!(
            "/alerts?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    });
    let body = html! {
        form.filters method="get" action="/alerts" {
            (select("client", "Client", &clients, query.client.as_deref(), "any client"))
            (select("source", "Source", &sources, query.source.as_deref(), "any source"))
            (select("state", "State", &states, query.state.as_deref(), "any state"))
            label { "Received since (24h, 7d or a time)" input type="text" name="since" value=(form.since.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
        }
        p.note { "Oldest first, " (ALERTS_PAGE) " per page." }
        (alert_table(&shown))
        @if let Some(next) = next { p { a href=(next) { "Next page" } } }
    };
    page(&ctx, "Alerts", body)
}

fn alert_table(alerts: &[views::AlertView]) -> Markup {
    table_wrap(
        "Alerts",
        html! {
            table {
                thead { tr { th { "Id" } th { "Alert" } th { "Client" } th { "Source" } th { "State" } th { "Received" } } }
                tbody {
                    @for alert in alerts {
                        tr {
                            td.num { a href=(format!("/alerts/{}", alert.id)) { (alert.id) } }
                            td { a href=(format!("/alerts/{}", alert.id)) { (alert.alert_name) } }
                            td { (alert.client.as_deref().unwrap_or("—")) }
                            td { (alert.source) }
                            td { (state_badge(&alert.state)) }
                            td { (time(alert.received_at)) }
                        }
                    }
                }
            }
        },
    )
}

/// The alert a stored row holds, as the engine reads it.
fn decode(stored: &Alert) -> CoreAlert {
    crate::engine::decode_alert(stored)
}

/// `GET /alerts/{id}`.
pub async fn alert(
    State(state): State<ApiState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<i64>,
) -> Response {
    let stored = match state.store().get_alert(id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            return failed(
                &ctx,
                "Alert",
                ApiError::new(
                    crate::api::ErrorCode::NotFound,
                    format!("alert {id} does not exist"),
                ),
            )
        }
        Err(error) => return failed(&ctx, "Alert", ApiError::store("reading an alert", &error)),
    };
    let config = state.config();
    let alert = decode(&stored);
    let source = config.source(&alert.source);
    let route = routing::route(&alert, source, config);
    let detail = match views::alert_detail(state.store(), id).await {
        Ok(detail) => detail,
        Err(error) => return failed(&ctx, "Alert", error),
    };
    // The incident its decisions name; for an alert not decided yet, the one routing gives now.
    let key = match (&detail.incident_key, &route) {
        (Some(key), _) => Some(AlertKey::from_stored(key.clone())),
        (None, Routing::Routed { client, .. }) => {
            let template = source.and_then(|source| source.alert_key.as_ref());
            Some(AlertKey::for_alert(&alert, client, template))
        }
        (None, Routing::Unrouted { .. }) => None,
    };

    let incident = match &key {
        Some(key) => state
            .store()
            .get_incident(key.as_str())
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let ticket_id = detail
        .ticket_id
        .or_else(|| incident.as_ref().and_then(|incident| incident.ticket_id));
    let subject = format!("alert {id}");
    let related: Vec<EventView> = match views::events(
        state.store(),
        EventQuery {
            client: stored.client.clone(),
            since: Some((stored.received_at - Duration::minutes(5)).to_rfc3339()),
            limit: Some(views::MAX_LIMIT),
            ..EventQuery::default()
        },
        state.now(),
    )
    .await
    {
        Ok(events) => events
            .into_iter()
            .filter(|event| {
                event.subject.as_deref() == Some(subject.as_str())
                    || event.details.get("alert_id").and_then(|v| v.as_i64()) == Some(id)
                    || key.as_ref().is_some_and(|key| {
                        event.details.get("incident_key").and_then(|v| v.as_str())
                            == Some(key.as_str())
                    })
                    || ticket_id.is_some_and(|ticket| {
                        event.subject.as_deref() == Some(format!("ticket {ticket}").as_str())
                            || event.details.get("ticket_id").and_then(|v| v.as_i64())
                                == Some(ticket)
                    })
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let records = serde_json::to_string_pretty(&alert.records).unwrap_or_default();
    let fields = serde_json::to_string_pretty(&alert.fields).unwrap_or_default();
    let body = html! {
        dl.facts {
            dt { "Name" } dd { (stored.alert_name) }
            dt { "Source" } dd { (stored.source) " (its id " (stored.source_alert_id) ")" }
            dt { "Client" } dd { (stored.client.as_deref().unwrap_or("—")) }
            dt { "State" } dd { (state_badge(stored.state.as_str())) }
            dt { "Occurred" } dd { (time(stored.occurred_at)) }
            dt { "Received" } dd { (time(stored.received_at)) }
        }
        h2 { "Rule decisions" }
        @if detail.decisions.is_empty() {
            p { "No rule has decided this alert yet: it is " (stored.state.as_str()) "." }
        } @else {
            (decision_table(&detail.decisions))
        }
        h2 { "Ticket" }
        dl.facts {
            @if let Some(key) = &key {
                dt { "Incident key" } dd { a href=(format!("/incidents?key={}", urlencode(key.as_str()))) { (key.as_str()) } }
            }
            dt { "Ticket" } dd {
                @match ticket_id {
                    Some(ticket) => { (ticket_link(config, ticket)) }
                    None => { "none yet" }
                }
            }
            @if let Some(incident) = &incident {
                dt { "Incident" } dd {
                    (state_badge(&incident.status)) " "
                    (incident.alert_count) " alert(s) since " (time(incident.first_alert_at))
                    @if incident.flood { " · flood ticket" }
                    @if incident.buffered > 0 { " · " (incident.buffered) " waiting to be consolidated" }
                    @if let Some(current) = incident.ticket_id.filter(|current| Some(*current) != ticket_id) {
                        " · its current ticket: " (ticket_link(config, current))
                    }
                }
            }
        }
        h2 { "Routing now" }
        p.note { "How the rules route this alert under the running configuration (a change since it was decided shows here, not above)." }
        dl.facts {
            @match &route {
                Routing::Routed { client, reason } => {
                    dt { "Routing" } dd { "routed to " strong { (client) } ": " (reason) }
                }
                Routing::Unrouted { reason } => {
                    dt { "Routing" } dd { span.badge.b-bad { "unrouted" } " " (reason) }
                }
            }
        }
        h2 { "Events about this alert and its ticket" }
        @if related.is_empty() { p { "No event names this alert or its ticket." } } @else { (event_table(&related, "Events about this alert and its ticket")) }
        h2 { "Activity records" }
        pre { (records) }
        h2 { "Fields" }
        pre { (fields) }
    };
    page(&ctx, &format!("Alert {id}"), body)
}

/// An alert's rule decisions, oldest first, each with its reason.
fn decision_table(decisions: &[RuleDecision]) -> Markup {
    table_wrap(
        "Rule decisions, oldest first",
        html! {
            table.decisions {
                caption { "Rule decisions, oldest first, each with its reason" }
                thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Rule" } th scope="col" { "Outcome" } th scope="col" { "Reason" } } }
                tbody {
                    @for (n, decision) in decisions.iter().enumerate() {
                        tr {
                            td.num { (n + 1) }
                            td { (time(decision.at)) }
                            td { (decision.rule.as_str()) }
                            td { strong { (decision.outcome) } }
                            td { (decision.reason) }
                        }
                    }
                }
            }
        },
    )
}

pub(crate) fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .to_string()
}

/// Filters of the incidents page.
#[derive(Debug, Default, Deserialize)]
pub struct IncidentsForm {
    client: Option<String>,
    key: Option<String>,
}

/// `GET /incidents`.
pub async fn incidents(
    State(state): State<ApiState>,
    Extension(ctx): Extension<Ctx>,
    Query(form): Query<IncidentsForm>,
) -> Response {
    let client = some(&form.client);
    let listed = match views::incidents(state.store(), client.clone(), Some(views::MAX_LIMIT)).await
    {
        Ok(listed) => listed,
        Err(error) => return failed(&ctx, "Incidents", error),
    };
    let key = some(&form.key);
    let shown: Vec<_> = listed
        .into_iter()
        .filter(|incident| {
            key.as_ref()
                .is_none_or(|key| incident.key.contains(key.as_str()))
        })
        .collect();
    let config = state.config();
    let clients: Vec<String> = config.clients.iter().map(|c| c.name.clone()).collect();
    let body = html! {
        form.filters method="get" action="/incidents" {
            (select("client", "Client", &clients, client.as_deref(), "any client"))
            label { "Key contains" input type="text" name="key" value=(key.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
        }
        (table_wrap("Incidents", html! {
            table {
                thead { tr { th { "Key" } th { "Client" } th { "State" } th { "Ticket" } th { "Alerts" } th { "First" } th { "Last" } th { "Waiting" } } }
                tbody {
                    @for incident in &shown {
                        tr {
                            td { (incident.key) @if incident.flood { " " span.badge.b-warn { "flood" } } }
                            td { (incident.client.as_deref().unwrap_or("—")) }
                            td { (state_badge(&incident.state)) }
                            td { @match incident.ticket_id { Some(ticket) => { (ticket_link(config, ticket)) } None => { "—" } } }
                            td.num { (incident.alert_count) }
                            td { (time(incident.first_alert_at)) }
                            td { (time(incident.last_alert_at)) }
                            td.num { (incident.pending_alerts) @if let Some(at) = incident.flush_at { " until " (time(at)) } }
                        }
                    }
                }
            }
        }))
        p.note { "A ticket's history is its events: " a href="/events?code=4100" { "created" } ", " a href="/events?code=4101" { "updated" } ", " a href="/events?code=4102" { "reopened" } "." }
    };
    page(&ctx, "Incidents", body)
}

/// `GET /queue`.
pub async fn queue(State(state): State<ApiState>, Extension(ctx): Extension<Ctx>) -> Response {
    let queue = match views::queue(state.store(), Some(views::MAX_LIMIT)).await {
        Ok(queue) => queue,
        Err(error) => return failed(&ctx, "Queue", error),
    };
    let body = html! {
        div.cards {
            div.card { span.n { (queue.depth.queued) } span.l { "queued" } }
            div.card { span.n { (queue.depth.running) } span.l { "running" } }
            div.card { span.n { (queue.depth.dead) } span.l { "dead letters" } }
        }
        @if queue.depth.dead > 0 {
            p { (button(&ctx, "/queue/retry-all", "Retry all dead jobs", &[])) }
        }
        (table_wrap("Jobs", html! {
            table {
                thead { tr { th { "Id" } th { "Kind" } th { "State" } th { "Incident" } th { "Attempts" } th { "Next run" } th { "Last error" } th { span.sr { "Action" } } } }
                tbody {
                    @for job in &queue.jobs {
                        tr {
                            td.num { (job.id) }
                            td { (job.kind) }
                            td { (state_badge(&job.state)) }
                            td { (job.serial_key.as_deref().unwrap_or("")) }
                            td.num { (job.attempts) }
                            td { (time(job.run_at)) }
                            td { (job.last_error.as_deref().unwrap_or("")) }
                            td { @if job.state == "dead" { (button(&ctx, &format!("/queue/{}/retry", job.id), "Retry", &[])) } }
                        }
                    }
                }
            }
        }))
    };
    page(&ctx, "Queue", body)
}

/// `GET /clients`: effective ConnectWise settings and unrouted alerts.
pub async fn clients(State(state): State<ApiState>, Extension(ctx): Extension<Ctx>) -> Response {
    let config = state.config();
    let clients = views::clients(config);
    let sources = views::sources(config);
    let unrouted = match views::alerts(
        state.store(),
        AlertQuery {
            state: Some("unrouted".into()),
            limit: Some(ALERTS_PAGE),
            ..AlertQuery::default()
        },
    )
    .await
    {
        Ok(unrouted) => unrouted,
        Err(error) => return failed(&ctx, "Clients & routing", error),
    };
    let text = |value: Option<i32>| value.map(|v| v.to_string()).unwrap_or_else(|| "—".into());
    let body = html! {
        h2 { "Clients" }
        (table_wrap("Clients", html! {
            table {
                thead { tr { th { "Client" } th { "Email" } th { "Company" } th { "Board" } th { "Team" } th { "Priority" } th { "IT Glue" } } }
                tbody {
                    @for client in &clients {
                        tr {
                            td { a href=(format!("/alerts?client={}", urlencode(&client.name))) { (client.name) } }
                            td { (client.email.as_deref().unwrap_or("—")) }
                            td.num { (text(client.company_id)) }
                            td.num { (text(client.board_id)) }
                            td.num { (text(client.team_id)) }
                            td.num { (text(client.priority_id)) }
                            td { (client.itglue.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }))
        p.note { "The ConnectWise settings each client's tickets get: the client's own, else the defaults of [connectwise.ticket]." }
        h2 { "Sources" }
        (table_wrap("Sources", html! {
            table {
                thead { tr { th { "Source" } th { "Kind" } th { "Address" } th { "Default client" } } }
                tbody {
                    @for source in &sources {
                        tr {
                            td { (source.name) }
                            td { (source.kind) }
                            td { (source.url.as_deref().unwrap_or("—")) }
                            td { (source.client.as_deref().unwrap_or("—")) }
                        }
                    }
                }
            }
        }))
        h2 { "Unrouted alerts" }
        @if unrouted.is_empty() {
            p { "Every alert has a client." }
        } @else {
            p.note { "These alerts found no client. After adding the client (or a source default or catch-all client) to the configuration, restart the service: it routes them again at start. Re-route routes them again under the configuration in force." }
            p { (button(&ctx, "/alerts/reroute", "Re-route", &[])) }
            (alert_table(&unrouted))
        }
    };
    page(&ctx, "Clients & routing", body)
}

/// `GET /itglue`: instances, import, and the systems inventory.
pub async fn itglue(
    State(state): State<ApiState>,
    Extension(ctx): Extension<Ctx>,
    Extension(imports): Extension<std::sync::Arc<super::imports::Imports>>,
) -> Response {
    let config = state.config();
    let instances = crate::api::itglue::instance_views(config);
    let systems = match state.store().list_systems(None).await {
        Ok(systems) => systems,
        Err(error) => return failed(&ctx, "IT Glue", ApiError::store("listing systems", &error)),
    };
    let clients: Vec<String> = config.clients.iter().map(|c| c.name.clone()).collect();
    let body = html! {
        h2 { "Instances" }
        @if instances.is_empty() { p { "No IT Glue instance is configured ([[itglue]])." } }
        @for instance in &instances {
            section.panel {
                h3 { (instance.name) }
                (import_status(&imports, &instance.name))
                p { (instance.url) " · clients: " (instance.clients.join(", ")) " · auto-map every " (instance.automap_interval_seconds / 60) " min" }
                p {
                    a href=(format!("/itglue/{}", urlencode(&instance.name))) { "Mapping screen" }
                    " "
                    (button(&ctx, &format!("/itglue/{}/test", urlencode(&instance.name)), "Test connection", &[]))
                    " "
                    (button(&ctx, &format!("/itglue/{}/automap", urlencode(&instance.name)), "Auto Map now", &[]))
                }
                @if ctx.can_act() {
                    form.filters method="post" action=(format!("/itglue/{}/import", urlencode(&instance.name))) {
                        (csrf(&ctx))
                        label { "Organizations to import (names or ids, comma-separated; empty: all)" input type="text" name="organizations" size="40"; }
                        button type="submit" { "Import" }
                    }
                }
            }
        }
        h2 { "Systems inventory" }
        @if ctx.can_act() {
            div.grid2 {
                section.panel {
                    h3 { "Add a system" }
                    form.stack method="post" action="/itglue/systems" {
                        (csrf(&ctx))
                        (select("client", "Client", &clients, None, "choose a client"))
                        label { "Name" input type="text" name="name" required; }
                        label { "MAC addresses (comma-separated)" input type="text" name="macs"; }
                        label { "Sensor" input type="text" name="sensor"; }
                        button type="submit" { "Add system" }
                    }
                }
                section.panel {
                    h3 { "Upload a CSV" }
                    p.note { "Columns name,client,macs,sensor; all rows or none are stored." }
                    form.stack method="post" action="/itglue/systems/csv" enctype="multipart/form-data" {
                        (csrf(&ctx))
                        label { "CSV file" input type="file" name="file" accept=".csv,text/csv" required; }
                        button type="submit" { "Upload" }
                    }
                }
            }
        }
        (table_wrap("Systems", html! {
            table {
                thead { tr { th { "System" } th { "Client" } th { "MACs" } th { "Sensor" } th { "Origin" } th { "Last seen" } } }
                tbody {
                    @for system in &systems {
                        tr {
                            td { (system.name) }
                            td { (system.client) }
                            td { (system.macs.join(", ")) }
                            td { (system.sensor.as_deref().unwrap_or("")) }
                            td { (format!("{:?}", system.origin).to_lowercase()) }
                            td { (time(system.last_seen)) }
                        }
                    }
                }
            }
        }))
    };
    page(&ctx, "IT Glue", body)
}

/// `GET /reports`.
pub async fn reports(State(state): State<ApiState>, Extension(ctx): Extension<Ctx>) -> Response {
    let listed = match crate::api::reports::list(
        &state,
        crate::api::reports::ReportsQuery {
            limit: Some(200),
            ..Default::default()
        },
    )
    .await
    {
        Ok(listed) => listed,
        Err(error) => return failed(&ctx, "Reports", error),
    };
    let config = state.config();
    let clients: Vec<String> = config.clients.iter().map(|c| c.name.clone()).collect();
    let body = html! {
        @if ctx.can_act() {
            section.panel {
                h2 { "Generate a report" }
                form.filters method="post" action="/reports/generate" {
                    (csrf(&ctx))
                    (select("client", "Client", &clients, None, "choose a client"))
                    label { "Name" input type="text" name="name" value=(crate::reports::DEFAULT_REPORT_NAME); }
                    label { "Days" input type="number" name="days" value="7" min="1" max="366"; }
                    label { "Publish to IT Glue" select name="publish" { option value="false" { "no" } option value="true" { "yes" } } }
                    button type="submit" { "Generate" }
                }
            }
        }
        (table_wrap("Reports", html! {
            table {
                thead { tr { th { "Id" } th { "Client" } th { "Name" } th { "Period" } th { "State" } th { "IT Glue asset" } th { "Last error" } th { span.sr { "Actions" } } } }
                tbody {
                    @for report in &listed {
                        tr {
                            td.num { a href=(format!("/reports/{}", report.id)) { (report.id) } }
                            td { (report.client) }
                            td { a href=(format!("/reports/{}", report.id)) { (report.name) } }
                            td { (report.period_start.format("%Y-%m-%d")) " – " (report.period_end.format("%Y-%m-%d")) }
                            td { (state_badge(report.publish_state.as_str())) }
                            td { (report.itglue_asset_id.map(|id| id.to_string()).unwrap_or_default()) }
                            td { (report.last_error.as_deref().unwrap_or("")) }
                            td {
                                a href=(format!("/reports/{}/download", report.id)) { "Download" }
                                " "
                                (button(&ctx, &format!("/reports/{}/publish", report.id), "Publish to IT Glue", &[]))
                            }
                        }
                    }
                }
            }
        }))
    };
    page(&ctx, "Reports", body)
}

/// `GET /reports/{id}`: the report's facts and a sandboxed preview.
pub async fn report(
    State(state): State<ApiState>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<ReportId>,
) -> Response {
    let report = match crate::api::reports::read(&state, id).await {
        Ok(report) => report,
        Err(error) => return failed(&ctx, "Report", error),
    };
    let meta = &report.meta;
    let body = html! {
        dl.facts {
            dt { "Client" } dd { (meta.client) }
            dt { "Name" } dd { (meta.name) }
            dt { "Period" } dd { (time(meta.period_start)) " – " (time(meta.period_end)) }
            dt { "Generated" } dd { (time(meta.generated_at)) }
            dt { "Systems" } dd { (meta.systems.join(", ")) }
            dt { "State" } dd { (state_badge(meta.publish_state.as_str())) @if let Some(error) = &meta.last_error { " " span.reason { (error) } } }
            dt { "IT Glue asset" } dd { (meta.itglue_asset_id.map(|id| id.to_string()).unwrap_or_else(|| "—".into())) }
        }
        p {
            a href=(format!("/reports/{id}/download")) { "Download" }
            " "
            (button(&ctx, &format!("/reports/{id}/publish"), "Publish to IT Glue", &[]))
        }
        iframe.preview src=(format!("/reports/{id}/view")) title="Report preview" sandbox="" {}
    };
    page(&ctx, &format!("Report {id}"), body)
}

/// `GET /reports/{id}/view`: the HTML for the preview frame, in a script-free sandbox.
pub async fn report_html(State(state): State<ApiState>, Path(id): Path<ReportId>) -> Response {
    crate::api::reports::report_response(&state, id, false)
        .await
        .into_response()
}

/// `GET /reports/{id}/download`.
pub async fn report_download(State(state): State<ApiState>, Path(id): Path<ReportId>) -> Response {
    crate::api::reports::report_response(&state, id, true)
        .await
        .into_response()
}

/// Filters of the events page.
#[derive(Debug, Default, Deserialize)]
pub struct EventsForm {
    code: Option<String>,
    client: Option<String>,
    since: Option<String>,
}

/// `GET /events`.
pub async fn events(
    State(state): State<ApiState>,
    Extension(ctx): Extension<Ctx>,
    Query(form): Query<EventsForm>,
) -> Response {
    let code = match some(&form.code).map(|text| text.parse::<u32>()) {
        None => None,
        Some(Ok(code)) => Some(code),
        Some(Err(_)) => {
            return failed(
                &ctx,
                "Events",
                ApiError::new(
                    crate::api::ErrorCode::InvalidQuery,
                    "event id: give a number such as 4100",
                ),
            )
        }
    };
    let query = EventQuery {
        code,
        client: some(&form.client),
        since: some(&form.since),
        limit: Some(500),
    };
    let listed = match views::events(state.store(), query.clone(), state.now()).await {
        Ok(listed) => listed,
        Err(error) => return failed(&ctx, "Events", error),
    };
    let config = state.config();
    let clients: Vec<String> = config.clients.iter().map(|c| c.name.clone()).collect();
    let codes: Vec<String> = events::CATALOGUE
        .iter()
        .map(|info| info.code.to_string())
        .collect();
    let body = html! {
        form.filters method="get" action="/events" {
            (select("code", "Event id", &codes, some(&form.code).as_deref(), "any event"))
            (select("client", "Client", &clients, query.client.as_deref(), "any client"))
            label { "Since (24h, 7d or a time)" input type="text" name="since" value=(form.since.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
        }
        p.note { "Newest first, at most 500." }
        (event_table(&listed, "Events"))
    };
    page(&ctx, "Events", body)
}

/// Query of the login page.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// Why the last attempt failed.
    pub failed: Option<String>,
}

/// `GET /login`.
pub async fn login_page(
    Extension(sessions): Extension<std::sync::Arc<Sessions>>,
    headers: axum::http::HeaderMap,
) -> Response {
    if let Some(id) = cookie(&headers, session::SESSION_COOKIE) {
        if sessions.touch(id).is_some() {
            return Redirect::to("/").into_response();
        }
    }
    login_form(&headers, StatusCode::OK, None)
}

/// The login form with a fresh login token (a cookie and the same value in the form).
pub fn login_form(
    headers: &axum::http::HeaderMap,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let token = session::random_token();
    let mut response = layout::bare(
        status,
        "Sign in to mspbridge",
        html! {
            @if let Some(problem) = problem { p.flash.bad role="alert" { (problem) } }
            form.stack method="post" action="/login" {
                input type="hidden" name=(super::CSRF_FIELD) value=(token);
                label { "Password" input type="password" name="password" autocomplete="current-password" required autofocus; }
                button type="submit" { "Sign in" }
            }
        },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &token, Some(600), over_tls(headers)),
    );
    response
}

/// `GET /itglue/{name}/import/progress`: the latest import of the instance, as JSON for the page's
/// script.
pub async fn import_progress(
    Extension(imports): Extension<std::sync::Arc<super::imports::Imports>>,
    Path(name): Path<String>,
) -> Response {
    match imports.get(&name) {
        Some(state) => axum::Json(state).into_response(),
        None => axum::Json(serde_json::json!({"running": false, "ok": true, "text": ""}))
            .into_response(),
    }
}

/// The status line of the latest import of `instance`; while it runs, the page's script polls it.
pub fn import_status(imports: &super::imports::Imports, instance: &str) -> Markup {
    match imports.get(instance) {
        None => html! {},
        Some(state) => {
            let class = if state.running || state.ok {
                "flash ok"
            } else {
                "flash bad"
            };
            let url = format!("/itglue/{}/import/progress", urlencode(instance));
            html! {
                @if state.running {
                    p #import-progress class=(class) role="status" data-url=(url) { span.text { (state.text) } }
                } @else {
                    p.import-result class=(class) role="status" { span.text { (state.text) } }
                }
            }
        }
    }
}

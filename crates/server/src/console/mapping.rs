//! The IT Glue mapping screen: clients ↔ organizations and systems ↔ configurations side by side,
//! each entry marked mapped (manual or auto), unmapped, or failed with the reason auto-mapping gave
//! (events 4018 and 4019), with *Map*, *Remove map*, *Auto Map*, a filter and a search.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use maud::{html, Markup};
use mspbridge_core::events::{ITGLUE_CLIENT_AUTOMAP_FAILED, ITGLUE_SYSTEM_AUTOMAP_FAILED};
use mspbridge_store::inventory::{Mapping, MappingKind, MappingSubject};
use serde::Deserialize;

use super::layout::{button, csrf, page, table_wrap};
use super::Ctx;
use crate::api::views::{self, EventQuery};
use crate::api::{ApiError, ApiState, ErrorCode};

/// The filters of the screen.
pub const FILTERS: &[&str] = &["all", "mapped", "unmapped", "failed", "manual", "auto"];

/// Query of the mapping screen.
#[derive(Debug, Default, Deserialize)]
pub struct MappingQuery {
    /// One of [`FILTERS`].
    pub show: Option<String>,
    /// Search text.
    pub q: Option<String>,
}

/// Where one entry stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Standing {
    Mapped(MappingKind, i64),
    Failed(String),
    Unmapped,
}

impl Standing {
    fn of(mapping: Option<&Mapping>, failure: Option<&String>) -> Standing {
        match (mapping, failure) {
            (Some(mapping), _) => Standing::Mapped(mapping.kind, mapping.target_id),
            (None, Some(reason)) => Standing::Failed(reason.clone()),
            (None, None) => Standing::Unmapped,
        }
    }

    fn target(&self) -> Option<i64> {
        match self {
            Standing::Mapped(_, id) => Some(*id),
            _ => None,
        }
    }

    fn shown_by(&self, filter: &str) -> bool {
        match filter {
            "mapped" => matches!(self, Standing::Mapped(..)),
            "unmapped" => !matches!(self, Standing::Mapped(..)),
            "failed" => matches!(self, Standing::Failed(_)),
            "manual" => matches!(self, Standing::Mapped(MappingKind::Manual, _)),
            "auto" => matches!(self, Standing::Mapped(MappingKind::Auto, _)),
            _ => true,
        }
    }

    fn badge(&self) -> Markup {
        match self {
            Standing::Mapped(kind, _) => {
                html! { span.badge.b-ok { "mapped · " (kind.as_str()) } }
            }
            Standing::Failed(reason) => html! {
                span.badge.b-bad { "failed" } " " span.reason { (reason) }
            },
            Standing::Unmapped => html! { span.badge.b-none { "unmapped" } },
        }
    }
}

struct Row {
    client: String,
    system: Option<String>,
    target: Option<String>,
    standing: Standing,
}

impl Row {
    fn search_text(&self) -> String {
        format!(
            "{} {} {}",
            self.client,
            self.system.as_deref().unwrap_or(""),
            self.target.as_deref().unwrap_or("")
        )
        .to_lowercase()
    }
}

/// The latest auto-map failure per (client, system or "") of `instance`, newest first wins.
async fn failures(
    state: &ApiState,
    instance: &str,
) -> Result<HashMap<(String, String), String>, ApiError> {
    let mut found = HashMap::new();
    for code in [ITGLUE_CLIENT_AUTOMAP_FAILED, ITGLUE_SYSTEM_AUTOMAP_FAILED] {
        let listed = views::events(
            state.store(),
            EventQuery {
                code: Some(code),
                limit: Some(views::MAX_LIMIT),
                ..EventQuery::default()
            },
            state.now(),
        )
        .await?;
        for event in listed {
            if event.details.get("instance").and_then(|v| v.as_str()) != Some(instance) {
                continue;
            }
            let client = event.client.clone().unwrap_or_default();
            let system = if code == ITGLUE_SYSTEM_AUTOMAP_FAILED {
                event.subject.clone().unwrap_or_default()
            } else {
                String::new()
            };
            // The message names the subject and the instance, which the row already shows.
            let marker = format!("in instance {instance}: ");
            let reason = event
                .message
                .split_once(&marker)
                .map_or(event.message.as_str(), |(_, reason)| reason)
                .to_string();
            found
                .entry((client, system))
                .or_insert(format!("{code}: {reason}"));
        }
    }
    Ok(found)
}

/// `GET /itglue/{name}`.
pub async fn mapping_screen(
    State(state): State<ApiState>,
    Extension(ctx): Extension<Ctx>,
    Extension(imports): Extension<std::sync::Arc<super::imports::Imports>>,
    Path(name): Path<String>,
    Query(query): Query<MappingQuery>,
) -> Response {
    let title = format!("IT Glue mapping · {name}");
    match body(&state, &ctx, &imports, &name, &query).await {
        Ok(body) => page(&ctx, &title, body),
        Err(error) => page(
            &ctx,
            &title,
            html! { p.flash.bad role="alert" { (error.message) } },
        ),
    }
}

async fn body(
    state: &ApiState,
    ctx: &Ctx,
    imports: &super::imports::Imports,
    name: &str,
    query: &MappingQuery,
) -> Result<Markup, ApiError> {
    let instance = crate::itglue::instance(state.config(), name)
        .map_err(|error| ApiError::new(ErrorCode::NotFound, error.to_string()))?;
    let store = state.store();
    let directory = store
        .itglue_directory(&instance.name)
        .await
        .map_err(|e| ApiError::store("reading the IT Glue directory", &e))?;
    let mappings = store
        .list_mappings(Some(&instance.name))
        .await
        .map_err(|e| ApiError::store("listing mappings", &e))?;
    let failures = failures(state, &instance.name).await?;
    let organization_name: HashMap<i64, &str> = directory
        .organizations
        .iter()
        .map(|o| (o.id, o.name.as_str()))
        .collect();
    let configuration_name: HashMap<i64, &str> = directory
        .configurations
        .iter()
        .map(|c| (c.id, c.name.as_str()))
        .collect();
    let mapping_of = |subject: &MappingSubject| mappings.iter().find(|m| &m.subject == subject);

    let mut client_rows = Vec::new();
    let mut system_rows = Vec::new();
    for client in &instance.clients {
        let subject = MappingSubject::Client {
            client: client.clone(),
        };
        let standing = Standing::of(
            mapping_of(&subject),
            failures.get(&(client.clone(), String::new())),
        );
        let target = match &standing {
            Standing::Mapped(_, id) => Some(
                organization_name
                    .get(id)
                    .map_or_else(|| format!("organization {id}"), |n| n.to_string()),
            ),
            _ => None,
        };
        client_rows.push(Row {
            client: client.clone(),
            system: None,
            target,
            standing,
        });
        let systems = store
            .list_systems(Some(client))
            .await
            .map_err(|e| ApiError::store("listing systems", &e))?;
        for system in systems {
            let subject = MappingSubject::System {
                client: client.clone(),
                system: system.name.clone(),
            };
            let standing = Standing::of(
                mapping_of(&subject),
                failures.get(&(client.clone(), system.name.clone())),
            );
            let target = match &standing {
                Standing::Mapped(_, id) => Some(
                    configuration_name
                        .get(id)
                        .map_or_else(|| format!("configuration {id}"), |n| n.to_string()),
                ),
                _ => None,
            };
            system_rows.push(Row {
                client: client.clone(),
                system: Some(system.name),
                target,
                standing,
            });
        }
    }
    let filter = query
        .show
        .as_deref()
        .filter(|show| FILTERS.contains(show))
        .unwrap_or("all");
    let needle = query.q.as_deref().unwrap_or("").trim().to_lowercase();
    let keep = |row: &Row| {
        row.standing.shown_by(filter) && (needle.is_empty() || row.search_text().contains(&needle))
    };
    let client_org = |client: &str| {
        mappings.iter().find_map(|m| match &m.subject {
            MappingSubject::Client { client: c } if c == client => Some(m.target_id),
            _ => None,
        })
    };
    let base = format!("/itglue/{}", super::pages::urlencode(&instance.name));
    let filter_link = |show: &str| {
        let mut pairs = vec![("show", show.to_string())];
        if !needle.is_empty() {
            pairs.push(("q", needle.clone()));
        }
        format!(
            "{base}?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    };
    let imported = !directory.organizations.is_empty();
    Ok(html! {
        (super::pages::import_status(imports, &instance.name))
        p {
            (directory.organizations.len()) " organizations and " (directory.configurations.len())
            " configurations imported. "
            a href="/itglue" { "Instances and systems inventory" }
        }
        @if !imported { p.flash.bad role="alert" { "Nothing is imported yet: import the directory (or press Auto Map, which imports first)." } }
        p {
            (button(ctx, &format!("{base}/automap"), "Auto Map now", &[]))
            " "
            (button(ctx, &format!("{base}/import"), "Import all", &[]))
        }
        nav.filterbar aria-label="Show" {
            @for show in FILTERS {
                @if *show == filter {
                    a href=(filter_link(show)) aria-current="true" { (show) }
                } @else {
                    a href=(filter_link(show)) { (show) }
                }
            }
        }
        form.filters method="get" action=(base) role="search" {
            input type="hidden" name="show" value=(filter);
            label { "Search" input #map-search type="search" name="q" value=(needle); }
            button type="submit" { "Search" }
        }
        div.grid2 {
            section.panel aria-labelledby="clients-heading" {
                h2 #clients-heading { "Clients ↔ organizations" }
                (table_wrap("Clients and organizations", html! {
                    table {
                        thead { tr { th { "Client" } th { "Organization" } th { "State" } th { "Map" } } }
                        tbody {
                            @for row in client_rows.iter().filter(|row| keep(row)) {
                                tr data-search=(row.search_text()) data-state=(state_name(&row.standing)) {
                                    td { (row.client) }
                                    td { (row.target.as_deref().unwrap_or("—")) }
                                    td { (row.standing.badge()) }
                                    td {
                                        @if ctx.can_act() {
                                            form.inline method="post" action=(format!("{base}/map")) {
                                                (csrf(ctx))
                                                input type="hidden" name="client" value=(row.client);
                                                select name="target" aria-label=(format!("Organization for client {}", row.client)) {
                                                    @for organization in &directory.organizations {
                                                        option value=(organization.id) selected[row.standing.target() == Some(organization.id)] { (organization.name) }
                                                    }
                                                }
                                                " "
                                                button type="submit" disabled[!imported] { "Map" }
                                            }
                                            @if matches!(row.standing, Standing::Mapped(..)) {
                                                " "
                                                (button(ctx, &format!("{base}/unmap"), "Remove map", &[("client", &row.client)]))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }))
            }
            section.panel aria-labelledby="systems-heading" {
                h2 #systems-heading { "Systems ↔ configurations" }
                (table_wrap("Systems and configurations", html! {
                    table {
                        thead { tr { th { "System" } th { "Client" } th { "Configuration" } th { "State" } th { "Map" } } }
                        tbody {
                            @for row in system_rows.iter().filter(|row| keep(row)) {
                                @let system = row.system.as_deref().unwrap_or("");
                                @let organization = client_org(&row.client);
                                tr data-search=(row.search_text()) data-state=(state_name(&row.standing)) {
                                    td { (system) }
                                    td { (row.client) }
                                    td { (row.target.as_deref().unwrap_or("—")) }
                                    td { (row.standing.badge()) }
                                    td {
                                        @if ctx.can_act() {
                                            form.inline method="post" action=(format!("{base}/map")) {
                                                (csrf(ctx))
                                                input type="hidden" name="client" value=(row.client);
                                                input type="hidden" name="system" value=(system);
                                                select name="target" aria-label=(format!("Configuration for system {system}")) {
                                                    @for configuration in directory.configurations.iter().filter(|c| !c.archived && organization.is_none_or(|o| o == c.organization_id)) {
                                                        option value=(configuration.id) selected[row.standing.target() == Some(configuration.id)] { (configuration.name) }
                                                    }
                                                }
                                                " "
                                                button type="submit" disabled[!imported] { "Map" }
                                            }
                                            @if matches!(row.standing, Standing::Mapped(..)) {
                                                " "
                                                (button(ctx, &format!("{base}/unmap"), "Remove map", &[("client", &row.client), ("system", system)]))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }))
            }
        }
    })
}

fn state_name(standing: &Standing) -> &'static str {
    match standing {
        Standing::Mapped(MappingKind::Manual, _) => "manual",
        Standing::Mapped(MappingKind::Auto, _) => "auto",
        Standing::Failed(_) => "failed",
        Standing::Unmapped => "unmapped",
    }
}

//! Rule 3, routing: which managed client an alert belongs to, and with what ticket settings.
//!
//! The client comes from the alert, else from the first `[[routes]]` entry that matches it (its
//! `client`, or the client its `client_from` value names by name or alias), else from the source's
//! default client, else from the catch-all client. Only configured clients count, so a typo in an
//! intake or a client removed from the config leaves the alert *unrouted* (kept, shown, re-routed
//! after a config change) instead of opening tickets with default settings in the wrong company.
//!
//! The matched route (the first whose conditions all hold; routes are tried in file order) also
//! gives its ticket overrides and alert key, and a severity map (the route's, else the source's)
//! turns a label's value into priority, severity and impact, whichever way the client was found.

use crate::alert::Alert;
use crate::config::{ClientTicketOverrides, Config, RouteConfig, SourceConfig};
use crate::template::Template;

/// Where an alert goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// To `client`.
    Routed {
        /// The configured client.
        client: String,
        /// Why this client.
        reason: String,
    },
    /// Nowhere yet.
    Unrouted {
        /// Why no client was found.
        reason: String,
    },
}

/// The route that matched an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRoute {
    /// Position in `[[routes]]`, from 0.
    pub index: usize,
    /// Its name (`routes[INDEX]` when it has none).
    pub name: String,
}

/// Everything routing decides for one alert.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteDecision {
    /// The client, or why there is none.
    pub routing: Routing,
    /// The first route whose conditions all hold, if any.
    pub route: Option<MatchedRoute>,
    /// Ticket settings over the client's: the route's, then the severity map's entry.
    pub ticket: ClientTicketOverrides,
    /// The alert key template: the route's, else the source's.
    pub alert_key: Option<Template>,
}

impl RouteDecision {
    /// The client, when routed.
    pub fn client(&self) -> Option<&str> {
        match &self.routing {
            Routing::Routed { client, .. } => Some(client),
            Routing::Unrouted { .. } => None,
        }
    }

    /// The reason, routed or not.
    pub fn reason(&self) -> &str {
        match &self.routing {
            Routing::Routed { reason, .. } | Routing::Unrouted { reason } => reason,
        }
    }
}

/// Whether every condition of `route` holds for `alert`.
pub fn route_matches(route: &RouteConfig, alert: &Alert) -> bool {
    route.conditions.iter().all(|condition| {
        let value = alert.subject_value(&condition.subject);
        condition.test.passes(value.as_deref())
    })
}

/// Routes `alert`, which came in through `source` (its config, `None` if the source is not
/// configured), under `config`.
pub fn route(alert: &Alert, source: Option<&SourceConfig>, config: &Config) -> Routing {
    decide(alert, source, config).routing
}

/// Routes `alert` and works out the ticket settings and alert key its route gives.
pub fn decide(alert: &Alert, source: Option<&SourceConfig>, config: &Config) -> RouteDecision {
    let mut rejected = Vec::new();
    let mut matched: Option<(usize, &RouteConfig, Option<String>)> = None;
    for (index, route) in config.routes.iter().enumerate() {
        if !route_matches(route, alert) {
            continue;
        }
        let client = match (&route.client, &route.client_from) {
            (Some(client), _) => Some(client.clone()),
            (None, Some(subject)) => match alert.subject_value(subject) {
                Some(value) => match config.clients.iter().find(|c| c.answers_to(&value)) {
                    Some(client) => Some(client.name.clone()),
                    None => {
                        rejected.push(format!(
                            "route \"{}\" matched, but its {subject} \"{value}\" is no client's \
                             name or alias",
                            route.name
                        ));
                        continue;
                    }
                },
                None => {
                    rejected.push(format!(
                        "route \"{}\" matched, but the alert has no {subject}",
                        route.name
                    ));
                    continue;
                }
            },
            (None, None) => None,
        };
        matched = Some((index, route, client));
        break;
    }

    let route_label = matched
        .as_ref()
        .map(|(_, route, _)| format!("route \"{}\" gives client", route.name));
    let candidates = [
        (alert.client.clone(), "the alert names client".to_string()),
        (
            matched.as_ref().and_then(|(_, _, client)| client.clone()),
            route_label.unwrap_or_default(),
        ),
        (
            source.and_then(|source| source.client.clone()),
            "the source's default client is".to_string(),
        ),
        (
            config.routing.catch_all_client.clone(),
            "the catch-all client is".to_string(),
        ),
    ];
    let mut routing = None;
    for (name, how) in candidates {
        let Some(name) = name
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
        else {
            continue;
        };
        if config.client(name).is_some() {
            routing = Some(Routing::Routed {
                client: name.to_string(),
                reason: format!("{how} \"{name}\""),
            });
            break;
        }
        rejected.push(format!(
            "{how} \"{name}\", which is not a configured client"
        ));
    }

    let mut ticket = matched
        .as_ref()
        .map(|(_, route, _)| route.ticket.clone())
        .unwrap_or_default();
    let severity_map = matched
        .as_ref()
        .and_then(|(_, route, _)| route.severity_map.as_ref())
        .or_else(|| source.and_then(|source| source.severity_map.as_ref()));
    let mut severity_note = None;
    if let Some(map) = severity_map {
        if let Some(value) = alert.subject_value(&map.from) {
            if let Some(level) = map.level(&value) {
                if level.priority_id.is_some() {
                    ticket.priority_id = level.priority_id;
                }
                if level.severity.is_some() {
                    ticket.severity = level.severity;
                }
                if level.impact.is_some() {
                    ticket.impact = level.impact;
                }
                severity_note = Some(format!("severity map: {} \"{value}\"", map.from));
            }
        }
    }

    let routing = match routing {
        Some(Routing::Routed { client, mut reason }) => {
            if let Some((_, route, None)) = &matched {
                reason = format!("{reason} (route \"{}\" matched)", route.name);
            }
            if let Some(note) = &severity_note {
                reason = format!("{reason}; {note}");
            }
            Routing::Routed { client, reason }
        }
        _ => {
            let mut reason = if source.is_none() {
                format!("source \"{}\" is not configured", alert.source)
            } else if config.routes.is_empty() {
                "no client in the alert, no default client on the source and no catch-all client"
                    .to_string()
            } else {
                "no client in the alert, no route gave one, no default client on the source and \
                 no catch-all client"
                    .to_string()
            };
            if !rejected.is_empty() {
                reason = format!("{reason}; {}", rejected.join("; "));
            }
            Routing::Unrouted { reason }
        }
    };
    let alert_key = matched
        .as_ref()
        .and_then(|(_, route, _)| route.alert_key.clone())
        .or_else(|| source.and_then(|source| source.alert_key.clone()));
    RouteDecision {
        routing,
        route: matched.map(|(index, route, _)| MatchedRoute {
            index,
            name: route.name.clone(),
        }),
        ticket,
        alert_key,
    }
}

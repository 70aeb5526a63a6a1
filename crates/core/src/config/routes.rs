//! Validation of `[[routes]]` and of the severity maps sources and routes carry.
//!
//! A route's `match` is read from its TOML table here rather than by serde, so that every mistake
//! (an unknown subject, a matcher of the wrong shape, a regex that does not compile) is reported
//! with the route and the subject it concerns, all at once.

use std::collections::{BTreeMap, HashMap};

use super::checks::Checker;
use super::raw::{RawClientTicket, RawRoute, RawSeverity};
use super::types::{
    ClientConfig, ClientTicketOverrides, DescriptionField, MatchTest, Pattern, RouteCondition,
    RouteConfig, SeverityLevel, SeverityMap, TicketLevel,
};
use super::validate::{DESCRIPTION_FIELDS, LEVELS};
use crate::template::TemplateKind;

/// The subject a severity map reads when `severity_from` is not given.
pub const DEFAULT_SEVERITY_FROM: &str = "labels.severity";

const SUBJECTS: &str = "source, alert_name, client, labels.NAME, annotations.NAME or fields.NAME";
const MATCHERS: &str = "a string (equals), a list of strings (one of), { regex = \"…\" } or \
                        { exists = true|false }";

/// Whether `subject` names something an alert has: `source`, `alert_name`/`alertname`, `client`,
/// or `labels.`, `annotations.`, `fields.` followed by a name.
pub fn valid_subject(subject: &str) -> bool {
    if matches!(subject, "source" | "alert_name" | "alertname" | "client") {
        return true;
    }
    ["labels.", "annotations.", "fields."].iter().any(|prefix| {
        subject.strip_prefix(prefix).is_some_and(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        })
    })
}

fn check_subject(checker: &mut Checker<'_>, path: &str, subject: &str) -> bool {
    if valid_subject(subject) {
        return true;
    }
    checker.issue(
        path,
        format!("\"{subject}\" is not something an alert has; use {SUBJECTS}"),
    );
    false
}

pub(super) fn routes(
    raw: &[RawRoute],
    clients: &[ClientConfig],
    checker: &mut Checker<'_>,
) -> Vec<RouteConfig> {
    let client_names: Vec<&str> = clients.iter().map(|client| client.name.as_str()).collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut routes = Vec::new();
    for (index, route) in raw.iter().enumerate() {
        let prefix = format!("routes[{index}]");
        let path = |key: &str| format!("{prefix}.{key}");
        let name = match checker.optional_text(&path("name"), route.name.as_ref()) {
            Some(name) => {
                if let Some(first) = seen.get(&name) {
                    checker.issue(
                        path("name"),
                        format!("duplicate name \"{name}\"; routes[{first}] already uses it"),
                    );
                } else {
                    seen.insert(name.clone(), index);
                }
                name
            }
            None => prefix.clone(),
        };
        let conditions = match &route.matches {
            Some(table) => conditions(table, &path("match"), checker),
            None => Vec::new(),
        };
        let client = checker.optional_text(&path("client"), route.client.as_ref());
        if let Some(client) = &client {
            super::sections::check_client_reference(
                checker,
                &path("client"),
                client,
                &client_names,
            );
        }
        let client_from = checker.optional_text(&path("client_from"), route.client_from.as_ref());
        if let Some(subject) = &client_from {
            check_subject(checker, &path("client_from"), subject);
        }
        if client.is_some() && client_from.is_some() {
            checker.issue(
                path("client_from"),
                "give either client or client_from, not both",
            );
        }
        let ticket = route
            .ticket
            .as_ref()
            .map(|raw| ticket_overrides(raw, &path("ticket"), checker))
            .unwrap_or_default();
        let severity_map = severity_map(
            &prefix,
            route.severity_from.as_ref(),
            route.severity_map.as_ref(),
            checker,
        );
        routes.push(RouteConfig {
            name,
            conditions,
            client,
            client_from,
            alert_key: checker.optional_template(
                &path("alert_key"),
                route.alert_key.as_ref(),
                TemplateKind::Ticket,
            ),
            ticket,
            severity_map,
        });
    }
    routes
}

/// The conditions of a `match` table; `labels`, `annotations` and `fields` may also be written as
/// tables of names (`labels = { customer = "acme" }`, which is what TOML makes of an unquoted
/// `labels.customer = "acme"`).
fn conditions(table: &toml::Table, path: &str, checker: &mut Checker<'_>) -> Vec<RouteCondition> {
    let mut conditions = Vec::new();
    for (key, value) in table {
        let nested = match (key.as_str(), value) {
            ("labels" | "annotations" | "fields", toml::Value::Table(names)) => Some(names),
            _ => None,
        };
        match nested {
            Some(names) => {
                for (name, value) in names {
                    let subject = format!("{key}.{name}");
                    push_condition(&mut conditions, &subject, value, path, checker);
                }
            }
            None => push_condition(&mut conditions, key, value, path, checker),
        }
    }
    conditions
}

fn push_condition(
    conditions: &mut Vec<RouteCondition>,
    subject: &str,
    value: &toml::Value,
    path: &str,
    checker: &mut Checker<'_>,
) {
    let here = format!("{path}.{subject}");
    if !check_subject(checker, &here, subject) {
        return;
    }
    if let Some(test) = matcher(value, &here, checker) {
        conditions.push(RouteCondition {
            subject: subject.to_string(),
            test,
        });
    }
}

fn matcher(value: &toml::Value, path: &str, checker: &mut Checker<'_>) -> Option<MatchTest> {
    match value {
        toml::Value::String(text) => Some(MatchTest::Equals(text.clone())),
        toml::Value::Array(items) => {
            let mut values = Vec::new();
            for item in items {
                match item {
                    toml::Value::String(text) => values.push(text.clone()),
                    _ => {
                        checker.issue(path, "a list of values must hold only strings");
                        return None;
                    }
                }
            }
            if values.is_empty() {
                checker.issue(
                    path,
                    "an empty list matches nothing; give at least one value",
                );
                return None;
            }
            Some(MatchTest::OneOf(values))
        }
        toml::Value::Table(table) => {
            let mut entries = table.iter();
            let (Some((kind, inner)), None) = (entries.next(), entries.next()) else {
                checker.issue(
                    path,
                    format!("a matcher table holds exactly one of regex, exists, equals, one_of; write {MATCHERS}"),
                );
                return None;
            };
            match (kind.as_str(), inner) {
                ("regex", toml::Value::String(source)) => match Pattern::new(source) {
                    Ok(pattern) => Some(MatchTest::Regex(pattern)),
                    Err(error) => {
                        checker.issue(
                            path,
                            format!(
                                "regex \"{source}\" does not compile: {}",
                                first_line(&error)
                            ),
                        );
                        None
                    }
                },
                ("exists", toml::Value::Boolean(wanted)) => Some(MatchTest::Exists(*wanted)),
                ("equals", toml::Value::String(text)) => Some(MatchTest::Equals(text.clone())),
                ("one_of", toml::Value::Array(_)) => matcher(inner, path, checker),
                _ => {
                    checker.issue(
                        path,
                        format!(
                            "\"{kind}\" with a TOML {} is not a matcher; write {MATCHERS}",
                            inner.type_str()
                        ),
                    );
                    None
                }
            }
        }
        other => {
            checker.issue(
                path,
                format!(
                    "a TOML {} is not a matcher; write {MATCHERS}",
                    other.type_str()
                ),
            );
            None
        }
    }
}

/// The regex crate's messages span several lines (a caret under the pattern); the last line
/// says what is wrong.
fn first_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or(message)
        .trim()
        .to_string()
}

/// A route's or client's ticket overrides (`ticket = { … }` / `connectwise = { … }`).
pub(super) fn ticket_overrides(
    raw: &RawClientTicket,
    prefix: &str,
    checker: &mut Checker<'_>,
) -> ClientTicketOverrides {
    let path = |key: &str| format!("{prefix}.{key}");
    ClientTicketOverrides {
        company_id: checker.record_id(&path("company_id"), raw.company_id),
        board_id: checker.record_id(&path("board_id"), raw.board_id),
        team_id: checker.record_id(&path("team_id"), raw.team_id),
        priority_id: checker.record_id(&path("priority_id"), raw.priority_id),
        status_id: checker.record_id(&path("status_id"), raw.status_id),
        severity: checker.level(
            &path("severity"),
            raw.severity.as_ref(),
            TicketLevel::parse,
            LEVELS,
        ),
        impact: checker.level(
            &path("impact"),
            raw.impact.as_ref(),
            TicketLevel::parse,
            LEVELS,
        ),
        summary: checker.optional_template(
            &path("summary"),
            raw.summary.as_ref(),
            TemplateKind::Ticket,
        ),
        description: checker.optional_template(
            &path("description"),
            raw.description.as_ref(),
            TemplateKind::Ticket,
        ),
        description_field: checker.level(
            &path("description_field"),
            raw.description_field.as_ref(),
            DescriptionField::parse,
            DESCRIPTION_FIELDS,
        ),
    }
}

/// A severity map of a source or route (`prefix` is `sources[0]` or `routes[1]`).
pub(super) fn severity_map(
    prefix: &str,
    from: Option<&String>,
    raw: Option<&BTreeMap<String, RawSeverity>>,
    checker: &mut Checker<'_>,
) -> Option<SeverityMap> {
    let from_path = format!("{prefix}.severity_from");
    let from = checker.optional_text(&from_path, from);
    if let Some(subject) = &from {
        check_subject(checker, &from_path, subject);
    }
    let Some(raw) = raw else {
        if from.is_some() {
            checker.issue(from_path, "has no effect without a severity_map");
        }
        return None;
    };
    let mut levels = BTreeMap::new();
    for (value, entry) in raw {
        let path = |key: &str| format!("{prefix}.severity_map.{value}.{key}");
        let level = SeverityLevel {
            priority_id: checker.record_id(&path("priority_id"), entry.priority_id),
            severity: checker.level(
                &path("severity"),
                entry.severity.as_ref(),
                TicketLevel::parse,
                LEVELS,
            ),
            impact: checker.level(
                &path("impact"),
                entry.impact.as_ref(),
                TicketLevel::parse,
                LEVELS,
            ),
        };
        if level == SeverityLevel::default() {
            checker.issue(
                format!("{prefix}.severity_map.{value}"),
                "sets nothing; give priority_id, severity and/or impact",
            );
        }
        if levels.insert(value.trim().to_lowercase(), level).is_some() {
            checker.issue(
                format!("{prefix}.severity_map.{value}"),
                format!("\"{value}\" is listed twice (values are matched without regard to case)"),
            );
        }
    }
    Some(SeverityMap {
        from: from.unwrap_or_else(|| DEFAULT_SEVERITY_FROM.to_string()),
        levels,
    })
}

/// Aliases must not be blank and must name one client only (no other client's name or alias).
pub(super) fn check_aliases(clients: &[ClientConfig], checker: &mut Checker<'_>) {
    let mut owners: HashMap<String, (usize, String)> = HashMap::new();
    for (index, client) in clients.iter().enumerate() {
        if !client.name.is_empty() {
            owners
                .entry(client.name.to_lowercase())
                .or_insert((index, format!("the name of clients[{index}]")));
        }
    }
    for (index, client) in clients.iter().enumerate() {
        for (position, alias) in client.aliases.iter().enumerate() {
            let path = format!("clients[{index}].aliases[{position}]");
            if alias.trim().is_empty() {
                checker.issue(path, "an alias must not be empty");
                continue;
            }
            let key = alias.trim().to_lowercase();
            match owners.get(&key) {
                Some((owner, what)) if *owner != index => checker.issue(
                    path,
                    format!("\"{alias}\" is already {what}; an alias must name one client only"),
                ),
                Some(_) => {}
                None => {
                    owners.insert(key, (index, format!("an alias of clients[{index}]")));
                }
            }
        }
    }
}

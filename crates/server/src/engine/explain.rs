//! The rule decisions the engine records with each alert, with reasons a technician can check:
//! which values and settings a rule looked at and what it did. Written with the alert's decision
//! (`AlertOutcome::decisions`) or with a flush (`DecisionBatch::notes`), never on their own.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mspbridge_core::alert::Alert;
use mspbridge_core::duration::format_duration;
use mspbridge_core::text;
use mspbridge_store::{DecisionRule, RuleDecision};

fn ticket_text(ticket_id: Option<i64>) -> String {
    match ticket_id {
        Some(id) => format!("ticket #{id}"),
        None => "its ticket (still being created)".to_string(),
    }
}

fn quoted(value: &str) -> String {
    format!("\"{}\"", text::clean_line(value))
}

/// Rule 3: the alert found its client.
pub(super) fn routed(at: DateTime<Utc>, client: &str, key: &str, reason: &str) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Routing,
        format!("routed to {client}"),
        format!("{}; incident key {}", text::clean_line(reason), quoted(key)),
    )
    .incident(key)
}

/// Rule 3: no client; names what the alert carried, so the missing mapping can be added.
pub(super) fn unrouted(at: DateTime<Utc>, alert: &Alert, reason: &str) -> RuleDecision {
    let mut seen = vec![format!("source {}", quoted(&alert.source))];
    if let Some(client) = alert.client.as_deref().filter(|c| !c.trim().is_empty()) {
        seen.push(format!("client {}", quoted(client)));
    }
    if let Some(record) = alert.first_record() {
        if !record.who.trim().is_empty() {
            seen.push(format!("user {}", quoted(&record.who)));
        }
        if !record.where_.trim().is_empty() {
            seen.push(format!("where {}", quoted(&record.where_)));
        }
    }
    RuleDecision::new(
        at,
        DecisionRule::Unrouted,
        "unrouted",
        format!(
            "no client matched ({}): {}",
            seen.join(", "),
            text::clean_line(reason)
        ),
    )
}

/// Rule 2: the record was fetched in the page.
pub(super) fn record_fetched(at: DateTime<Utc>, alert: &Alert) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Enrichment,
        "record fetched",
        format!(
            "activity record {} fetched from the Netwrix Auditor of source {}",
            quoted(alert.netwrix_record_id().unwrap_or("")),
            quoted(&alert.source)
        ),
    )
}

/// Rule 2: the alert went on without its record.
pub(super) fn record_given_up(at: DateTime<Utc>, alert: &Alert, why: &str) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Enrichment,
        "record given up",
        format!(
            "activity record {} of source {} not available ({}); the ticket says so",
            quoted(alert.netwrix_record_id().unwrap_or("")),
            quoted(&alert.source),
            text::clean_line(why)
        ),
    )
}

/// Rule 2: Auditor could not answer; the alert waits.
pub(super) fn record_waits(
    at: DateTime<Utc>,
    alert: &Alert,
    give_up: Duration,
    received_at: DateTime<Utc>,
) -> RuleDecision {
    let until = mspbridge_core::clock::add(received_at, give_up);
    RuleDecision::new(
        at,
        DecisionRule::Enrichment,
        "waiting for its record",
        format!(
            "the Netwrix Auditor of source {} could not answer for record {}; the alert waits \
             (enriching) and is retried with backoff until enrich_give_up ({}) after it was \
             received, {}",
            quoted(&alert.source),
            quoted(alert.netwrix_record_id().unwrap_or("")),
            format_duration(give_up),
            until.to_rfc3339()
        ),
    )
}

/// Rule 2: a *Test run* alert.
pub(super) fn discarded(at: DateTime<Utc>, alert: &Alert) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Discarded,
        "discarded (test record)",
        format!(
            "the Netwrix Auditor of source {} has no activity record {} (an Auditor test run): \
             no ticket",
            quoted(&alert.source),
            quoted(alert.netwrix_record_id().unwrap_or(""))
        ),
    )
}

/// Rule 4: a repeat joins its incident's buffer, to be carried by the next update.
pub(super) fn merged(
    at: DateTime<Utc>,
    key: &str,
    ticket_id: Option<i64>,
    update_interval: Duration,
    last_alert_at: DateTime<Utc>,
    reason: &str,
) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Repeat,
        "merged",
        format!(
            "repeat of incident {} within update_interval {} (its last alert at {}): merged into \
             {}; {}",
            quoted(key),
            format_duration(update_interval),
            last_alert_at.to_rfc3339(),
            ticket_text(ticket_id),
            reason
                .strip_prefix("repeat within update_interval; ")
                .unwrap_or(reason)
        ),
    )
    .incident(key)
    .ticket(ticket_id)
}

/// Rule 4: a new ticket is needed (then subject to the flood limit).
pub(super) fn needs_new_ticket(at: DateTime<Utc>, key: &str, reason: &str) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Repeat,
        "new ticket",
        format!("incident {}: {reason}", quoted(key)),
    )
    .incident(key)
}

/// Where rule 5 sends an alert that needs a new ticket.
pub(super) enum FloodTarget<'a> {
    /// A ticket of its own.
    Standalone,
    /// Opens the client's flood ticket (incident key).
    Opens(&'a str),
    /// Joins the client's flood ticket (incident key, ticket once created).
    Joins(&'a str, Option<i64>),
}

/// Rule 5: the flood limit's decision for an alert needing a new ticket.
pub(super) fn flood(
    at: DateTime<Utc>,
    client: &str,
    (used, limit, interval): (u32, u32, Duration),
    target: FloodTarget<'_>,
    reason: &str,
) -> RuleDecision {
    let (outcome, action) = match &target {
        FloodTarget::Standalone => ("standalone ticket", String::new()),
        FloodTarget::Opens(key) => (
            "opened flood ticket",
            format!(
                ": opens the client's flood ticket (incident {})",
                quoted(key)
            ),
        ),
        FloodTarget::Joins(key, ticket) => (
            "joined flood ticket",
            format!(
                ": joins {} of flood incident {}",
                ticket_text(*ticket),
                quoted(key)
            ),
        ),
    };
    let text = match target {
        // The rule's own reason says it all: "N of LIMIT standalone tickets used in the last …".
        FloodTarget::Standalone => format!("client {}: {reason}", quoted(client)),
        _ => format!(
            "client {} has {used} standalone ticket(s) in the last {} (ticket_flood_limit \
             {limit}){action}; {reason}",
            quoted(client),
            format_duration(interval)
        ),
    };
    let decision = RuleDecision::new(at, DecisionRule::Flood, outcome, text);
    match target {
        FloodTarget::Standalone => decision,
        FloodTarget::Opens(key) => decision.incident(key),
        FloodTarget::Joins(key, ticket) => decision.incident(key).ticket(ticket),
    }
}

/// Rule 5: earlier tickets of the key named in the new ticket.
pub(super) fn correlated(
    at: DateTime<Utc>,
    key: &str,
    interval: Duration,
    lines: &[String],
) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Correlation,
        format!("{} earlier ticket(s) named", lines.len()),
        format!(
            "incident {} had tickets within correlation_interval {}: {}",
            quoted(key),
            format_duration(interval),
            lines
                .iter()
                .map(|line| text::clean_line(line))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
    .incident(key)
}

/// An Alertmanager resolution.
pub(super) fn resolution(
    at: DateTime<Utc>,
    outcome: &str,
    key: &str,
    ticket_id: Option<i64>,
    reason: &str,
) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Resolution,
        outcome,
        format!("incident {}: {}", quoted(key), text::clean_line(reason)),
    )
    .incident(key)
    .ticket(ticket_id)
}

/// Rule 4 at the flush: the buffered alerts carried into an open ticket's note.
pub(super) fn consolidated(
    at: DateTime<Utc>,
    key: &str,
    ticket_id: i64,
    flushed: usize,
    interval: Duration,
) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Consolidation,
        "consolidated",
        format!(
            "consolidation_interval {} ended: the {flushed} alert(s) buffered for incident {} \
             are carried by one note on ticket #{ticket_id}",
            format_duration(interval),
            quoted(key)
        ),
    )
    .incident(key)
    .ticket(Some(ticket_id))
}

/// Rule 4 at the flush: a closed ticket reopened.
pub(super) fn reopened(
    at: DateTime<Utc>,
    key: &str,
    ticket_id: i64,
    status: Option<&str>,
    status_id: i64,
    reason: &str,
) -> RuleDecision {
    let status = status.map_or_else(String::new, |name| format!(" (status {})", quoted(name)));
    RuleDecision::new(
        at,
        DecisionRule::Reopen,
        "reopened",
        format!(
            "ticket #{ticket_id} was closed{status} and reopen_ticket_on_repetitive_alerts is on: \
             reopened to status id {status_id} ({reason})"
        ),
    )
    .incident(key)
    .ticket(Some(ticket_id))
}

/// Rule 4 at the flush: the ticket stays closed (or is gone); a new one carries the alerts.
pub(super) fn reopen_refused(
    at: DateTime<Utc>,
    key: &str,
    ticket_id: Option<i64>,
    flushed: usize,
    reason: &str,
) -> RuleDecision {
    RuleDecision::new(
        at,
        DecisionRule::Reopen,
        "new ticket",
        format!(
            "{}: {reason}; the {flushed} buffered alert(s) of incident {} open a new ticket",
            match ticket_id {
                Some(id) => format!("ticket #{id} is not reopened"),
                None => "no ticket to reopen".to_string(),
            },
            quoted(key)
        ),
    )
    .incident(key)
    .ticket(ticket_id)
}

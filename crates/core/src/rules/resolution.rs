//! A resolved alert (Alertmanager's `resolved`) ends a condition; it is not one more occurrence.
//!
//! So it never joins a consolidation buffer, never counts toward the flood limit, never reopens a
//! closed ticket and never opens a ticket of its own: it adds one note to the ticket its firing
//! alert opened. With no incident for its key (the firing alert was never seen, or is forgotten)
//! there is nothing to resolve.
//!
//! Alertmanager alerts come in groups, one alert per instance (each with its own fingerprint). The
//! incident remembers which of them are firing ([`GroupState`]): the alert that opened the ticket
//! and every one that joined it since. A resolved alert takes its instance off that list, and only
//! when the last one resolves does the ticket get its note, naming every instance that resolved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alert::Alert;

use super::content::cap;

/// The alerts of an incident's group (Alertmanager fingerprints) still firing, and those resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// Firing alerts: fingerprint → the instance it concerns.
    #[serde(default)]
    pub firing: BTreeMap<String, String>,
    /// Instances resolved since the ticket opened, in order.
    #[serde(default)]
    pub resolved: Vec<String>,
}

impl GroupState {
    /// Whether nothing is tracked (alerts without fingerprints, or an incident from before).
    pub fn is_empty(&self) -> bool {
        self.firing.is_empty() && self.resolved.is_empty()
    }

    /// The group of a ticket `alert` opens: just that alert.
    pub fn opened_by(alert: &Alert) -> GroupState {
        let mut group = GroupState::default();
        group.fired(alert);
        group
    }

    /// A firing `alert` joins the group (when it has a fingerprint).
    pub fn fired(&mut self, alert: &Alert) {
        if let Some((fingerprint, instance)) = member(alert) {
            self.firing.insert(fingerprint, instance);
        }
    }
}

/// An alert's place in a group: its fingerprint and the instance it names (the `instance`
/// label, else the record's `Where`, else the alert name).
pub fn member(alert: &Alert) -> Option<(String, String)> {
    let fingerprint = alert.fields.get("fingerprint")?.trim();
    if fingerprint.is_empty() {
        return None;
    }
    Some((fingerprint.to_string(), instance(alert)))
}

/// The instance an alert names, for notes.
pub fn instance(alert: &Alert) -> String {
    alert
        .label("instance")
        .map(str::to_string)
        .or_else(|| {
            alert
                .first_record()
                .map(|record| record.where_.clone())
                .filter(|where_| !where_.is_empty())
        })
        .unwrap_or_else(|| alert.alert_name.clone())
}

/// What the rule needs to know about the incident of the resolved alert's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedIncident {
    /// Its ticket, once created; `None` while the create is pending.
    pub ticket_id: Option<i64>,
}

/// What to do with a resolved alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolutionDecision {
    /// One note on the incident's ticket: `ticket_id` when known, else the ticket its pending
    /// create makes (the note job runs after the create, in the incident's order).
    NoteOnTicket {
        /// The ticket, if already created.
        ticket_id: Option<i64>,
        /// Why.
        reason: String,
    },
    /// Nothing to do: no ticket was opened for the alert's key.
    NothingToResolve {
        /// Why.
        reason: String,
    },
    /// Other alerts of the ticket's group still fire; the note waits for the last of them.
    StillFiring {
        /// Why, naming what still fires.
        reason: String,
    },
}

/// Decides for a resolved alert given the incident of its key, if any.
pub fn decide(incident: Option<ResolvedIncident>) -> ResolutionDecision {
    match incident {
        Some(ResolvedIncident {
            ticket_id: Some(id),
        }) => ResolutionDecision::NoteOnTicket {
            ticket_id: Some(id),
            reason: format!("the alert resolved; ticket {id} gets a note"),
        },
        Some(ResolvedIncident { ticket_id: None }) => ResolutionDecision::NoteOnTicket {
            ticket_id: None,
            reason: "the alert resolved while its ticket is being created; the note follows \
                     the create"
                .to_string(),
        },
        None => ResolutionDecision::NothingToResolve {
            reason: "the alert resolved, but no ticket is tracked for it (never fired here, or \
                     forgotten after the retention period)"
                .to_string(),
        },
    }
}

/// The note's text: what resolved, when, and the resolved alert's record.
pub fn note(alert: &Alert) -> String {
    let mut text = format!(
        "[mspbridge] Resolved: {} at {}",
        alert.alert_name,
        alert.occurred_at.to_rfc3339()
    );
    for record in &alert.records {
        text.push_str("\n\n");
        text.push_str(&record.to_text());
    }
    cap(&text)
}

/// Decides for a resolved `alert` of a group: takes it off `group`, and when nothing of the group
/// fires any more decides the note (naming, in `group.resolved`, every instance that resolved).
/// An incident that tracks no group (alerts without fingerprints) gets its note at once.
pub fn decide_group(
    incident: Option<ResolvedIncident>,
    group: &mut GroupState,
    alert: &Alert,
) -> ResolutionDecision {
    if incident.is_none() {
        return decide(None);
    }
    if let Some((fingerprint, instance)) = member(alert) {
        let tracked = group.firing.remove(&fingerprint).is_some();
        if (tracked || group.firing.is_empty()) && !group.resolved.contains(&instance) {
            group.resolved.push(instance);
        }
        if !group.firing.is_empty() {
            let still: Vec<&str> = group.firing.values().map(String::as_str).collect();
            return ResolutionDecision::StillFiring {
                reason: format!(
                    "{} resolved; {} of the group still firing: {}",
                    self::instance(alert),
                    still.len(),
                    still.join(", ")
                ),
            };
        }
    }
    decide(incident)
}

/// The note of a group whose every alert resolved: what resolved, when, and the last record.
pub fn group_note(alert: &Alert, resolved: &[String]) -> String {
    if resolved.len() <= 1 {
        let mut text = note(alert);
        if let Some(only) = resolved.first() {
            text = cap(&format!("{text}\n\nResolved: {only}"));
        }
        return text;
    }
    let mut text = format!(
        "[mspbridge] Resolved: {} at {}\n\nEvery alert of the group has resolved ({}): {}",
        alert.alert_name,
        alert.occurred_at.to_rfc3339(),
        resolved.len(),
        resolved.join(", ")
    );
    for record in &alert.records {
        text.push_str("\n\nLast to resolve:\n");
        text.push_str(&record.to_text());
    }
    cap(&text)
}

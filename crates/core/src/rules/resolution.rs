//! A resolved alert (Alertmanager's `resolved`) ends a condition; it is not one more occurrence.
//!
//! So it never joins a consolidation buffer, never counts toward the flood limit, never reopens a
//! closed ticket and never opens a ticket of its own: it adds one note to the ticket its firing
//! alert opened. With no incident for its key (the firing alert was never seen, or is forgotten)
//! there is nothing to resolve.

use crate::alert::Alert;

use super::content::cap;

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

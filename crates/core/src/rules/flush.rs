//! Rule 4, second half: what a scheduled flush does once it has read the ticket's current status
//! from ConnectWise.

use crate::config::{RulesConfig, StatusRef};

/// What a flush does to the incident's ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlushDecision {
    /// The ticket is open: one update (note, and attachment) for the whole buffer.
    Update {
        /// Why.
        reason: String,
    },
    /// The ticket is closed and may be reopened: set its status, then update it.
    ReopenThenUpdate {
        /// The status to set; `None` means the board's default open status.
        status: Option<StatusRef>,
        /// Why.
        reason: String,
    },
    /// The ticket is closed and must stay so: a new ticket carries the buffered alerts.
    NewTicket {
        /// Why.
        reason: String,
    },
}

/// Decides for a ticket that is closed (`ticket_closed`: its status is one of
/// `reopen_closed_statuses` or ConnectWise flags it closed) or open.
pub fn decide(
    ticket_closed: bool,
    rules: &RulesConfig,
    reopen_new_status: Option<&StatusRef>,
) -> FlushDecision {
    if !ticket_closed {
        return FlushDecision::Update {
            reason: "the ticket is open".to_string(),
        };
    }
    if rules.reopen_ticket_on_repetitive_alerts && rules.update_ticket_on_repetitive_alerts {
        let target = match reopen_new_status {
            Some(StatusRef::Id(id)) => format!("status id {id}"),
            Some(StatusRef::Name(name)) => format!("status \"{name}\""),
            None => "the board's default status".to_string(),
        };
        return FlushDecision::ReopenThenUpdate {
            status: reopen_new_status.cloned(),
            reason: format!("the ticket is closed; reopened to {target}"),
        };
    }
    FlushDecision::NewTicket {
        reason: "the ticket is closed and reopen_ticket_on_repetitive_alerts is off; a new \
                 ticket carries the buffered alerts"
            .to_string(),
    }
}

//! Rule 4, second half: when a consolidation buffer is flushed ([`flush_at`], [`after_drain`]),
//! and what a due flush does once it has read the ticket's current status from ConnectWise
//! ([`step`]: closed or open, reopen to which status, or a new ticket).

use chrono::{DateTime, Utc};

use crate::clock::add;
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
        let target = describe_status(reopen_new_status);
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

/// How a status is named in reasons and errors.
pub fn describe_status(status: Option<&StatusRef>) -> String {
    match status {
        Some(StatusRef::Id(id)) => format!("status id {id}"),
        Some(StatusRef::Name(name)) => format!("status \"{name}\""),
        None => "the board's default status".to_string(),
    }
}

// ------------------------------------------------------------------ flush scheduling

/// The one flush time of rule 4: a buffer started at `at` (or left non-empty by a flush at `at`)
/// is flushed `consolidation_interval` later (`at` itself when the interval is 0).
pub fn flush_at(at: DateTime<Utc>, rules: &RulesConfig) -> DateTime<Utc> {
    add(at, rules.consolidation_interval)
}

/// After a flush at `now` drained `drained` of the `buffered` alerts its incident counted: when
/// the rest (alerts that joined during the flush) is flushed, or `None` when nothing is left.
pub fn after_drain(
    buffered: u64,
    drained: u64,
    now: DateTime<Utc>,
    rules: &RulesConfig,
) -> Option<DateTime<Utc>> {
    (buffered > drained).then(|| flush_at(now, rules))
}

// ------------------------------------------------------------------ closed status and reopen

/// The status a ticket carries, as ConnectWise returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketStatus {
    /// `closedFlag` of the ticket.
    pub closed_flag: bool,
    /// Its status id and, when ConnectWise sent it, the name.
    pub status: Option<(i64, Option<String>)>,
}

/// One status of a ticket's board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardStatus {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: Option<String>,
    /// A closed status.
    pub closed: bool,
    /// Switched off on the board.
    pub inactive: bool,
    /// The board's default status.
    pub default: bool,
    /// Its place in the board's list.
    pub sort_order: Option<i64>,
}

/// Whether the ticket counts as closed: ConnectWise flags it closed, or its status is one of
/// `closed_statuses` (`reopen_closed_statuses`), by id or by name (case-insensitive; the name is
/// the ticket's or, when it carries none, the board's for that id).
pub fn is_closed(
    ticket: &TicketStatus,
    closed_statuses: &[StatusRef],
    board: &[BoardStatus],
) -> bool {
    if ticket.closed_flag {
        return true;
    }
    let Some((id, name)) = ticket.status.as_ref() else {
        return false;
    };
    closed_statuses.iter().any(|closed| match closed {
        StatusRef::Id(closed) => i64::from(*closed) == *id,
        StatusRef::Name(closed) => {
            name.as_deref()
                .is_some_and(|current| current.eq_ignore_ascii_case(closed))
                || board.iter().any(|known| {
                    known.id == *id
                        && known
                            .name
                            .as_deref()
                            .is_some_and(|known| known.eq_ignore_ascii_case(closed))
                })
        }
    })
}

/// The id of the board status called `name` (case-insensitive).
pub fn status_id_by_name(board: &[BoardStatus], name: &str) -> Option<i64> {
    board
        .iter()
        .find(|known| {
            known
                .name
                .as_deref()
                .is_some_and(|known| known.eq_ignore_ascii_case(name))
        })
        .map(|known| known.id)
}

/// The status id a reopen sets: the id given, the board status of the name given, or (`None`)
/// the board's default open status (else its first active open one by sort order).
pub fn reopen_status_id(status: Option<&StatusRef>, board: &[BoardStatus]) -> Option<i64> {
    match status {
        Some(StatusRef::Id(id)) => Some(i64::from(*id)),
        Some(StatusRef::Name(name)) => status_id_by_name(board, name),
        None => board
            .iter()
            .filter(|known| !known.closed && !known.inactive)
            .min_by_key(|known| (!known.default, known.sort_order))
            .map(|known| known.id),
    }
}

/// What a due flush does next, given the ticket's status and (once read) its board's statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlushStep {
    /// The ticket alone cannot answer: read its board's statuses and ask again. Asked only when a
    /// closed status is configured by name and the ticket's status carries no name, or a reopen
    /// status is given by name (or left to the board's default).
    ReadBoardStatuses,
    /// One update (note, and attachment) for the whole buffer.
    Update {
        /// Why.
        reason: String,
    },
    /// Set the ticket's status to `status_id`, then update it.
    Reopen {
        /// The status to set.
        status_id: i64,
        /// Why.
        reason: String,
    },
    /// The ticket must not be reopened (or is gone): a new ticket carries the buffered alerts.
    NewTicket {
        /// Why.
        reason: String,
    },
    /// The ticket should be reopened but its board has no status to reopen it to.
    CannotReopen {
        /// What is wrong and what to set.
        problem: String,
    },
}

/// Rule 4 for a due flush of ticket `ticket_id`: `board` is `None` until the board's statuses
/// were read (see [`FlushStep::ReadBoardStatuses`]); `closed_statuses` and `reopen_new_status`
/// are the client's ticket settings.
pub fn step(
    ticket_id: i64,
    ticket: &TicketStatus,
    board: Option<&[BoardStatus]>,
    closed_statuses: &[StatusRef],
    reopen_new_status: Option<&StatusRef>,
    rules: &RulesConfig,
) -> FlushStep {
    let named_closed_statuses = closed_statuses
        .iter()
        .any(|status| matches!(status, StatusRef::Name(_)));
    let status_name_missing = ticket
        .status
        .as_ref()
        .is_some_and(|(_, name)| name.is_none());
    let closed = is_closed(ticket, closed_statuses, board.unwrap_or(&[]));
    if !closed && board.is_none() && named_closed_statuses && status_name_missing {
        return FlushStep::ReadBoardStatuses;
    }
    match decide(closed, rules, reopen_new_status) {
        FlushDecision::Update { reason } => FlushStep::Update { reason },
        FlushDecision::NewTicket { reason } => FlushStep::NewTicket { reason },
        FlushDecision::ReopenThenUpdate { status, reason } => {
            let board = match (&status, board) {
                (Some(StatusRef::Id(_)), _) => &[][..],
                (_, Some(board)) => board,
                (_, None) => return FlushStep::ReadBoardStatuses,
            };
            match reopen_status_id(status.as_ref(), board) {
                Some(status_id) => FlushStep::Reopen { status_id, reason },
                None => FlushStep::CannotReopen {
                    problem: format!(
                        "cannot reopen ticket {ticket_id}: {} names no open status of its board; \
                         set connectwise.ticket.reopen_new_status",
                        match &status {
                            Some(status) => describe_status(Some(status)),
                            None => "the board's default".to_string(),
                        }
                    ),
                },
            }
        }
    }
}

/// A flush whose ticket ConnectWise no longer has: like a closed ticket that may not be reopened.
pub fn ticket_gone(ticket_id: i64) -> FlushStep {
    FlushStep::NewTicket {
        reason: format!(
            "ticket {ticket_id} no longer exists in ConnectWise; a new ticket carries the \
             buffered alerts"
        ),
    }
}

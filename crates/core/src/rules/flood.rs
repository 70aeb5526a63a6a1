//! Rule 5, the flood limit: once a client has had `ticket_flood_limit` standalone tickets created
//! within the last `ticket_flood_interval`, new alert types go to the client's single *flood
//! ticket* instead. The flood ticket is opened once per flood interval, reused (consolidated like
//! any incident) while its interval lasts, and replaced by a new one after it.
//!
//! A limit of 0 switches the flood limit off. Both windows are inclusive at their start: a ticket
//! created exactly `ticket_flood_interval` ago still counts, and a flood ticket opened exactly
//! `ticket_flood_interval` ago is still reused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::{add, sub};
use crate::config::RulesConfig;
use crate::duration::format_duration;
use crate::rules::flush;
use crate::rules::repeat::IncidentState;

/// What to do with an alert that needs a new ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FloodDecision {
    /// A standalone ticket of its own.
    Standalone {
        /// Why.
        reason: String,
    },
    /// Open the client's flood ticket for a new flood interval and put the alert there.
    OpenFloodTicket {
        /// Why.
        reason: String,
    },
    /// Put the alert into the flood ticket opened at `opened_at`.
    UseFloodTicket {
        /// When the flood ticket in use was opened.
        opened_at: DateTime<Utc>,
        /// Why.
        reason: String,
    },
}

/// How many of `created` (times standalone tickets were created for the client) fall within the
/// flood window ending at `now`.
pub fn standalone_created_in_window(
    created: &[DateTime<Utc>],
    now: DateTime<Utc>,
    interval: Duration,
) -> u32 {
    let since = sub(now, interval);
    created
        .iter()
        .filter(|at| **at >= since && **at <= now)
        .count() as u32
}

/// Decides, given the standalone tickets created in the window, the limit, and when the client's
/// current flood ticket (if any) was opened.
pub fn decide(
    standalone_created_in_window: u32,
    limit: u32,
    flood_ticket_opened_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    interval: Duration,
) -> FloodDecision {
    if limit == 0 || standalone_created_in_window < limit {
        return FloodDecision::Standalone {
            reason: if limit == 0 {
                "the flood limit is off (ticket_flood_limit = 0)".to_string()
            } else {
                format!(
                    "{standalone_created_in_window} of {limit} standalone tickets used in the last {}",
                    format_duration(interval)
                )
            },
        };
    }
    match flood_ticket_opened_at {
        Some(opened_at) if add(opened_at, interval) >= now && opened_at <= now => {
            FloodDecision::UseFloodTicket {
                opened_at,
                reason: format!(
                    "flood limit of {limit} tickets per {} reached; the flood ticket opened at {} \
                     is still current",
                    format_duration(interval),
                    opened_at.to_rfc3339()
                ),
            }
        }
        Some(opened_at) => FloodDecision::OpenFloodTicket {
            reason: format!(
                "flood limit of {limit} tickets per {} reached; the flood ticket opened at {} \
                 belongs to an earlier flood interval, so a new one is opened",
                format_duration(interval),
                opened_at.to_rfc3339()
            ),
        },
        None => FloodDecision::OpenFloodTicket {
            reason: format!(
                "flood limit of {limit} tickets per {} reached; the client's flood ticket is opened",
                format_duration(interval)
            ),
        },
    }
}

/// A client's flood bookkeeping, as the engine stores it between alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloodState {
    /// When standalone tickets were decided, trimmed to the flood window.
    #[serde(default)]
    pub standalone: Vec<DateTime<Utc>>,
    /// When the current flood ticket was opened.
    #[serde(default)]
    pub flood_opened_at: Option<DateTime<Utc>>,
}

/// What [`decide_for_client`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFlood {
    /// The decision.
    pub decision: FloodDecision,
    /// The client's flood state to store.
    pub state: FloodState,
    /// Standalone tickets counted in the flood window (before this alert).
    pub standalone_in_window: u32,
}

/// Rule 5 for an alert at `at` that needs a new ticket, over the client's stored `state` and the
/// incident of its flood ticket (`None`: none is tracked, so a flood ticket still "current" by
/// its time is opened again).
pub fn decide_for_client(
    state: &FloodState,
    flood_incident: Option<&IncidentState>,
    at: DateTime<Utc>,
    rules: &RulesConfig,
) -> ClientFlood {
    let interval = rules.ticket_flood_interval;
    let mut next = state.clone();
    next.standalone
        .retain(|created| *created >= sub(at, interval));
    let used = standalone_created_in_window(&next.standalone, at, interval);
    let mut decision = decide(
        used,
        rules.ticket_flood_limit,
        next.flood_opened_at,
        at,
        interval,
    );
    if matches!(decision, FloodDecision::UseFloodTicket { .. }) && flood_incident.is_none() {
        decision = FloodDecision::OpenFloodTicket {
            reason: "flood limit reached; the flood ticket's incident is gone, so a new one \
                     is opened"
                .to_string(),
        };
    }
    match &decision {
        FloodDecision::Standalone { .. } => next.standalone.push(at),
        FloodDecision::OpenFloodTicket { .. } => next.flood_opened_at = Some(at),
        FloodDecision::UseFloodTicket { .. } => {}
    }
    ClientFlood {
        decision,
        state: next,
        standalone_in_window: used,
    }
}

/// When an alert put into the flood ticket at `at` schedules the flood incident's flush: when
/// none is scheduled yet ([`flush::flush_at`]). Unlike a repeat ([`crate::rules::repeat`]) there
/// is no `update_interval` check: the flood ticket takes every new alert type of its client
/// while its flood interval lasts, however long ago its last alert was.
pub fn flood_ticket_flush_at(
    flood_incident: Option<&IncidentState>,
    at: DateTime<Utc>,
    rules: &RulesConfig,
) -> Option<DateTime<Utc>> {
    let scheduled = flood_incident.is_some_and(|incident| incident.flush_scheduled);
    (!scheduled).then(|| flush::flush_at(at, rules))
}

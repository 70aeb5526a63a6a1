//! Rules 4 and 5, first half: is an alert a repeat that joins its incident's consolidation buffer,
//! or does it need a new ticket?
//!
//! "Within `update_interval`" is inclusive: an alert arriving exactly `update_interval` after the
//! incident's last alert still updates the ticket; one a microsecond later opens a new one. The
//! window is measured from the incident's *last* alert, so a condition that keeps firing keeps its
//! ticket.

use chrono::{DateTime, Utc};

use crate::clock::add;
use crate::config::RulesConfig;
use crate::duration::format_duration;
use crate::rules::flush;

/// What the rule needs to know about the incident tracked for the alert's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentState {
    /// The incident's latest alert.
    pub last_alert_at: DateTime<Utc>,
    /// Alerts waiting in its consolidation buffer.
    pub buffered: usize,
    /// Its flush is already scheduled (a buffer that is non-empty always has one).
    pub flush_scheduled: bool,
}

/// What to do with an alert of a known or unknown type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepeatDecision {
    /// A new ticket (subject to the flood limit).
    NewTicket {
        /// Why.
        reason: String,
    },
    /// Add the alert to the incident's buffer.
    JoinBuffer {
        /// `Some(time)` when this alert starts the buffer and must schedule the one flush
        /// (`time == at` when the consolidation interval is 0: flush now); `None` when a flush is
        /// already scheduled.
        schedule_flush_at: Option<DateTime<Utc>>,
        /// Why.
        reason: String,
    },
}

/// Decides for an alert received at `at`.
pub fn decide(
    incident: Option<&IncidentState>,
    at: DateTime<Utc>,
    rules: &RulesConfig,
) -> RepeatDecision {
    let Some(incident) = incident else {
        return RepeatDecision::NewTicket {
            reason: "new alert type: no incident is tracked for this key".to_string(),
        };
    };
    if !rules.update_ticket_on_repetitive_alerts {
        return RepeatDecision::NewTicket {
            reason: "repeat, but update_ticket_on_repetitive_alerts is off".to_string(),
        };
    }
    let window_end = add(incident.last_alert_at, rules.update_interval);
    if at > window_end {
        return RepeatDecision::NewTicket {
            reason: format!(
                "repeat after update_interval ({}): the last alert was at {}",
                format_duration(rules.update_interval),
                incident.last_alert_at.to_rfc3339()
            ),
        };
    }
    if incident.flush_scheduled {
        return RepeatDecision::JoinBuffer {
            schedule_flush_at: None,
            reason: format!(
                "repeat within update_interval; joins a buffer of {} alert(s) whose flush is \
                 already scheduled",
                incident.buffered
            ),
        };
    }
    // A buffer always has a flush: an empty one gets it from this alert (as would one an older
    // version left without a flush).
    let flush_at = flush::flush_at(at, rules);
    let reason = if rules.consolidation_interval.is_zero() {
        "repeat within update_interval; consolidation_interval is 0, so the ticket is updated now"
            .to_string()
    } else {
        format!(
            "repeat within update_interval; starts the buffer, flushed after consolidation_interval \
             ({})",
            format_duration(rules.consolidation_interval)
        )
    };
    RepeatDecision::JoinBuffer {
        schedule_flush_at: Some(flush_at),
        reason,
    }
}

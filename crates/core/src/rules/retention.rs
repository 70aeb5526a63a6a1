//! Rule 8, retention: how long mspbridge remembers what.
//!
//! Incidents must outlive both the update window (a repeat must find its ticket) and the
//! correlation window (a new ticket must find earlier ones), so they are kept for the longer of
//! the two. Accepted alert ids and ticket requests follow their configured `keep` and `limit`.

use std::time::Duration;

use crate::config::{RetentionLimit, RulesConfig};

/// What to keep, derived from `[rules]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPlan {
    /// Accepted (processed) alert ids: the intake dedup memory.
    pub alerts: RetentionLimit,
    /// Ticket requests (`externalXRef` → ticket).
    pub ticket_requests: RetentionLimit,
    /// Incidents and their ticket history.
    pub incidents: Duration,
}

/// `max(update_interval, correlation_interval)`.
pub fn incident_retention(rules: &RulesConfig) -> Duration {
    rules.update_interval.max(rules.correlation_interval)
}

/// The retention plan of `rules`.
pub fn plan(rules: &RulesConfig) -> RetentionPlan {
    RetentionPlan {
        alerts: rules.activity_record_requests,
        ticket_requests: rules.ticket_requests,
        incidents: incident_retention(rules),
    }
}

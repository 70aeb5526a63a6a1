//! Why an alert went where it went: the rule decisions the engine records with each alert.
//!
//! The engine writes them in the transaction that takes the alert off the queue
//! ([`crate::AlertOutcome::decisions`]) and, for what happens later (a flush consolidating the
//! alert into a note, a reopen), in the flush's own transaction ([`crate::DecisionBatch::notes`]).
//! They are kept with the alert row (column `alerts.decisions`, a JSON array, appended to, never
//! rewritten), so retention forgets them with the alert and `migrate --to` copies them with it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::AlertId;

/// The rule that decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionRule {
    /// Fetching the alert's activity record from Netwrix Auditor (rule 2).
    Enrichment,
    /// An Auditor *Test run*: no record with the alert's RID, so no ticket.
    Discarded,
    /// Which client the alert belongs to (rule 3).
    Routing,
    /// No client could be found (rule 3).
    Unrouted,
    /// Repeat of a known incident, or a new alert type (rule 4).
    Repeat,
    /// The client's ticket flood limit (rule 5).
    Flood,
    /// Earlier tickets of the same key named in the new ticket (rule 5).
    Correlation,
    /// The buffered alert carried by a flush into its ticket (rule 4).
    Consolidation,
    /// A closed ticket reopened by a flush, or left closed for a new one (rule 4).
    Reopen,
    /// An Alertmanager resolution.
    Resolution,
}

impl DecisionRule {
    /// The name shown to people and in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            DecisionRule::Enrichment => "enrichment",
            DecisionRule::Discarded => "discarded",
            DecisionRule::Routing => "routing",
            DecisionRule::Unrouted => "unrouted",
            DecisionRule::Repeat => "repeat",
            DecisionRule::Flood => "flood",
            DecisionRule::Correlation => "correlation",
            DecisionRule::Consolidation => "consolidation",
            DecisionRule::Reopen => "reopen",
            DecisionRule::Resolution => "resolution",
        }
    }
}

impl std::fmt::Display for DecisionRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule decision about an alert, with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleDecision {
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// The rule.
    pub rule: DecisionRule,
    /// What it decided, in a few words (`merged`, `new ticket`, `joined flood ticket`, …).
    pub outcome: String,
    /// Why, concretely: the values and settings the rule looked at.
    pub reason: String,
    /// The incident key the decision concerns, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_key: Option<String>,
    /// The ConnectWise ticket the decision concerns, when known at the time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<i64>,
}

impl RuleDecision {
    /// A decision made at `at`, concerning no incident.
    pub fn new(
        at: DateTime<Utc>,
        rule: DecisionRule,
        outcome: impl Into<String>,
        reason: impl Into<String>,
    ) -> RuleDecision {
        RuleDecision {
            at,
            rule,
            outcome: outcome.into(),
            reason: reason.into(),
            incident_key: None,
            ticket_id: None,
        }
    }

    /// The same decision, concerning incident `key`.
    pub fn incident(mut self, key: impl Into<String>) -> RuleDecision {
        self.incident_key = Some(key.into());
        self
    }

    /// The same decision, concerning ticket `ticket_id` when known.
    pub fn ticket(mut self, ticket_id: Option<i64>) -> RuleDecision {
        self.ticket_id = ticket_id;
        self
    }
}

/// Decisions appended to alerts that are not taken off the queue by the batch (they left it
/// earlier), e.g. the buffered alerts a flush consolidated into a note.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionNote {
    /// The alerts (an id no longer stored is skipped).
    pub alerts: Vec<AlertId>,
    /// What is appended to each, in order.
    pub decisions: Vec<RuleDecision>,
}

/// The JSON text appended to a stored decision list: a compact array, or `None` when there is
/// nothing to append. Both backends append it with the same text arithmetic (see
/// [`APPEND_SQL_SQLITE`]), which needs the compact form `serde_json` writes.
pub(crate) fn append_text(decisions: &[RuleDecision]) -> Option<String> {
    if decisions.is_empty() {
        return None;
    }
    serde_json::to_string(decisions).ok()
}

/// `decisions` with the compact JSON array bound three times (`?`) appended; `NULL` leaves it.
pub(crate) const APPEND_SQL_SQLITE: &str = "CASE WHEN ? IS NULL THEN decisions \
     WHEN decisions = '[]' THEN ? \
     ELSE substr(decisions, 1, length(decisions) - 1) || ',' || substr(?, 2) END";

/// [`APPEND_SQL_SQLITE`] with the array in the column `d.appended` of an `UPDATE … FROM` source.
pub(crate) const APPEND_SQL_SQLITE_COLUMN: &str = "CASE WHEN d.appended IS NULL THEN decisions \
     WHEN decisions = '[]' THEN d.appended \
     ELSE substr(decisions, 1, length(decisions) - 1) || ',' || substr(d.appended, 2) END";

/// [`APPEND_SQL_SQLITE`] for PostgreSQL, the array given once as the SQL expression `array`
/// (a parameter such as `$1::text`, or a column).
pub(crate) fn append_sql_postgres(array: &str) -> String {
    format!(
        "CASE WHEN {array} IS NULL THEN decisions \
         WHEN decisions = '[]' THEN {array} \
         ELSE substr(decisions, 1, length(decisions) - 1) || ',' || substr({array}, 2) END"
    )
}

/// Reads a stored decision list; an unreadable one (written by hand) reads as none.
pub(crate) fn parse(text: &str) -> Vec<RuleDecision> {
    serde_json::from_str(text).unwrap_or_default()
}

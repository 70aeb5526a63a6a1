//! The store's own record types.
//!
//! They are deliberately plain (strings, `serde_json::Value`, `DateTime<Utc>`) so the
//! store does not depend on the domain crate and a second backend can implement the same
//! port. Every time is supplied by the caller: the store never reads the clock, so rules
//! and tests can run on a manual clock. Times are kept with microsecond precision.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Store-assigned alert identifier.
pub type AlertId = i64;
/// Store-assigned job identifier.
pub type JobId = i64;

// ---------------------------------------------------------------- alerts

/// An alert as handed over by an intake.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// Source name (Auditor endpoint, webhook, Alertmanager receiver).
    pub source: String,
    /// The source's own id for the occurrence; `(source, source_alert_id)` is unique.
    pub source_alert_id: String,
    /// Client when already known at intake.
    pub client: Option<String>,
    /// Alert name (its type).
    pub alert_name: String,
    /// When the alert happened, per the source.
    pub occurred_at: DateTime<Utc>,
    /// When mspbridge received it.
    pub received_at: DateTime<Utc>,
    /// The full alert (activity records, free fields).
    pub payload: JsonText,
}

/// A JSON document held as its compact text, so an alert on its way into the store is serialised
/// once, straight from its own type, instead of through a [`Value`] tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// Serialises `value`.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<JsonText, serde_json::Error> {
        serde_json::to_string(value).map(JsonText)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document as a [`Value`].
    pub fn to_value(&self) -> Value {
        // The text was written by serde_json, so it parses.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl From<Value> for JsonText {
    fn from(value: Value) -> JsonText {
        // Value's Display is compact JSON and cannot fail.
        JsonText(value.to_string())
    }
}

/// Result of accepting an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AcceptOutcome {
    /// Newly stored under this id.
    Accepted(AlertId),
    /// Already stored under this id; nothing changed.
    Duplicate(AlertId),
}

impl AcceptOutcome {
    /// The alert id, whether new or existing.
    pub fn alert_id(&self) -> AlertId {
        match *self {
            AcceptOutcome::Accepted(id) | AcceptOutcome::Duplicate(id) => id,
        }
    }

    /// True when this call stored the alert.
    pub fn is_new(&self) -> bool {
        matches!(self, AcceptOutcome::Accepted(_))
    }
}

/// Where an alert is in the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum AlertState {
    /// Accepted, waiting to be processed.
    Queued,
    /// Waiting for its activity record: a durable fetch job retries until the record comes (or
    /// the source's patience runs out), then the alert is queued again.
    Enriching,
    /// Turned into ticket work; terminal.
    Processed,
    /// No client could be found; kept and retried after a config change.
    Unrouted,
}

impl AlertState {
    /// The stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertState::Queued => "queued",
            AlertState::Enriching => "enriching",
            AlertState::Processed => "processed",
            AlertState::Unrouted => "unrouted",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "queued" => Some(AlertState::Queued),
            "enriching" => Some(AlertState::Enriching),
            "processed" => Some(AlertState::Processed),
            "unrouted" => Some(AlertState::Unrouted),
            _ => None,
        }
    }

    /// Whether moving from `self` to `to` is allowed: `queued` → `enriching` | `processed` |
    /// `unrouted`, `enriching` → `queued` | `processed`, `unrouted` → `queued` | `processed`;
    /// `processed` is final. Staying put is allowed.
    pub fn can_become(&self, to: AlertState) -> bool {
        use AlertState::*;
        matches!(
            (self, to),
            (Queued, Queued)
                | (Queued, Processed)
                | (Queued, Unrouted)
                | (Queued, Enriching)
                | (Enriching, Enriching)
                | (Enriching, Queued)
                | (Enriching, Processed)
                | (Unrouted, Unrouted)
                | (Unrouted, Queued)
                | (Unrouted, Processed)
                | (Processed, Processed)
        )
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Store id (ascending in acceptance order).
    pub id: AlertId,
    /// Source name.
    pub source: String,
    /// Source's alert id.
    pub source_alert_id: String,
    /// Routed client, if any.
    pub client: Option<String>,
    /// Alert name.
    pub alert_name: String,
    /// Occurrence time.
    pub occurred_at: DateTime<Utc>,
    /// Receipt time.
    pub received_at: DateTime<Utc>,
    /// Pipeline state.
    pub state: AlertState,
    /// Full alert.
    pub payload: Value,
}

/// Which alerts to list. Results are in ascending id order; `after_id` pages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertFilter {
    /// Only this state.
    pub state: Option<AlertState>,
    /// Only this client.
    pub client: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Only ids greater than this (keyset pagination).
    pub after_id: Option<AlertId>,
}

// ---------------------------------------------------------------- jobs

/// What the engine decided for a page of alerts, written by [`crate::Store::commit_decisions`]
/// in one transaction: an alert is marked processed together with the incident changes and
/// the jobs it implies, or not at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionBatch {
    /// Alerts taken off the queue.
    pub alerts: Vec<AlertOutcome>,
    /// Incidents to write, each with the version it was read at (0: new).
    pub incidents: Vec<Incident>,
    /// Conditional key-value writes.
    pub settings: Vec<SettingWrite>,
    /// Jobs to enqueue (an idempotency key already stored is kept, as in `enqueue_jobs`).
    pub jobs: Vec<NewJob>,
    /// Consolidation buffer changes, applied in order after the incidents are written. Each
    /// names an incident of `incidents`, whose version check is what guards the buffer: it
    /// changes only together with its incident.
    pub buffer: Vec<BufferChange>,
    /// Rule decisions appended to alerts that left the queue earlier (a flush's consolidation
    /// or reopen), in order.
    pub notes: Vec<crate::DecisionNote>,
}

/// A change to an incident's consolidation buffer, made in a [`DecisionBatch`].
#[derive(Debug, Clone, PartialEq)]
pub enum BufferChange {
    /// Adds `entry` at the end of the buffer of incident `key`.
    Append {
        /// The incident.
        key: String,
        /// What is buffered (e.g. an alert id).
        entry: Value,
    },
    /// Removes the entries of incident `key` up to and including `through` (a
    /// [`BufferEntry::position`]).
    DrainThrough {
        /// The incident.
        key: String,
        /// The last position removed.
        through: i64,
    },
}

impl BufferChange {
    /// The incident whose buffer changes.
    pub fn key(&self) -> &str {
        match self {
            BufferChange::Append { key, .. } | BufferChange::DrainThrough { key, .. } => key,
        }
    }
}

/// One entry of an incident's consolidation buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BufferEntry {
    /// Where it stands: positions increase in the order entries were appended.
    pub position: i64,
    /// What was buffered.
    pub entry: Value,
}

/// One alert's new row values in a [`DecisionBatch`].
#[derive(Debug, Clone, PartialEq)]
pub struct AlertOutcome {
    /// The alert.
    pub id: AlertId,
    /// Its new state: `processed`, `unrouted` or `enriching` (it must be `queued`).
    pub state: AlertState,
    /// The client it was routed to.
    pub client: Option<String>,
    /// A replacement payload (the alert with its fetched records), if any.
    pub payload: Option<Value>,
    /// What the alert counts in its client's report roll-ups
    /// ([`crate::rollup::alert_counts`] of its stored payload), when the caller has that payload
    /// parsed at hand; `None` has the store read the payload back to count it. Unused when
    /// `payload` replaces the stored one: the replacement is counted.
    pub counted: Option<Vec<(crate::rollup::RollupKind, String)>>,
    /// The rule decisions that took it off the queue, with their reasons, appended to the ones
    /// it already has (an alert can be decided more than once: after enrichment, a reroute).
    pub decisions: Vec<crate::RuleDecision>,
}

impl AlertOutcome {
    /// The error for an alert a decision could not take off the queue, from its current state
    /// (`None`: there is no such alert).
    pub(crate) fn refused(&self, current_state: Option<String>) -> crate::error::StoreError {
        match current_state {
            Some(from) => crate::error::StoreError::InvalidTransition {
                what: "alert",
                id: self.id.to_string(),
                from,
                to: self.state.to_string(),
            },
            None => crate::error::StoreError::NotFound {
                what: "alert",
                id: self.id.to_string(),
            },
        }
    }
}

/// A key-value write made only if the stored value is still `expected` (`None`: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct SettingWrite {
    /// The key.
    pub key: String,
    /// The value the decision was based on.
    pub expected: Option<Value>,
    /// The new value.
    pub value: Value,
}

/// Work to enqueue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// What the worker must do (e.g. `ticket.create`).
    pub kind: String,
    /// Jobs sharing a serial key run one at a time, oldest first (e.g. the incident key).
    pub serial_key: Option<String>,
    /// Job arguments.
    pub payload: Value,
    /// Not before this time.
    pub run_at: DateTime<Utc>,
    /// Enqueuing the same key again returns the existing job instead of a new one.
    pub idempotency_key: Option<String>,
    /// When the job was enqueued.
    pub created_at: DateTime<Utc>,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum JobState {
    /// Waiting for `run_at` (first run or a retry after backoff).
    Queued,
    /// Leased by a worker (if the lease expired, it can be claimed again).
    Running,
    /// Completed.
    Done,
    /// Gave up; keeps its last error and attempt count until retried from the console.
    Dead,
}

impl JobState {
    /// The stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "queued" => Some(JobState::Queued),
            "running" => Some(JobState::Running),
            "done" => Some(JobState::Done),
            "dead" => Some(JobState::Dead),
            _ => None,
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored job. `lease_token` is what a worker presents to complete, fail or extend it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Job id.
    pub id: JobId,
    /// Kind.
    pub kind: String,
    /// Serial key.
    pub serial_key: Option<String>,
    /// Arguments.
    pub payload: Value,
    /// State.
    pub state: JobState,
    /// Next eligible time.
    pub run_at: DateTime<Utc>,
    /// Times the job was claimed.
    pub attempts: u32,
    /// Worker holding (or last holding) the lease.
    pub lease_owner: Option<String>,
    /// Proof of the current lease; changes on every claim.
    pub lease_token: Option<String>,
    /// When the current lease ends.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Last failure message.
    pub last_error: Option<String>,
    /// Idempotency key.
    pub idempotency_key: Option<String>,
    /// Enqueue time.
    pub created_at: DateTime<Utc>,
    /// When it was completed or dead-lettered.
    pub finished_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Job {
    // The lease token is a capability; keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("serial_key", &self.serial_key)
            .field("state", &self.state)
            .field("run_at", &self.run_at)
            .field("attempts", &self.attempts)
            .field("lease_owner", &self.lease_owner)
            .field(
                "lease_token",
                &self.lease_token.as_ref().map(|_| "<redacted>"),
            )
            .field("lease_expires_at", &self.lease_expires_at)
            .field("last_error", &self.last_error)
            .field("idempotency_key", &self.idempotency_key)
            .field("created_at", &self.created_at)
            .field("finished_at", &self.finished_at)
            .finish_non_exhaustive()
    }
}

/// Which jobs to list (ascending id order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobFilter {
    /// Only this state.
    pub state: Option<JobState>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this serial key.
    pub serial_key: Option<String>,
    /// Only ids greater than this (keyset pagination).
    pub after_id: Option<JobId>,
}

/// An engine's share of the alert queue when several processes share one database: queued alerts
/// are spread over `count` parts by their client as given at intake and their name, so the alerts
/// of one incident key nearly always fall in one part, and the engine takes the alerts of part
/// `index`. It only spreads the work: one incident is still decided by one process at a time
/// through its key's claim ([`crate::Store::claim_incident_keys`]), whoever takes its alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// This engine's part, below `count`.
    pub index: u32,
    /// How many engines share the queue.
    pub count: u32,
}

impl Partition {
    /// The whole queue: the only engine.
    pub const WHOLE: Partition = Partition { index: 0, count: 1 };

    /// `owner`'s part among the `live` engines, sorted by name; the whole queue if it is not
    /// among them (its membership ran out between its renewal and the read).
    pub(crate) fn among(owner: &str, live: &[String]) -> Partition {
        match live.iter().position(|name| name == owner) {
            Some(index) => Partition {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                count: u32::try_from(live.len()).unwrap_or(u32::MAX),
            },
            None => Partition::WHOLE,
        }
    }
}

/// Unfinished and dead-lettered job counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueDepth {
    /// Waiting (due or backing off).
    pub queued: u64,
    /// Leased (including expired leases not yet reclaimed).
    pub running: u64,
    /// Dead-lettered.
    pub dead: u64,
}

// ---------------------------------------------------------------- incidents

/// What mspbridge tracks per alert key. `version` is the optimistic lock: 0 for a new
/// incident; the store increments it on every successful upsert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Alert key.
    pub key: String,
    /// Client.
    pub client: Option<String>,
    /// The ConnectWise ticket this incident owns.
    pub ticket_id: Option<i64>,
    /// Rule-defined status (e.g. `open`, `pending_create`).
    pub status: String,
    /// First alert of the incident.
    pub first_alert_at: DateTime<Utc>,
    /// Latest alert.
    pub last_alert_at: DateTime<Utc>,
    /// Alerts seen.
    pub alert_count: u64,
    /// Entries in the consolidation buffer. The store keeps this count as the buffer changes
    /// ([`DecisionBatch::buffer`]); writing an incident leaves it alone. The entries themselves
    /// are read with `Store::incident_buffer`.
    pub buffered: u64,
    /// When the buffer must be flushed.
    pub flush_at: Option<DateTime<Utc>>,
    /// This is a client's flood ticket incident.
    pub flood: bool,
    /// Free rule state.
    pub details: Value,
    /// Optimistic version.
    pub version: i64,
}

impl Incident {
    /// The alert count as stored (a signed 64-bit column).
    pub(crate) fn stored_alert_count(&self) -> Result<i64, crate::error::StoreError> {
        i64::try_from(self.alert_count).map_err(|_| {
            crate::error::StoreError::InvalidArgument(format!(
                "incident {:?} alert count {} is too large",
                self.key, self.alert_count
            ))
        })
    }
}

/// Which incidents to list (ascending key order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentFilter {
    /// Only this client.
    pub client: Option<String>,
    /// Only incidents whose `flush_at` is at or before this time (due flushes).
    pub flush_due_by: Option<DateTime<Utc>>,
    /// Only flood (true) or standalone (false) incidents.
    pub flood: Option<bool>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// A ticket an incident key owned, recorded whenever an upsert sets a new `ticket_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentHistoryEntry {
    /// Alert key.
    pub key: String,
    /// Client at the time.
    pub client: Option<String>,
    /// The ticket.
    pub ticket_id: i64,
    /// The incident's `last_alert_at` when the ticket was attached.
    pub opened_at: DateTime<Utc>,
    /// Whether it was a flood ticket.
    pub flood: bool,
}

// ---------------------------------------------------------------- ticket requests

/// A ticket create identified by the `externalXRef` it carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRequest {
    /// The stable key sent in `externalXRef`.
    pub external_xref: String,
    /// Incident key it was made for.
    pub incident_key: String,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// The ticket, once the outcome is known.
    pub ticket_id: Option<i64>,
}

// ---------------------------------------------------------------- events

/// An integration event to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Event id (DESIGN §7).
    pub code: u32,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Client concerned.
    pub client: Option<String>,
    /// What it is about (ticket id, system name, job id…).
    pub subject: Option<String>,
    /// Human message.
    pub message: String,
    /// Structured details.
    pub details: Value,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Store id.
    pub id: i64,
    /// Event id (DESIGN §7).
    pub code: u32,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Client concerned.
    pub client: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Message.
    pub message: String,
    /// Details.
    pub details: Value,
}

/// Which events to list (newest first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Only this code.
    pub code: Option<u32>,
    /// Only this client.
    pub client: Option<String>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}

/// Event counts keyed by code.
pub type EventCounts = BTreeMap<u32, u64>;

// ---------------------------------------------------------------- retention

/// Age and count limits for one kind of record. `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepLimit {
    /// Forget records older than this.
    pub keep: Option<Duration>,
    /// Keep at most this many, dropping the oldest first.
    pub limit: Option<u64>,
}

/// What `prune` may forget. Queued and unrouted alerts, unfinished jobs and dead jobs are
/// never pruned: only processed alerts, done jobs and bookkeeping. A processed alert still named
/// by a consolidation buffer is kept until the buffer is flushed, and the newest alert is kept so
/// alert ids keep increasing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Processed alerts (the intake dedup memory), by `received_at`.
    pub alerts: KeepLimit,
    /// Ticket requests, by `created_at`. The count limit never removes a request whose ticket
    /// is not known yet (a create in flight); only its age does.
    pub ticket_requests: KeepLimit,
    /// Incidents by `last_alert_at`, and incident history by `opened_at`.
    pub incidents: Option<Duration>,
    /// Events, by `at`.
    pub events: Option<Duration>,
    /// At most this many events, the oldest forgotten first.
    pub events_limit: Option<u64>,
    /// Done jobs, by `finished_at`.
    pub done_jobs: Option<Duration>,
    /// Daily report roll-ups, by their day (a day is forgotten once it ended this long ago).
    pub rollups: Option<Duration>,
    /// Reports whose `expires_at` has passed (unless a publish is pending).
    pub expired_reports: bool,
    /// Most rows removed from one table in one pass (`None`: no bound). Rows are always removed
    /// in short transactions of a few thousand, so intake is never held up for long; the bound
    /// caps the whole pass.
    pub max_rows_per_table: Option<u64>,
}

/// How many rows `prune` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    /// Processed alerts.
    pub alerts: u64,
    /// Ticket requests.
    pub ticket_requests: u64,
    /// Incidents.
    pub incidents: u64,
    /// Incident history entries.
    pub incident_history: u64,
    /// Consolidation buffer entries left without their incident.
    pub buffer_entries: u64,
    /// Events.
    pub events: u64,
    /// Done jobs.
    pub done_jobs: u64,
    /// Daily report roll-up rows.
    pub rollups: u64,
    /// Expired reports.
    pub reports: u64,
    /// Free database pages given back to the file system after the pass (incremental vacuum).
    pub vacuumed_pages: u64,
    /// Whether some table still had more to remove when its `max_rows_per_table` was reached.
    pub incomplete: bool,
}

impl PruneReport {
    /// Rows removed in all.
    pub fn total(&self) -> u64 {
        self.alerts
            + self.ticket_requests
            + self.incidents
            + self.incident_history
            + self.buffer_entries
            + self.events
            + self.done_jobs
            + self.rollups
            + self.reports
    }
}

// ---------------------------------------------------------------- storage statistics

/// Size of the database and rows per table, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageStats {
    /// Bytes the database occupies (pages in use and free pages; for SQLite the main file, for
    /// PostgreSQL `pg_database_size`).
    pub database_bytes: u64,
    /// Bytes in free pages, given back to the file system by incremental vacuum (SQLite; always 0
    /// on PostgreSQL, which keeps no cheap count of reusable space).
    pub free_bytes: u64,
    /// Rows per table, by table name, sorted by name.
    pub rows: Vec<(String, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_state_transitions_follow_the_pipeline() {
        use AlertState::*;
        let cases = [
            (Queued, Processed, true),
            (Queued, Unrouted, true),
            (Unrouted, Queued, true),
            (Unrouted, Processed, true),
            (Processed, Queued, false),
            (Processed, Unrouted, false),
            (Queued, Queued, true),
        ];
        for (from, to, allowed) in cases {
            assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
        }
    }

    #[test]
    fn stored_spellings_round_trip() {
        for state in [
            AlertState::Queued,
            AlertState::Processed,
            AlertState::Unrouted,
        ] {
            assert_eq!(AlertState::parse(state.as_str()), Some(state));
        }
        for state in [
            JobState::Queued,
            JobState::Running,
            JobState::Done,
            JobState::Dead,
        ] {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        assert_eq!(AlertState::parse("lost"), None);
        assert_eq!(JobState::parse(""), None);
    }

    #[test]
    fn job_debug_hides_the_lease_token() {
        let job = Job {
            id: 1,
            kind: "ticket.create".into(),
            serial_key: None,
            payload: Value::Null,
            state: JobState::Running,
            run_at: DateTime::<Utc>::UNIX_EPOCH,
            attempts: 1,
            lease_owner: Some("w".into()),
            lease_token: Some("0123456789abcdef".into()),
            lease_expires_at: None,
            last_error: None,
            idempotency_key: None,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            finished_at: None,
        };
        let debug = format!("{job:?}");
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn accept_outcome_reports_the_id_either_way() {
        assert_eq!(AcceptOutcome::Accepted(3).alert_id(), 3);
        assert_eq!(AcceptOutcome::Duplicate(4).alert_id(), 4);
        assert!(AcceptOutcome::Accepted(3).is_new());
        assert!(!AcceptOutcome::Duplicate(4).is_new());
    }
}

//! The durable jobs: every effect on ConnectWise or IT Glue and every activity-record fetch.
//!
//! A job is a typed value ([`Job`]) from the moment it is decided until it runs; it is turned into
//! text only at the store's edge ([`Job::to_new`], [`Job::decode`]), where the store keeps its kind
//! and its payload as JSON. One runner ([`runner::JobRunner`]) claims due jobs in a lane per kind,
//! so a backlog of one kind (a storm of notes, a batch of report publishes) never starves another;
//! one policy ([`policy::JobPolicy`], with the one [`Backoff`](mspbridge_connectors::Backoff))
//! decides when a failed job runs again and when it is dead-lettered.
//!
//! Jobs of one incident share its key as serial key, so they run one at a time in the order they
//! were enqueued (create before flush, flush before its note).

pub mod policy;
pub mod runner;

use std::fmt;

use chrono::{DateTime, Utc};
use mspbridge_connectors::ErrorClass;
use mspbridge_core::config::{ClientTicketOverrides, DescriptionField, TicketLevel};
use mspbridge_store::{Job as StoredJob, NewJob};
use serde::{Deserialize, Serialize};

pub use policy::JobPolicy;
pub use runner::{Claimed, JobHandler, JobRunner, Lane};

/// What a job does; one lane of the runner each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// Fetch an alert's activity record from Netwrix Auditor.
    EnrichAlert,
    /// Create a ticket.
    CreateTicket,
    /// Flush an incident's consolidation buffer.
    Flush,
    /// Add a note to a ticket.
    AddNote,
    /// Attach a file to a ticket.
    AddAttachment,
    /// Note on a ticket that its alert resolved.
    Resolve,
    /// Publish a report to IT Glue.
    PublishReport,
}

impl JobKind {
    /// Every kind, in lane order.
    pub const ALL: [JobKind; 7] = [
        JobKind::EnrichAlert,
        JobKind::CreateTicket,
        JobKind::Flush,
        JobKind::AddNote,
        JobKind::AddAttachment,
        JobKind::Resolve,
        JobKind::PublishReport,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::EnrichAlert => "alert.enrich",
            JobKind::CreateTicket => "ticket.create",
            JobKind::Flush => "ticket.flush",
            JobKind::AddNote => "ticket.note",
            JobKind::AddAttachment => "ticket.attachment",
            JobKind::Resolve => "ticket.resolution",
            JobKind::PublishReport => mspbridge_store::PUBLISH_REPORT_JOB,
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job with its typed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// See [`EnrichAlert`].
    EnrichAlert(EnrichAlert),
    /// See [`CreateTicket`].
    CreateTicket(CreateTicket),
    /// See [`Flush`].
    Flush(Flush),
    /// See [`AddNote`].
    AddNote(AddNote),
    /// See [`AddAttachment`].
    AddAttachment(AddAttachment),
    /// See [`ResolutionNote`].
    Resolve(ResolutionNote),
    /// See [`PublishReport`].
    PublishReport(PublishReport),
}

impl Job {
    /// Its kind.
    pub fn kind(&self) -> JobKind {
        match self {
            Job::EnrichAlert(_) => JobKind::EnrichAlert,
            Job::CreateTicket(_) => JobKind::CreateTicket,
            Job::Flush(_) => JobKind::Flush,
            Job::AddNote(_) => JobKind::AddNote,
            Job::AddAttachment(_) => JobKind::AddAttachment,
            Job::Resolve(_) => JobKind::Resolve,
            Job::PublishReport(_) => JobKind::PublishReport,
        }
    }

    /// The client the job works for, when it names one (for its events).
    pub fn client(&self) -> Option<&str> {
        match self {
            Job::EnrichAlert(job) => job.client.as_deref(),
            Job::CreateTicket(job) => Some(&job.client),
            Job::Flush(_) | Job::PublishReport(_) => None,
            Job::AddNote(job) => job.client.as_deref(),
            Job::AddAttachment(job) => job.client.as_deref(),
            Job::Resolve(job) => job.client.as_deref(),
        }
    }

    /// The job as the store keeps it: kind and JSON payload.
    pub fn to_new(
        &self,
        serial_key: &str,
        run_at: DateTime<Utc>,
        idempotency_key: Option<String>,
        now: DateTime<Utc>,
    ) -> NewJob {
        let payload = match self {
            Job::EnrichAlert(job) => serde_json::to_value(job),
            Job::CreateTicket(job) => serde_json::to_value(job),
            Job::Flush(job) => serde_json::to_value(job),
            Job::AddNote(job) => serde_json::to_value(job),
            Job::AddAttachment(job) => serde_json::to_value(job),
            Job::Resolve(job) => serde_json::to_value(job),
            Job::PublishReport(job) => serde_json::to_value(job),
        };
        NewJob {
            kind: self.kind().as_str().to_string(),
            serial_key: Some(serial_key.to_string()),
            // Plain structs of strings and numbers: they always serialise.
            payload: payload.unwrap_or(serde_json::Value::Null),
            run_at,
            idempotency_key,
            created_at: now,
        }
    }

    /// The typed job a stored one holds; a kind this version does not know or a payload it
    /// cannot read is a permanent failure (the job is dead-lettered, never guessed at).
    pub fn decode(stored: &StoredJob) -> Result<Job, JobFailure> {
        let Some(kind) = JobKind::parse(&stored.kind) else {
            return Err(JobFailure::permanent(format!(
                "job {} has the unknown kind {:?}; this version of mspbridge cannot run it",
                stored.id, stored.kind
            )));
        };
        fn read<T: serde::de::DeserializeOwned>(stored: &StoredJob) -> Result<T, JobFailure> {
            serde_json::from_value(stored.payload.clone()).map_err(|error| {
                JobFailure::permanent(format!(
                    "job {} ({}) has an unreadable payload: {error}",
                    stored.id, stored.kind
                ))
            })
        }
        Ok(match kind {
            JobKind::EnrichAlert => Job::EnrichAlert(read(stored)?),
            JobKind::CreateTicket => Job::CreateTicket(read(stored)?),
            JobKind::Flush => Job::Flush(read(stored)?),
            JobKind::AddNote => Job::AddNote(read(stored)?),
            JobKind::AddAttachment => Job::AddAttachment(read(stored)?),
            JobKind::Resolve => Job::Resolve(read(stored)?),
            JobKind::PublishReport => Job::PublishReport(read(stored)?),
        })
    }
}

/// `job` as the store keeps it, keyed by `serial_key` and deduplicated on `idempotency_key`.
pub fn new_job(
    job: Job,
    serial_key: &str,
    run_at: DateTime<Utc>,
    idempotency_key: String,
    now: DateTime<Utc>,
) -> NewJob {
    job.to_new(serial_key, run_at, Some(idempotency_key), now)
}

/// Fetch the activity record of a Netwrix alert that is waiting for it (`enriching`), then queue
/// the alert again; after the source's `enrich_give_up` queue it without the record, saying why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrichAlert {
    /// The alert.
    pub alert_id: i64,
    /// Its source (whose Auditor connection and patience apply).
    pub source: String,
    /// The record id to fetch.
    pub rid: String,
    /// The client the alert names, if any (for events).
    pub client: Option<String>,
}

/// Create a ticket whose create is identified by `external_xref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTicket {
    /// Incident the ticket belongs to.
    pub incident_key: String,
    /// Client (its ticket settings are read when the job runs, so a fixed config helps a retry).
    pub client: String,
    /// The stable key sent as `externalXRef`.
    pub external_xref: String,
    /// Rendered summary.
    pub summary: String,
    /// Rendered description.
    pub description: String,
    /// This is a client's flood ticket.
    pub flood: bool,
    /// A file to attach once the ticket exists.
    pub attachment: Option<AttachmentFile>,
    /// Ticket fields the alert's route and severity map set over the client's settings.
    #[serde(default, skip_serializing_if = "TicketFields::is_empty")]
    pub ticket: TicketFields,
    /// The `[[routes]]` entry that matched the alert, for the ticket's event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

/// The ticket fields a route or severity map sets, carried by a create job (its templates are
/// already rendered into the summary and description).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketFields {
    /// Company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<i32>,
    /// Board.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_id: Option<i32>,
    /// Team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<i32>,
    /// Priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_id: Option<i32>,
    /// Initial status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_id: Option<i32>,
    /// Severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<TicketLevel>,
    /// Impact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<TicketLevel>,
    /// Which field holds the description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_field: Option<String>,
}

impl TicketFields {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &TicketFields::default()
    }

    /// The fields of `overrides` (its templates are left out: they are rendered at decision).
    pub fn from_overrides(overrides: &ClientTicketOverrides) -> TicketFields {
        TicketFields {
            company_id: overrides.company_id,
            board_id: overrides.board_id,
            team_id: overrides.team_id,
            priority_id: overrides.priority_id,
            status_id: overrides.status_id,
            severity: overrides.severity,
            impact: overrides.impact,
            description_field: overrides
                .description_field
                .map(|field| field.api_name().to_string()),
        }
    }

    /// The overrides these fields stand for.
    pub fn to_overrides(&self) -> ClientTicketOverrides {
        ClientTicketOverrides {
            company_id: self.company_id,
            board_id: self.board_id,
            team_id: self.team_id,
            priority_id: self.priority_id,
            status_id: self.status_id,
            severity: self.severity,
            impact: self.impact,
            description_field: self
                .description_field
                .as_deref()
                .and_then(DescriptionField::parse),
            ..ClientTicketOverrides::default()
        }
    }
}

/// Flush the buffer of `incident_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flush {
    /// The incident.
    pub incident_key: String,
}

/// Add one note to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddNote {
    /// The incident.
    pub incident_key: String,
    /// Client.
    pub client: Option<String>,
    /// The ticket.
    pub ticket_id: i64,
    /// Note text.
    pub text: String,
    /// Alerts the note reports.
    pub alert_count: usize,
}

/// Note on an incident's ticket that its alert resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolutionNote {
    /// The incident.
    pub incident_key: String,
    /// Client.
    pub client: Option<String>,
    /// The ticket; `None` when it was still being created, and then the incident's ticket when
    /// the job runs (after the create, in the incident's order).
    pub ticket_id: Option<i64>,
    /// Note text.
    pub text: String,
    /// Status (an id or a name on the ticket's board) the ticket gets after the note: the
    /// source's `close_on_resolve`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_status: Option<String>,
}

/// Attach one file to a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddAttachment {
    /// The incident.
    pub incident_key: String,
    /// Client.
    pub client: Option<String>,
    /// The ticket.
    pub ticket_id: i64,
    /// The file.
    pub file: AttachmentFile,
}

/// A text file for a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentFile {
    /// File name.
    pub file_name: String,
    /// Content.
    pub content: String,
}

impl From<mspbridge_core::rules::content::Attachment> for AttachmentFile {
    fn from(attachment: mspbridge_core::rules::content::Attachment) -> Self {
        AttachmentFile {
            file_name: attachment.file_name,
            content: attachment.content,
        }
    }
}

/// Publish report `report_id` to IT Glue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishReport {
    /// The report.
    pub report_id: i64,
}

/// A failed job attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// What went wrong, naming the job's subject.
    pub message: String,
    /// Whether and when to try again.
    pub class: ErrorClass,
    /// The outside system could not be reached at all (connect, TLS, timeout before sending).
    pub unreachable: bool,
    /// Keep retrying with the backoff until this time whatever the attempts and age (the job
    /// itself decides what happens then: an alert waiting for its record gives up on it).
    pub retry_until: Option<DateTime<Utc>>,
}

impl JobFailure {
    /// A failure retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            class: ErrorClass::Permanent,
            unreachable: false,
            retry_until: None,
        }
    }

    /// A failure worth retrying later.
    pub fn retryable(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            class: ErrorClass::Retryable,
            unreachable: false,
            retry_until: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_spelling() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("ticket.unknown"), None);
    }

    #[test]
    fn a_job_survives_the_store_edge() {
        let job = Job::AddNote(AddNote {
            incident_key: "acme/x".into(),
            client: Some("acme".into()),
            ticket_id: 7,
            text: "3 more alerts".into(),
            alert_count: 3,
        });
        let now = Utc::now();
        let new = job.to_new("acme/x", now, Some("note:1".into()), now);
        assert_eq!(new.kind, "ticket.note");
        let stored = StoredJob {
            id: 1,
            kind: new.kind,
            serial_key: new.serial_key,
            payload: new.payload,
            state: mspbridge_store::JobState::Queued,
            run_at: now,
            attempts: 0,
            lease_owner: None,
            lease_token: None,
            lease_expires_at: None,
            last_error: None,
            idempotency_key: new.idempotency_key,
            created_at: now,
            finished_at: None,
        };
        assert_eq!(Job::decode(&stored), Ok(job));
        let unknown = StoredJob {
            kind: "ticket.fax".into(),
            ..stored.clone()
        };
        assert_eq!(
            Job::decode(&unknown).unwrap_err().class,
            ErrorClass::Permanent
        );
    }
}

//! The durable jobs through which every ConnectWise effect happens, and the policy that retries
//! them.
//!
//! A job is enqueued in the same step that records the decision behind it, carries everything it
//! needs in its payload, and runs under the incident key as its serial key, so the effects on one
//! incident happen one at a time and in order (create before flush, flush before its note). A
//! failed attempt backs off exponentially with jitter, never sooner than a `Retry-After` the
//! service asked for; after `max_attempts`, or at once for a permanent failure, the job is
//! dead-lettered with its last error for the console to retry.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mspbridge_connectors::ErrorClass;
use mspbridge_core::config::{ClientTicketOverrides, DescriptionField, TicketLevel};
use mspbridge_store::NewJob;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Job kind: create a ticket (`CreateTicket`).
pub const KIND_CREATE_TICKET: &str = "ticket.create";
/// Job kind: flush an incident's consolidation buffer (`Flush`).
pub const KIND_FLUSH: &str = "ticket.flush";
/// Job kind: add a note to a ticket (`AddNote`).
pub const KIND_ADD_NOTE: &str = "ticket.note";
/// Job kind: attach a file to a ticket (`UploadAttachment`).
pub const KIND_UPLOAD_ATTACHMENT: &str = "ticket.attachment";
/// Job kind: note on a ticket that its alert resolved (`ResolutionNote`).
pub const KIND_RESOLUTION_NOTE: &str = "ticket.resolution";

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
pub struct UploadAttachment {
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

/// A job to enqueue, serialised for the store. The payload of these types always serialises.
pub fn new_job(
    kind: &str,
    serial_key: &str,
    payload: &impl Serialize,
    run_at: DateTime<Utc>,
    idempotency_key: String,
    now: DateTime<Utc>,
) -> NewJob {
    NewJob {
        kind: kind.to_string(),
        serial_key: Some(serial_key.to_string()),
        payload: serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
        run_at,
        idempotency_key: Some(idempotency_key),
        created_at: now,
    }
}

/// How jobs are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a job is dead-lettered.
    pub max_attempts: u32,
    /// Wait after the first failure; doubled after each later one.
    pub initial_backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30 * 60),
        }
    }
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
}

impl JobFailure {
    /// A failure retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            class: ErrorClass::Permanent,
            unreachable: false,
        }
    }

    /// A failure worth retrying later.
    pub fn retryable(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            class: ErrorClass::Retryable,
            unreachable: false,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts` failed ones, or `None` to dead-letter.
    /// `jitter` in `[0, 1)` stretches the exponential delay by up to 25 %; a rate limit's
    /// `retry_after` is a floor the delay never goes under.
    pub fn next_delay(&self, attempts: u32, class: ErrorClass, jitter: f64) -> Option<Duration> {
        if class == ErrorClass::Permanent || attempts >= self.max_attempts {
            return None;
        }
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        let base = self
            .initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff);
        let stretched = base.mul_f64(1.0 + 0.25 * jitter.clamp(0.0, 1.0));
        let floor = match class {
            ErrorClass::RateLimited {
                retry_after: Some(wait),
            } => wait,
            _ => Duration::ZERO,
        };
        Some(stretched.max(floor))
    }

    /// [`RetryPolicy::next_delay`] with a random jitter.
    pub fn next_delay_jittered(&self, attempts: u32, class: ErrorClass) -> Option<Duration> {
        let jitter = rand::thread_rng().gen_range(0.0..1.0);
        self.next_delay(attempts, class, jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(10),
        };
        let retryable = ErrorClass::Retryable;
        assert_eq!(
            policy.next_delay(1, retryable, 0.0),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            policy.next_delay(2, retryable, 0.0),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            policy.next_delay(4, retryable, 0.0),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            policy.next_delay(2, retryable, 0.999).unwrap().as_millis(),
            4999
        );
        assert_eq!(policy.next_delay(5, retryable, 0.0), None);
        assert_eq!(policy.next_delay(1, ErrorClass::Permanent, 0.0), None);
        let limited = ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            policy.next_delay(1, limited, 0.0),
            Some(Duration::from_secs(30))
        );
        let short = ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(1)),
        };
        assert_eq!(
            policy.next_delay(1, short, 0.0),
            Some(Duration::from_secs(2))
        );
    }
}

//! The ConnectWise effects of the jobs `ticket.create`, `ticket.note` and `ticket.attachment`, and
//! the wrapper that measures every ConnectWise call.

use std::path::{Path, PathBuf};

use mspbridge_connectors::connectwise::{CwError, Impact, NewNote, NewTicket, RecordRef, Severity};
use mspbridge_core::config::{DescriptionField, TicketSettings};
use mspbridge_core::events;
use mspbridge_store::StoreError;
use serde_json::json;

use super::base::{Base, Cw};
use super::incident::{IncidentDetails, STATUS_OPEN};
use crate::jobs::{
    new_job, AddAttachment, AddNote, Claimed, CreateTicket, Job, JobFailure, ResolutionNote,
};
use crate::metrics;

/// Attempts at re-reading an incident that changed while a job updated it.
const MAX_CONFLICT_RETRIES: usize = 16;

/// The ticket jobs' ConnectWise effects: creates, notes, resolution notes and attachments.
#[derive(Clone)]
pub(crate) struct Tickets {
    pub(super) base: Base,
    pub(super) cw: Cw,
}

impl Tickets {
    /// `ticket.create`: records the `externalXRef` before the call; a retry first looks the key up,
    /// so a create whose answer was lost is never repeated.
    pub(crate) async fn run_create_ticket(
        &self,
        job: &Claimed,
        create: CreateTicket,
    ) -> Result<(), JobFailure> {
        let store = &self.base.store;
        let now = self.base.now();
        let request = store
            .record_ticket_request(&create.external_xref, &create.incident_key, now)
            .await
            .map_err(store_failure)?;
        let ticket_id = match request.ticket_id {
            Some(ticket_id) => ticket_id,
            None => {
                let client = self.cw.client()?;
                let config = self.base.config();
                let settings = config
                    .ticket_settings_with(Some(&create.client), &create.ticket.to_overrides());
                let body = ticket_body(
                    &settings,
                    &create.summary,
                    &create.description,
                    &create.external_xref,
                )
                .map_err(|problem| {
                    JobFailure::permanent(format!(
                        "cannot create the ticket of incident {:?}: {problem}",
                        create.incident_key
                    ))
                })?;
                let ticket = if job.attempt <= 1 {
                    self.cw
                        .call("create_ticket", client.create_ticket(&body))
                        .await
                } else {
                    // An earlier attempt may have created it (unknown outcome): look first.
                    self.cw
                        .call("find_or_create_ticket", async {
                            client
                                .find_or_create_ticket(&body)
                                .await
                                .map(|(ticket, _)| ticket)
                        })
                        .await
                }
                .map_err(|error| {
                    cw_failure(
                        &format!("creating the ticket of incident {:?}", create.incident_key),
                        &error,
                    )
                })?;
                store
                    .set_ticket_request_result(&create.external_xref, ticket.id)
                    .await
                    .map_err(store_failure)?;
                ticket.id
            }
        };
        let attached = self.attach_ticket(&create, ticket_id).await?;
        if attached {
            if create.flood {
                metrics::count(metrics::FLOOD_TICKETS);
            }
            metrics::count(metrics::TICKETS_CREATED);
            let (code, what) = if create.flood {
                (events::FLOOD_TICKET_OPENED, "flood ticket")
            } else {
                (events::TICKET_CREATED, "ticket")
            };
            tracing::info!(ticket_id, key = %create.incident_key, "{what} created");
            let routed = create
                .route
                .as_ref()
                .map(|route| format!(" (route \"{route}\")"))
                .unwrap_or_default();
            self.base
                .event(
                    code,
                    Some(create.client.clone()),
                    Some(format!("ticket {ticket_id}")),
                    format!(
                        "{what} {ticket_id} created for incident {:?}{routed}: {}",
                        create.incident_key,
                        mspbridge_core::text::clean_line(&create.summary)
                    ),
                    json!({"ticket_id": ticket_id, "incident_key": create.incident_key,
                       "external_xref": create.external_xref, "route": create.route}),
                )
                .await;
        }
        if let Some(file) = create.attachment.clone() {
            let upload = AddAttachment {
                incident_key: create.incident_key.clone(),
                client: Some(create.client.clone()),
                ticket_id,
                file,
            };
            let follow_up = new_job(
                Job::AddAttachment(upload),
                &create.incident_key,
                now,
                format!("attachment:{}", create.external_xref),
                now,
            );
            store.enqueue_job(follow_up).await.map_err(store_failure)?;
        }
        Ok(())
    }

    /// Makes the created ticket the incident's ticket, if the incident still waits for this create;
    /// returns whether this call attached it (false when a retry finds it already attached).
    async fn attach_ticket(
        &self,
        create: &CreateTicket,
        ticket_id: i64,
    ) -> Result<bool, JobFailure> {
        let store = &self.base.store;
        for _ in 0..MAX_CONFLICT_RETRIES {
            let Some(mut incident) = store
                .get_incident(&create.incident_key)
                .await
                .map_err(store_failure)?
            else {
                return Ok(true);
            };
            let mut details = IncidentDetails::read(&incident.details);
            if details.pending_xref.as_deref() != Some(create.external_xref.as_str()) {
                return Ok(incident.ticket_id != Some(ticket_id));
            }
            details.pending_xref = None;
            incident.ticket_id = Some(ticket_id);
            incident.status = STATUS_OPEN.to_string();
            incident.details = details.to_value();
            match store.upsert_incident(incident).await {
                Ok(_) => return Ok(true),
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(store_failure(error)),
            }
        }
        Err(JobFailure::retryable(format!(
            "incident {:?} kept changing while ticket {ticket_id} was attached to it",
            create.incident_key
        )))
    }

    /// Adds `text` to a ticket: a discussion note, or an internal one when the client's tickets
    /// keep their description in `initialInternalAnalysis`.
    ///
    /// The note ends with the job's marker line ([`note_marker`]). An attempt after one whose
    /// outcome is unknown (the process died, the lease expired, the answer was lost) first looks
    /// for that marker on the ticket and posts only when it is absent; a first attempt costs no
    /// extra call.
    async fn post_note(
        &self,
        job: &Claimed,
        client_name: Option<&str>,
        ticket_id: i64,
        text: &str,
    ) -> Result<(), JobFailure> {
        let client = self.cw.client()?;
        let marker = note_marker(job);
        if job.attempt > 1 {
            let notes = self
                .cw
                .call("list_notes", client.list_notes(ticket_id))
                .await
                .map_err(|error| {
                    cw_failure(&format!("reading the notes of ticket {ticket_id}"), &error)
                })?;
            let posted = notes.iter().any(|note| {
                note.text
                    .as_deref()
                    .is_some_and(|text| text.lines().any(|line| line.trim() == marker))
            });
            if posted {
                tracing::info!(
                    ticket_id,
                    job_id = job.id,
                    "note already on the ticket; not posted again"
                );
                return Ok(());
            }
        }
        let text = format!("{text}\n\n{marker}");
        let text = text.as_str();
        let config = self.base.config();
        let settings = config.effective_ticket_settings(client_name);
        let body = match settings.description_field {
            DescriptionField::InitialDescription => {
                NewNote::discussion(mspbridge_core::text::clean(text))
            }
            DescriptionField::InitialInternalAnalysis => {
                NewNote::internal(mspbridge_core::text::clean(text))
            }
        };
        self.cw
            .call("add_note", client.add_note(ticket_id, &body))
            .await
            .map_err(|error| cw_failure(&format!("adding a note to ticket {ticket_id}"), &error))?;
        Ok(())
    }

    /// `ticket.resolution`: the note that an incident's alert resolved.
    pub(crate) async fn run_resolution_note(
        &self,
        job: &Claimed,
        note: ResolutionNote,
    ) -> Result<(), JobFailure> {
        let ticket_id = match note.ticket_id {
            Some(ticket_id) => ticket_id,
            None => {
                let incident = self
                    .base
                    .store
                    .get_incident(&note.incident_key)
                    .await
                    .map_err(store_failure)?;
                match incident.and_then(|incident| incident.ticket_id) {
                    Some(ticket_id) => ticket_id,
                    None => {
                        return Err(JobFailure::retryable(format!(
                            "incident {:?} has no ticket yet (its create has not succeeded); the \
                             resolution note waits for it",
                            note.incident_key
                        )))
                    }
                }
            }
        };
        // The status first: setting it again on a retry is harmless, a second note is not.
        if let Some(status) = &note.close_status {
            self.close_resolved(note.client.as_deref(), ticket_id, status)
                .await?;
        }
        self.post_note(job, note.client.as_deref(), ticket_id, &note.text)
            .await?;
        tracing::info!(ticket_id, "resolution noted on the ticket");
        self.base.event(
            events::TICKET_UPDATED,
            note.client.clone(),
            Some(format!("ticket {ticket_id}")),
            format!("ticket {ticket_id} noted: its alert resolved"),
            json!({"ticket_id": ticket_id, "incident_key": note.incident_key, "resolved": true}),
        )
        .await;
        Ok(())
    }

    /// Sets a resolved ticket's status to `status` (an id, or a name looked up on its board).
    async fn close_resolved(
        &self,
        client_name: Option<&str>,
        ticket_id: i64,
        status: &str,
    ) -> Result<(), JobFailure> {
        let client = self.cw.client()?;
        let status_id = match status.parse::<i64>() {
            Ok(id) => id,
            Err(_) => {
                let ticket = self
                    .cw
                    .call("get_ticket", client.get_ticket(ticket_id))
                    .await
                    .map_err(|error| cw_failure(&format!("reading ticket {ticket_id}"), &error))?;
                let Some(board_id) = ticket.board.as_ref().map(|board| board.id) else {
                    return Err(JobFailure::permanent(format!(
                        "ticket {ticket_id} has no board, so status \"{status}\" \
                         (close_on_resolve) cannot be looked up"
                    )));
                };
                let statuses = self
                    .cw
                    .call("board_statuses", client.board_statuses(board_id))
                    .await
                    .map_err(|error| {
                        cw_failure(&format!("reading the statuses of board {board_id}"), &error)
                    })?;
                let board: Vec<_> = statuses.iter().map(super::flush::board_status).collect();
                mspbridge_core::rules::flush::status_id_by_name(&board, status).ok_or_else(
                    || {
                        JobFailure::permanent(format!(
                            "board {board_id} of ticket {ticket_id} has no status \"{status}\" \
                             (close_on_resolve)"
                        ))
                    },
                )?
            }
        };
        self.cw
            .call(
                "set_ticket_status",
                client.set_ticket_status(ticket_id, status_id),
            )
            .await
            .map_err(|error| cw_failure(&format!("closing ticket {ticket_id}"), &error))?;
        tracing::info!(ticket_id, status_id, "resolved ticket closed");
        self.base
            .event(
                events::TICKET_UPDATED,
                client_name.map(str::to_string),
                Some(format!("ticket {ticket_id}")),
                format!("ticket {ticket_id} set to status {status_id}: every alert of it resolved"),
                json!({"ticket_id": ticket_id, "status_id": status_id, "resolved": true}),
            )
            .await;
        Ok(())
    }

    /// `ticket.note`: one consolidated update.
    pub(crate) async fn run_add_note(
        &self,
        job: &Claimed,
        note: AddNote,
    ) -> Result<(), JobFailure> {
        self.post_note(job, note.client.as_deref(), note.ticket_id, &note.text)
            .await?;
        metrics::count(metrics::TICKETS_UPDATED);
        tracing::info!(
            ticket_id = note.ticket_id,
            alerts = note.alert_count,
            "ticket updated"
        );
        self.base
            .event(
                events::TICKET_UPDATED,
                note.client.clone(),
                Some(format!("ticket {}", note.ticket_id)),
                format!(
                    "ticket {} updated with {} consolidated alert(s)",
                    note.ticket_id, note.alert_count
                ),
                json!({"ticket_id": note.ticket_id, "incident_key": note.incident_key,
                   "alert_count": note.alert_count}),
            )
            .await;
        Ok(())
    }

    /// `ticket.attachment`: on failure, with `ignore_upload_attachment_error` the file goes to the
    /// missing-attachments folder and the job is done; otherwise the failure is an event and the
    /// job is retried.
    ///
    /// The file's name is unique per job (it names the first alert the file carries): an attempt
    /// after one whose outcome is unknown first looks for it among the ticket's documents and
    /// uploads only when it is absent. A file larger than `connectwise.max_attachment_bytes` is never
    /// sent: it takes the failed-upload path at once.
    pub(crate) async fn run_upload_attachment(
        &self,
        job: &Claimed,
        upload: AddAttachment,
    ) -> Result<(), JobFailure> {
        let client = self.cw.client()?;
        let config = self.base.config();
        let settings = config.effective_ticket_settings(upload.client.as_deref());
        let bytes = upload.file.content.clone().into_bytes();
        let limit = config
            .connectwise
            .as_ref()
            .map_or(u64::MAX, |connectwise| connectwise.max_attachment_bytes);
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
            let failure = JobFailure::permanent(format!(
                "the attachment {} for ticket {} is {} bytes, more than \
                 connectwise.max_attachment_bytes ({limit})",
                upload.file.file_name,
                upload.ticket_id,
                bytes.len()
            ));
            return self
                .upload_failed(&upload, &bytes, failure, &settings)
                .await;
        }
        if job.attempt > 1 {
            let documents = self
                .cw
                .call("list_documents", client.list_documents(upload.ticket_id))
                .await
                .map_err(|error| {
                    cw_failure(
                        &format!("reading the documents of ticket {}", upload.ticket_id),
                        &error,
                    )
                })?;
            let uploaded = documents.iter().any(|document| {
                document.file_name.as_deref() == Some(upload.file.file_name.as_str())
            });
            if uploaded {
                tracing::info!(
                    ticket_id = upload.ticket_id,
                    job_id = job.id,
                    "document already on the ticket; not uploaded again"
                );
                return Ok(());
            }
        }
        let result = self
            .cw
            .call(
                "upload_document",
                client.upload_document(
                    upload.ticket_id,
                    &upload.file.file_name,
                    bytes.clone(),
                    &upload.file.file_name,
                ),
            )
            .await;
        let error = match result {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let failure = cw_failure(
            &format!(
                "uploading {} to ticket {}",
                upload.file.file_name, upload.ticket_id
            ),
            &error,
        );
        self.upload_failed(&upload, &bytes, failure, &settings)
            .await
    }

    /// A file that did not reach the ticket: with `ignore_upload_attachment_error` it goes to the
    /// missing-attachments folder with an event and the job is done; otherwise the failure is
    /// an event and the job fails (retried unless the failure is permanent).
    async fn upload_failed(
        &self,
        upload: &AddAttachment,
        bytes: &[u8],
        failure: JobFailure,
        settings: &mspbridge_core::config::TicketSettings,
    ) -> Result<(), JobFailure> {
        let config = self.base.config();
        if settings.ignore_upload_attachment_error {
            let dir = &config.server.missing_attachments_dir;
            let path =
                dump_missing_attachment(dir, upload.ticket_id, &upload.file.file_name, bytes)
                    .map_err(|problem| {
                        JobFailure::retryable(format!(
                        "{}; writing it to the missing-attachments folder also failed: {problem}",
                        failure.message
                    ))
                    })?;
            self.base
                .event(
                    events::ATTACHMENT_DUMPED,
                    upload.client.clone(),
                    Some(format!("ticket {}", upload.ticket_id)),
                    format!(
                        "{}; the file was written to '{}'",
                        failure.message,
                        path.display()
                    ),
                    json!({"ticket_id": upload.ticket_id, "path": path.display().to_string()}),
                )
                .await;
            return Ok(());
        }
        self.base
            .event(
                events::ATTACHMENT_UPLOAD_FAILED,
                upload.client.clone(),
                Some(format!("ticket {}", upload.ticket_id)),
                format!("{}; the upload will be retried", failure.message),
                json!({"ticket_id": upload.ticket_id, "file_name": upload.file.file_name}),
            )
            .await;
        Err(failure)
    }
}

/// The body of a ticket create from one client's ticket settings.
pub(crate) fn ticket_body(
    settings: &TicketSettings,
    summary: &str,
    description: &str,
    external_xref: &str,
) -> Result<NewTicket, String> {
    let company_id = settings.company_id.ok_or_else(|| {
        "no ConnectWise company: set connectwise.ticket.company_id or the client's \
         connectwise.company_id"
            .to_string()
    })?;
    let board_id = settings.board_id.ok_or_else(|| {
        "no service board: set connectwise.ticket.board_id or the client's connectwise.board_id"
            .to_string()
    })?;
    // Nothing from an alert reaches ConnectWise with control characters, zero-width characters
    // or bidirectional overrides in it.
    let summary = mspbridge_core::rules::content::cut_summary(summary);
    let description = mspbridge_core::text::clean(description);
    let description = description.as_str();
    let mut ticket = NewTicket::new(summary, RecordRef::id(company_id.into()));
    ticket.board = Some(RecordRef::id(board_id.into()));
    ticket.team = settings.team_id.map(|id| RecordRef::id(id.into()));
    ticket.priority = settings.priority_id.map(|id| RecordRef::id(id.into()));
    ticket.status = settings.status_id.map(|id| RecordRef::id(id.into()));
    ticket.severity = Some(
        settings
            .severity
            .as_str()
            .parse::<Severity>()
            .map_err(|error| error.to_string())?,
    );
    ticket.impact = Some(
        settings
            .impact
            .as_str()
            .parse::<Impact>()
            .map_err(|error| error.to_string())?,
    );
    ticket.external_x_ref = Some(external_xref.to_string());
    match settings.description_field {
        DescriptionField::InitialDescription => {
            ticket.initial_description = Some(description.to_string())
        }
        DescriptionField::InitialInternalAnalysis => {
            ticket.initial_internal_analysis = Some(description.to_string())
        }
    }
    Ok(ticket)
}

/// Writes an attachment that could not be uploaded to `dir/{ticket_id}/{file_name}` and logs the
/// vendor's line for it, so an operator can attach it by hand.
pub fn dump_missing_attachment(
    dir: &Path,
    ticket_id: i64,
    file_name: &str,
    bytes: &[u8],
) -> Result<PathBuf, String> {
    let folder = dir.join(ticket_id.to_string());
    std::fs::create_dir_all(&folder)
        .map_err(|error| format!("creating {}: {error}", folder.display()))?;
    let safe_name: String = file_name
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let path = folder.join(safe_name);
    std::fs::write(&path, bytes).map_err(|error| format!("writing {}: {error}", path.display()))?;
    tracing::warn!(
        "Attached files for ticket id: {ticket_id} dumped: '{}'",
        path.display()
    );
    Ok(path)
}

/// The marker line a note ends with: stable for its job, so a retry can tell whether an earlier
/// attempt already posted it.
pub(crate) fn note_marker(job: &Claimed) -> String {
    format!("(mspbridge update {})", job.id)
}

/// A ConnectWise failure as a job failure, keeping its class.
pub(crate) fn cw_failure(doing: &str, error: &CwError) -> JobFailure {
    let unreachable = matches!(
        error,
        CwError::Connect { .. } | CwError::Tls { .. } | CwError::Timeout { sent: false, .. }
    );
    JobFailure {
        message: format!("{doing}: {error}"),
        class: error.class(),
        unreachable,
        retry_until: None,
    }
}

/// A store failure inside a job: retried, the store is usually back soon.
pub(crate) fn store_failure(error: StoreError) -> JobFailure {
    JobFailure::retryable(format!("store: {error}"))
}

//! `ticket.flush`: the end of a consolidation interval (rule 4). Reads the ticket's status from
//! ConnectWise (and its board's statuses when the rule asks), lets `rules::flush::step` choose
//! update / reopen-then-update / new ticket, and turns the buffer into the note and attachment
//! jobs (or a create job), removing exactly the flushed alerts from the buffer.

use mspbridge_connectors::connectwise::{BoardStatus, ConnectWiseClient, Ticket};
use mspbridge_core::alert::{Alert, AlertKey};
use mspbridge_core::events;
use mspbridge_core::rules::content;
use mspbridge_core::rules::flush::{self, FlushStep};
use mspbridge_core::rules::routing;
use mspbridge_store::{
    AlertId, BufferChange, BufferEntry, DecisionBatch, DecisionNote, Incident, NewJob,
    RuleDecision, StoreError,
};
use serde_json::json;

use super::base::{Base, Cw};
use super::decide::correlation_lines;
use super::effects::{cw_failure, store_failure};
use super::explain;
use super::incident::{BufferedAlert, IncidentDetails, STATUS_PENDING_CREATE};
use super::pipeline::decode_alert;
use crate::jobs::{
    new_job, AddAttachment, AddNote, Claimed, CreateTicket, Flush, Job, JobFailure, TicketFields,
};
use crate::metrics;

const MAX_CONFLICT_RETRIES: usize = 16;

/// The `ticket.flush` job: what it needs to read the ticket, the buffer and the alerts, and to
/// write the drained buffer with the jobs that carry it.
#[derive(Clone)]
pub(crate) struct Flusher {
    pub(super) base: Base,
    pub(super) cw: Cw,
    /// The host name for `%Computer%` in a new ticket's text.
    pub(super) host_name: String,
}

impl Flusher {
    pub(crate) async fn run_flush(&self, job: &Claimed, flush: Flush) -> Result<(), JobFailure> {
        let store = &self.base.store;
        let Some(incident) = store
            .get_incident(&flush.incident_key)
            .await
            .map_err(store_failure)?
        else {
            return Ok(());
        };
        if incident.buffered == 0 {
            return Ok(());
        }
        let Some(ticket_id) = incident.ticket_id else {
            return Err(JobFailure::retryable(format!(
                "incident {:?} has no ticket yet (its create has not succeeded); the flush waits \
                 for it",
                incident.key
            )));
        };
        let client = self.cw.client()?;
        let config = self.base.config();
        let settings = config.effective_ticket_settings(incident.client.as_deref());
        let ticket = match self
            .cw
            .call("get_ticket", client.get_ticket(ticket_id))
            .await
        {
            Ok(ticket) => Some(ticket),
            // Deleted in ConnectWise: like a closed ticket that may not be reopened.
            Err(error) if error.is_not_found() => None,
            Err(error) => return Err(cw_failure(&format!("reading ticket {ticket_id}"), &error)),
        };
        // The rule asks for the board's statuses only when the ticket alone cannot answer.
        let mut board: Option<Vec<flush::BoardStatus>> = None;
        let step = loop {
            let Some(ticket) = &ticket else {
                break flush::ticket_gone(ticket_id);
            };
            let step = flush::step(
                ticket_id,
                &ticket_status(ticket),
                board.as_deref(),
                &settings.reopen_closed_statuses,
                settings.reopen_new_status.as_ref(),
                &config.rules,
            );
            match step {
                FlushStep::ReadBoardStatuses if board.is_none() => {
                    board = Some(self.board_statuses(&client, ticket).await?);
                }
                step => break step,
            }
        };
        tracing::info!(ticket_id, key = %incident.key, ?step, "flushing consolidated alerts");
        match step {
            FlushStep::Update { .. } => self.write_update(job, incident, ticket_id, None).await,
            FlushStep::Reopen { status_id, reason } => {
                self.cw
                    .call(
                        "set_ticket_status",
                        client.set_ticket_status(ticket_id, status_id),
                    )
                    .await
                    .map_err(|error| {
                        cw_failure(&format!("reopening ticket {ticket_id}"), &error)
                    })?;
                metrics::count(metrics::TICKETS_REOPENED);
                self.base
                    .event(
                        events::TICKET_REOPENED,
                        incident.client.clone(),
                        Some(format!("ticket {ticket_id}")),
                        format!("ticket {ticket_id} reopened to status {status_id}: {reason}"),
                        json!({"ticket_id": ticket_id, "status_id": status_id,
                               "incident_key": incident.key}),
                    )
                    .await;
                let closed_status = ticket
                    .as_ref()
                    .and_then(|ticket| ticket.status.as_ref())
                    .map(|status| {
                        status
                            .name
                            .clone()
                            .unwrap_or_else(|| format!("id {}", status.id))
                    });
                let reopened = explain::reopened(
                    self.base.now(),
                    &incident.key,
                    ticket_id,
                    closed_status.as_deref(),
                    status_id,
                    &reason,
                );
                self.write_update(job, incident, ticket_id, Some(reopened))
                    .await
            }
            FlushStep::NewTicket { reason } => self.write_new_ticket(job, incident, reason).await,
            FlushStep::CannotReopen { problem } => Err(JobFailure::permanent(problem)),
            FlushStep::ReadBoardStatuses => Err(JobFailure::permanent(format!(
                "ticket {ticket_id}: its board's statuses were read and still did not decide"
            ))),
        }
    }

    /// Reads the statuses of the ticket's board (none when the ticket has no board).
    async fn board_statuses(
        &self,
        client: &ConnectWiseClient,
        ticket: &Ticket,
    ) -> Result<Vec<flush::BoardStatus>, JobFailure> {
        let Some(board_id) = ticket.board.as_ref().map(|board| board.id) else {
            return Ok(Vec::new());
        };
        let statuses = self
            .cw
            .call("board_statuses", client.board_statuses(board_id))
            .await
            .map_err(|error| {
                cw_failure(&format!("reading the statuses of board {board_id}"), &error)
            })?;
        Ok(statuses.iter().map(board_status).collect())
    }

    /// Open ticket: one note (and one attachment) for the flushed alerts, written together with
    /// the drained buffer.
    async fn write_update(
        &self,
        job: &Claimed,
        mut incident: Incident,
        ticket_id: i64,
        reopened: Option<RuleDecision>,
    ) -> Result<(), JobFailure> {
        let only_first = self.base.config().rules.display_only_first_activity_record;
        let interval = self.base.config().rules.consolidation_interval;
        for _ in 0..MAX_CONFLICT_RETRIES {
            let buffer = self.buffer(&incident.key).await?;
            if buffer.is_empty() {
                return Ok(());
            }
            let first = first_buffered_id(&buffer).unwrap_or_default();
            let flushed = buffer.len();
            let alerts = self.buffered_alerts(&incident.key, &buffer).await?;
            let now = self.base.now();
            // Keyed by the alerts they carry: a flush run again after its commit makes new jobs
            // only for alerts that arrived since.
            let carried = format!("{}:{first}:{flushed}", job.id);
            let mut follow_ups = vec![new_job(
                Job::AddNote(AddNote {
                    incident_key: incident.key.clone(),
                    client: incident.client.clone(),
                    ticket_id,
                    text: content::note_for_buffer(&alerts, only_first),
                    alert_count: alerts.len(),
                }),
                &incident.key,
                now,
                format!("note:{carried}"),
                now,
            )];
            if let Some(file) = content::attachment_for_buffer(&alerts, only_first) {
                follow_ups.push(new_job(
                    Job::AddAttachment(AddAttachment {
                        incident_key: incident.key.clone(),
                        client: incident.client.clone(),
                        ticket_id,
                        file: file.into(),
                    }),
                    &incident.key,
                    now,
                    format!("attachment:{carried}"),
                    now,
                ));
            }
            let key = incident.key.clone();
            let mut explained: Vec<RuleDecision> = reopened.iter().cloned().collect();
            explained.push(explain::consolidated(
                now, &key, ticket_id, flushed, interval,
            ));
            if self
                .commit_drained(job, incident, &buffer, None, follow_ups, explained)
                .await?
            {
                return Ok(());
            }
            // Alerts joined meanwhile: flush what the buffer holds now, if still this ticket's.
            match self.reread(&key).await? {
                Some(fresh) if fresh.ticket_id == Some(ticket_id) => incident = fresh,
                Some(_) => {
                    return Err(JobFailure::retryable(format!(
                        "incident {key:?} changed its ticket during the flush; flushing again"
                    )))
                }
                None => return Ok(()),
            }
        }
        Err(contended(&incident.key))
    }

    /// Closed ticket that may not be reopened: a new ticket carries the flushed alerts; its
    /// create is written together with the drained buffer.
    async fn write_new_ticket(
        &self,
        job: &Claimed,
        mut incident: Incident,
        reason: String,
    ) -> Result<(), JobFailure> {
        let config = self.base.config();
        let only_first = config.rules.display_only_first_activity_record;
        // Derived from the job so that a repeated flush asks for the same ticket.
        let xref = job_xref(job);
        for _ in 0..MAX_CONFLICT_RETRIES {
            if IncidentDetails::read(&incident.details)
                .pending_xref
                .as_deref()
                == Some(&xref)
            {
                // A repeated flush whose first run already handed the buffer to the create.
                return Ok(());
            }
            let Some(client) = incident.client.clone() else {
                return Err(JobFailure::permanent(format!(
                    "incident {:?} has no client, so no ticket can be opened for it",
                    incident.key
                )));
            };
            let buffer = self.buffer(&incident.key).await?;
            let alerts = self.buffered_alerts(&incident.key, &buffer).await?;
            let Some(first) = alerts.first() else {
                let key = incident.key.clone();
                if self
                    .commit_drained(job, incident, &buffer, None, Vec::new(), Vec::new())
                    .await?
                {
                    return Ok(());
                }
                match self.reread(&key).await? {
                    Some(fresh) => {
                        incident = fresh;
                        continue;
                    }
                    None => return Ok(()),
                }
            };
            let key = AlertKey::from_stored(incident.key.clone());
            // The route of the first buffered alert gives the new ticket its settings, as it
            // gave the closed one.
            let routed = routing::decide(first, config.source(&first.source), &config);
            let settings = config.ticket_settings_with(Some(&client), &routed.ticket);
            let host = &self.host_name;
            let lines = correlation_lines(
                self.base.store.as_ref(),
                &key,
                &client,
                self.base.now(),
                &config,
                |name| first.placeholder_value(name, host),
            )
            .await
            .map_err(|error| JobFailure::retryable(error.to_string()))?;
            let create = CreateTicket {
                incident_key: incident.key.clone(),
                client,
                external_xref: xref.clone(),
                summary: content::summary(&settings, first, host),
                description: content::description_for_buffer(
                    &settings, &alerts, host, &lines, only_first,
                ),
                flood: incident.flood,
                attachment: content::attachment_for_buffer(&alerts, only_first).map(Into::into),
                ticket: TicketFields::from_overrides(&routed.ticket),
                route: routed.route.map(|route| route.name),
            };
            let now = self.base.now();
            let create_job = new_job(
                Job::CreateTicket(create),
                &incident.key,
                now,
                format!("create:{xref}"),
                now,
            );
            tracing::info!(key = %incident.key, %reason, "closed ticket stays closed; opening a new one");
            let stored_key = incident.key.clone();
            let explained = vec![explain::reopen_refused(
                now,
                &incident.key,
                incident.ticket_id,
                alerts.len(),
                &reason,
            )];
            if self
                .commit_drained(
                    job,
                    incident,
                    &buffer,
                    Some(xref.clone()),
                    vec![create_job],
                    explained,
                )
                .await?
            {
                return Ok(());
            }
            match self.reread(&stored_key).await? {
                Some(fresh) => incident = fresh,
                None => return Ok(()),
            }
        }
        Err(contended(&incident.key))
    }

    /// Writes, in one transaction, the incident with the `flushed` entries of its buffer removed
    /// (alerts that arrived during the flush stay, with a new flush scheduled), the `follow_ups`
    /// that carry the flushed alerts, and, with `pending_xref`, the incident waiting for that
    /// create. `false` when the incident changed since it was read (nothing written).
    async fn commit_drained(
        &self,
        job: &Claimed,
        mut incident: Incident,
        flushed: &[BufferEntry],
        pending_xref: Option<String>,
        mut follow_ups: Vec<NewJob>,
        explained: Vec<RuleDecision>,
    ) -> Result<bool, JobFailure> {
        let key = incident.key.clone();
        let mut details = IncidentDetails::read(&incident.details);
        if let Some(xref) = pending_xref {
            details.pending_xref = Some(xref);
            incident.ticket_id = None;
            incident.status = STATUS_PENDING_CREATE.to_string();
        }
        let drained = u64::try_from(flushed.len()).unwrap_or(u64::MAX);
        let buffer = flushed
            .last()
            .map(|last| BufferChange::DrainThrough {
                key: key.clone(),
                through: last.position,
            })
            .into_iter()
            .collect();
        // `incident.buffered` and `flushed` were read under one version: a page that appended
        // since changed it, so the commit below is refused and the flush runs on fresh state.
        let now = self.base.now();
        incident.flush_at =
            flush::after_drain(incident.buffered, drained, now, &self.base.config().rules);
        if let Some(flush_at) = incident.flush_at {
            follow_ups.push(new_job(
                Job::Flush(Flush {
                    incident_key: key.clone(),
                }),
                &key,
                flush_at,
                format!("flush:{key}:after-job-{}", job.id),
                now,
            ));
        }
        incident.details = details.to_value();
        // The flushed alerts learn, in the same transaction, where the flush carried them.
        let notes = if explained.is_empty() {
            Vec::new()
        } else {
            let alerts = flushed
                .iter()
                .filter_map(|entry| BufferedAlert::read(&entry.entry))
                .map(|entry| entry.alert_id)
                .collect();
            vec![DecisionNote {
                alerts,
                decisions: explained,
            }]
        };
        let batch = DecisionBatch {
            incidents: vec![incident],
            jobs: follow_ups,
            buffer,
            notes,
            ..DecisionBatch::default()
        };
        match self.base.store.commit_decisions(batch).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict { .. }) => Ok(false),
            Err(error) => Err(store_failure(error)),
        }
    }

    async fn buffer(&self, key: &str) -> Result<Vec<BufferEntry>, JobFailure> {
        self.base
            .store
            .incident_buffer(key)
            .await
            .map_err(store_failure)
    }

    async fn reread(&self, key: &str) -> Result<Option<Incident>, JobFailure> {
        self.base
            .store
            .get_incident(key)
            .await
            .map_err(store_failure)
    }
}

/// The store id of the oldest alert in the buffer.
fn first_buffered_id(buffer: &[BufferEntry]) -> Option<AlertId> {
    buffer
        .iter()
        .find_map(|entry| BufferedAlert::read(&entry.entry))
        .map(|entry| entry.alert_id)
}

fn contended(key: &str) -> JobFailure {
    JobFailure::retryable(format!(
        "incident {key:?} kept changing while its buffer was flushed"
    ))
}

impl Flusher {
    /// The alerts of incident `key`'s buffer, oldest first, read from the alerts table. An alert
    /// that is gone (removed by hand) is left out.
    async fn buffered_alerts(
        &self,
        key: &str,
        buffer: &[BufferEntry],
    ) -> Result<Vec<Alert>, JobFailure> {
        let entries: Vec<BufferedAlert> = buffer
            .iter()
            .filter_map(|entry| BufferedAlert::read(&entry.entry))
            .collect();
        let wanted: Vec<AlertId> = entries
            .iter()
            .filter(|entry| entry.alert.is_none())
            .map(|entry| entry.alert_id)
            .collect();
        // In the order asked, each once, the missing ones skipped: a walk beside the entries.
        let mut stored = self
            .base
            .store
            .get_alerts(&wanted)
            .await
            .map_err(store_failure)?
            .into_iter()
            .peekable();
        let mut alerts = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(alert) = entry.alert {
                alerts.push(alert);
                continue;
            }
            match stored.next_if(|alert| alert.id == entry.alert_id) {
                Some(stored) => alerts.push(decode_alert(&stored)),
                None => tracing::warn!(
                    alert_id = entry.alert_id,
                    %key,
                    "a buffered alert is no longer stored; the update leaves it out"
                ),
            }
        }
        Ok(alerts)
    }
}

fn job_xref(job: &Claimed) -> String {
    // Stable per flush job (a repeated run asks for the same ticket), and unique across databases
    // thanks to the job's creation time.
    format!(
        "mspbridge:flush-{}-{}",
        job.id,
        job.created_at.timestamp_micros()
    )
}

/// What the flush rule reads of a ticket.
fn ticket_status(ticket: &Ticket) -> flush::TicketStatus {
    flush::TicketStatus {
        closed_flag: ticket.is_closed(),
        status: ticket
            .status
            .as_ref()
            .map(|status| (status.id, status.name.clone())),
    }
}

/// What the flush and resolution rules read of a board status.
pub(super) fn board_status(status: &BoardStatus) -> flush::BoardStatus {
    flush::BoardStatus {
        id: status.id,
        name: status.name.clone(),
        closed: status.is_closed(),
        inactive: status.inactive.unwrap_or(false),
        default: status.default_flag.unwrap_or(false),
        sort_order: status.sort_order,
    }
}

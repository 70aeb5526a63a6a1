//! The engine's side of the job runner: what each kind of job does ([`Handlers`], the
//! [`JobHandler`] of the engine), each kind handed to the part that owns it. Claiming, backoff
//! and dead-lettering are the runner's ([`crate::jobs::runner`]).

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mspbridge_core::events;
use serde_json::json;

use super::base::Base;
use super::effects::Tickets;
use super::enrich::Enricher;
use super::flush::Flusher;
use crate::jobs::{Claimed, Job, JobFailure, JobHandler};
use crate::reports::PublishDeps;

/// Every job kind's handler: the ticket effects, the flush, enrichment and report publishing.
#[derive(Clone)]
pub(crate) struct Handlers {
    pub(super) tickets: Tickets,
    pub(super) flusher: Flusher,
    pub(super) enricher: Enricher,
    /// What report publish jobs need; `None` without IT Glue clients.
    pub(super) publish: Option<PublishDeps>,
    pub(super) outages: OutageEvents,
}

/// Records that ConnectWise could not be reached, at most once per `every`, so an outage is one
/// event and not one per queued job.
#[derive(Clone)]
pub(crate) struct OutageEvents {
    base: Base,
    every: Duration,
    /// When the last "connection failed" event was recorded.
    last: Arc<StdMutex<Option<DateTime<Utc>>>>,
}

impl OutageEvents {
    pub(super) fn new(base: Base, every: Duration) -> OutageEvents {
        OutageEvents {
            base,
            every,
            last: Arc::new(StdMutex::new(None)),
        }
    }

    async fn connection_failed(&self, message: &str) {
        let now = self.base.now();
        {
            let mut last = self
                .last
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(previous) = *last {
                let quiet_until = mspbridge_core::clock::add(previous, self.every);
                if now < quiet_until {
                    return;
                }
            }
            *last = Some(now);
        }
        self.base
            .event(
                events::CONNECTION_FAILED,
                None,
                Some("connectwise".to_string()),
                format!("ConnectWise cannot be reached: {message}"),
                json!({"system": "connectwise"}),
            )
            .await;
    }
}

impl JobHandler for Handlers {
    async fn run(&self, claimed: &Claimed) -> Result<(), JobFailure> {
        match &claimed.job {
            Job::EnrichAlert(enrich) => self.enricher.run_enrich(claimed, enrich).await,
            Job::CreateTicket(create) => {
                self.tickets
                    .run_create_ticket(claimed, create.clone())
                    .await
            }
            Job::Flush(flush) => self.flusher.run_flush(claimed, flush.clone()).await,
            Job::AddNote(note) => self.tickets.run_add_note(claimed, note.clone()).await,
            Job::Resolve(note) => {
                self.tickets
                    .run_resolution_note(claimed, note.clone())
                    .await
            }
            Job::AddAttachment(upload) => {
                self.tickets
                    .run_upload_attachment(claimed, upload.clone())
                    .await
            }
            Job::PublishReport(publish) => match &self.publish {
                Some(deps) => crate::reports::publish::run_publish(deps, claimed, publish).await,
                None => Err(JobFailure::retryable(format!(
                    "job {} publishes report {}, and this process does not publish reports",
                    claimed.id, publish.report_id
                ))),
            },
        }
    }

    async fn failed(
        &self,
        claimed: &Claimed,
        failure: &JobFailure,
        retry_at: Option<DateTime<Utc>>,
    ) {
        if failure.unreachable
            && !matches!(claimed.job, Job::EnrichAlert(_) | Job::PublishReport(_))
        {
            self.outages.connection_failed(&failure.message).await;
        }
        if let (Job::EnrichAlert(enrich), None) = (&claimed.job, retry_at) {
            // Given up by the runner (unreadable alert, store trouble to the end): the alert
            // must not wait for ever; it goes on saying why its record is missing.
            if let Err(error) = self.enricher.give_up_dead_enrichment(enrich, failure).await {
                tracing::error!(alert_id = enrich.alert_id, error = %error.message, "alert left waiting for its record");
            }
        }
        if let (Job::PublishReport(publish), Some(deps)) = (&claimed.job, &self.publish) {
            crate::reports::publish::publish_failed(deps, claimed, publish, failure, retry_at)
                .await;
        }
    }
}

//! The engine's side of the job runner: which lanes it runs, and what each kind of job does
//! (the [`JobHandler`] of the engine). Claiming, backoff and dead-lettering are the runner's
//! ([`crate::jobs::runner`]).

use chrono::{DateTime, Utc};
use mspbridge_core::events;
use serde_json::json;

use super::error::EngineError;
use super::Engine;
use crate::jobs::{Claimed, Job, JobFailure, JobHandler};

impl Engine {
    /// Runs every job due now in every lane; returns how many attempts were made.
    pub(crate) async fn run_due_jobs(&self) -> Result<usize, EngineError> {
        let runner = self.shared.runner.clone();
        Ok(runner.run_due(self, &self.shared.stopping).await?)
    }

    /// Records that ConnectWise could not be reached, at most once per
    /// `connection_event_every`, so an outage is one event and not one per queued job.
    async fn connection_failed(&self, message: &str) {
        let now = self.now();
        {
            let mut last = self
                .shared
                .last_connection_event
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(previous) = *last {
                let quiet_until = mspbridge_core::clock::add(
                    previous,
                    self.shared.options.connection_event_every,
                );
                if now < quiet_until {
                    return;
                }
            }
            *last = Some(now);
        }
        self.event(
            events::CONNECTION_FAILED,
            None,
            Some("connectwise".to_string()),
            format!("ConnectWise cannot be reached: {message}"),
            json!({"system": "connectwise"}),
        )
        .await;
    }
}

impl JobHandler for Engine {
    async fn run(&self, claimed: &Claimed) -> Result<(), JobFailure> {
        match &claimed.job {
            Job::EnrichAlert(enrich) => self.run_enrich(claimed, enrich).await,
            Job::CreateTicket(create) => self.run_create_ticket(claimed, create.clone()).await,
            Job::Flush(flush) => self.run_flush(claimed, flush.clone()).await,
            Job::AddNote(note) => self.run_add_note(claimed, note.clone()).await,
            Job::Resolve(note) => self.run_resolution_note(claimed, note.clone()).await,
            Job::AddAttachment(upload) => self.run_upload_attachment(claimed, upload.clone()).await,
            Job::PublishReport(publish) => match &self.shared.publish {
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
            self.connection_failed(&failure.message).await;
        }
        if let (Job::EnrichAlert(enrich), None) = (&claimed.job, retry_at) {
            // Given up by the runner (unreadable alert, store trouble to the end): the alert
            // must not wait for ever; it goes on saying why its record is missing.
            if let Err(error) = self.give_up_dead_enrichment(enrich, failure).await {
                tracing::error!(alert_id = enrich.alert_id, error = %error.message, "alert left waiting for its record");
            }
        }
        if let (Job::PublishReport(publish), Some(deps)) = (&claimed.job, &self.shared.publish) {
            crate::reports::publish::publish_failed(deps, claimed, publish, failure, retry_at)
                .await;
        }
    }
}

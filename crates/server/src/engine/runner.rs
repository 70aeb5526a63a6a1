//! The job runner: claims due jobs with a lease, runs them (different incidents in parallel, one
//! incident's jobs one at a time by their serial key), and records the outcome: done, retried
//! after a backoff, or dead-lettered with an event.

use mspbridge_core::events;
use mspbridge_store::{Job, StoreError};
use serde::de::DeserializeOwned;
use serde_json::json;
use tokio::task::JoinSet;

use super::error::EngineError;
use super::jobs::{self, JobFailure};
use super::{metrics, Engine};

impl Engine {
    /// Runs every job due now; returns how many attempts were made.
    pub(crate) async fn run_due_jobs(&self) -> Result<usize, EngineError> {
        let mut attempts = 0;
        loop {
            if self
                .shared
                .stopping
                .load(std::sync::atomic::Ordering::SeqCst)
            {
                return Ok(attempts);
            }
            let now = self.now();
            let claimed = self
                .shared
                .store
                .claim_jobs_except_reports(
                    &self.shared.worker_id,
                    now,
                    self.shared.options.lease,
                    self.shared.options.concurrency.max(1),
                )
                .await?;
            if claimed.is_empty() {
                return Ok(attempts);
            }
            attempts += claimed.len();
            let mut running = JoinSet::new();
            for job in claimed {
                let engine = self.clone();
                running.spawn(async move { engine.run_job(job).await });
            }
            // Every job in flight finishes and records its outcome before an error is reported.
            let mut first_error = None;
            while let Some(joined) = running.join_next().await {
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        first_error.get_or_insert(error);
                    }
                    Err(error) => tracing::error!(%error, "a job task panicked; its lease expires"),
                }
            }
            if let Some(error) = first_error {
                return Err(error);
            }
        }
    }

    async fn run_job(&self, job: Job) -> Result<(), EngineError> {
        let outcome = self.dispatch(&job).await;
        let store = &self.shared.store;
        let Some(token) = job.lease_token.clone() else {
            return Ok(());
        };
        let now = self.now();
        let recorded = match outcome {
            Ok(()) => store.complete_job(job.id, &token, now).await,
            Err(failure) => self.record_failure(&job, &token, failure).await,
        };
        match recorded {
            Ok(()) => Ok(()),
            Err(StoreError::LeaseLost { id }) => {
                tracing::warn!(
                    job_id = id,
                    "job lease lost; another worker owns its outcome"
                );
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn record_failure(
        &self,
        job: &Job,
        token: &str,
        failure: JobFailure,
    ) -> Result<(), StoreError> {
        let now = self.now();
        if failure.unreachable {
            self.connection_failed(&failure.message).await;
        }
        let policy = self.shared.options.retry;
        match policy.next_delay_jittered(job.attempts, failure.class) {
            Some(delay) => {
                let next = mspbridge_core::clock::add(now, delay);
                metrics::count(metrics::JOB_RETRIES);
                tracing::warn!(
                    job_id = job.id,
                    kind = %job.kind,
                    attempt = job.attempts,
                    class = metrics::class_label(failure.class),
                    retry_at = %next.to_rfc3339(),
                    error = %failure.message,
                    "job failed; retrying later"
                );
                self.shared
                    .store
                    .fail_job(job.id, token, now, &failure.message, Some(next))
                    .await
            }
            None => {
                self.shared
                    .store
                    .fail_job(job.id, token, now, &failure.message, None)
                    .await?;
                metrics::count(metrics::JOBS_DEAD_LETTERED);
                tracing::error!(
                    job_id = job.id,
                    kind = %job.kind,
                    attempts = job.attempts,
                    error = %failure.message,
                    "job dead-lettered"
                );
                let client = job
                    .payload
                    .get("client")
                    .and_then(|client| client.as_str())
                    .map(str::to_string);
                self.event(
                    events::JOB_DEAD_LETTERED,
                    client,
                    Some(format!("job {}", job.id)),
                    format!(
                        "{} job {} gave up after {} attempt(s): {}",
                        job.kind, job.id, job.attempts, failure.message
                    ),
                    json!({"job_id": job.id, "kind": job.kind, "serial_key": job.serial_key}),
                )
                .await;
                Ok(())
            }
        }
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

    async fn dispatch(&self, job: &Job) -> Result<(), JobFailure> {
        match job.kind.as_str() {
            jobs::KIND_CREATE_TICKET => self.run_create_ticket(job, payload(job)?).await,
            jobs::KIND_FLUSH => self.run_flush(job, payload(job)?).await,
            jobs::KIND_ADD_NOTE => self.run_add_note(payload(job)?).await,
            jobs::KIND_RESOLUTION_NOTE => self.run_resolution_note(payload(job)?).await,
            jobs::KIND_UPLOAD_ATTACHMENT => self.run_upload_attachment(payload(job)?).await,
            other => Err(JobFailure::permanent(format!(
                "job {} has the unknown kind {other:?}; this version of mspbridge cannot run it",
                job.id
            ))),
        }
    }
}

fn payload<T: DeserializeOwned>(job: &Job) -> Result<T, JobFailure> {
    serde_json::from_value(job.payload.clone()).map_err(|error| {
        JobFailure::permanent(format!(
            "job {} ({}) has an unreadable payload: {error}",
            job.id, job.kind
        ))
    })
}

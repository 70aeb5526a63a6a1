//! The one job runner: claims due jobs in a lane per kind, runs them through a [`JobHandler`],
//! and records each outcome — done, retried after the [`JobPolicy`]'s backoff, or dead-lettered
//! with an event.
//!
//! Each lane has its own number of slots; a lane is refilled whenever a job of any lane ends, so
//! a long backlog of one kind keeps its own slots busy and never holds up another kind. A claim,
//! the call a job makes and the recording of its outcome are three separate steps: no store
//! transaction is open during a network call.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mspbridge_core::clock::Clock;
use mspbridge_core::events;
use mspbridge_store::{JobId, NewEvent, Store, StoreError};
use serde_json::json;
use tokio::task::JoinSet;

use super::{Job, JobFailure, JobKind, JobPolicy};

/// One lane: the kind it runs and how many of its jobs run at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane {
    /// The kind.
    pub kind: JobKind,
    /// Jobs of the kind running at once (at least 1).
    pub slots: u32,
}

impl Lane {
    /// A lane for every kind with `slots` each, except report publishing: one report at a
    /// time (an upload is large, and the first publish of an instance creates its asset type).
    pub fn every_kind(slots: u32) -> Vec<Lane> {
        JobKind::ALL
            .into_iter()
            .map(|kind| Lane {
                kind,
                slots: if kind == JobKind::PublishReport {
                    1
                } else {
                    slots
                },
            })
            .collect()
    }
}

/// A claimed job: its typed value and what the store knows of it.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Job id.
    pub id: JobId,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Its serial key.
    pub serial_key: Option<String>,
    /// The last error of an earlier attempt (an attempt after one whose outcome is unknown
    /// looks before it acts).
    pub last_error: Option<String>,
    /// The job.
    pub job: Job,
}

/// Runs claimed jobs.
pub trait JobHandler: Clone + Send + Sync + 'static {
    /// One attempt of `claimed`.
    fn run(&self, claimed: &Claimed) -> impl Future<Output = Result<(), JobFailure>> + Send;

    /// Called after a failed attempt was recorded: `retry_at` is when it runs again, `None`
    /// when it was dead-lettered. For events and state of the job's own subject.
    fn failed(
        &self,
        claimed: &Claimed,
        failure: &JobFailure,
        retry_at: Option<DateTime<Utc>>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (claimed, failure, retry_at);
        async {}
    }
}

/// The job runner.
#[derive(Clone)]
pub struct JobRunner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    worker_id: String,
    policy: JobPolicy,
    lanes: Vec<Lane>,
}

impl std::fmt::Debug for JobRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunner")
            .field("worker_id", &self.worker_id)
            .field("policy", &self.policy)
            .field("lanes", &self.lanes)
            .finish_non_exhaustive()
    }
}

impl JobRunner {
    /// A runner over `lanes`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        worker_id: String,
        policy: JobPolicy,
        lanes: Vec<Lane>,
    ) -> JobRunner {
        JobRunner {
            store,
            clock,
            worker_id,
            policy,
            lanes,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &JobPolicy {
        &self.policy
    }

    /// Runs every job of its lanes due now, until none is left or `stop` is set; returns how
    /// many attempts were made. Jobs in flight always finish and record their outcome.
    pub async fn run_due<H: JobHandler>(
        &self,
        handler: &H,
        stop: &AtomicBool,
    ) -> Result<usize, StoreError> {
        // Nothing due and no lease running out: no lane needs its claim (a write transaction
        // each), which matters when the engine looks for jobs between every page of alerts.
        match self.store.next_job_run_at().await? {
            Some(at) if at <= self.clock.now() => {}
            _ => return Ok(0),
        }
        let mut attempts = 0;
        let mut running: JoinSet<(JobKind, Result<(), StoreError>)> = JoinSet::new();
        let mut busy: HashMap<JobKind, u32> = HashMap::new();
        let mut first_error = None;
        loop {
            if !stop.load(Ordering::SeqCst) && first_error.is_none() {
                for lane in &self.lanes {
                    let used = busy.get(&lane.kind).copied().unwrap_or(0);
                    let free = lane.slots.max(1).saturating_sub(used);
                    if free == 0 {
                        continue;
                    }
                    let claimed = match self
                        .store
                        .claim_jobs_of_kind(
                            &self.worker_id,
                            lane.kind.as_str(),
                            self.clock.now(),
                            self.policy.lease,
                            free,
                        )
                        .await
                    {
                        Ok(claimed) => claimed,
                        Err(error) => {
                            first_error = Some(error);
                            break;
                        }
                    };
                    for stored in claimed {
                        attempts += 1;
                        *busy.entry(lane.kind).or_default() += 1;
                        let runner = self.clone();
                        let handler = handler.clone();
                        let kind = lane.kind;
                        running
                            .spawn(async move { (kind, runner.run_one(&handler, stored).await) });
                    }
                }
            }
            // Wait for one job to end, then take whatever else has ended, before refilling.
            let Some(joined) = running.join_next().await else {
                break;
            };
            let mut ended = vec![joined];
            while let Some(more) = running.try_join_next() {
                ended.push(more);
            }
            for joined in ended {
                match joined {
                    Ok((kind, outcome)) => {
                        if let Some(used) = busy.get_mut(&kind) {
                            *used = used.saturating_sub(1);
                        }
                        if let Err(error) = outcome {
                            first_error.get_or_insert(error);
                        }
                    }
                    Err(error) => {
                        // The lane's count cannot be told; the lease expires and the job is
                        // taken again. Stop refilling this pass.
                        tracing::error!(%error, "a job task panicked; its lease expires");
                        first_error.get_or_insert(StoreError::InvalidArgument(
                            "a job task panicked".to_string(),
                        ));
                    }
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(attempts),
        }
    }

    async fn run_one<H: JobHandler>(
        &self,
        handler: &H,
        stored: mspbridge_store::Job,
    ) -> Result<(), StoreError> {
        let Some(token) = stored.lease_token.clone() else {
            return Ok(());
        };
        let (claimed, outcome) = match Job::decode(&stored) {
            Ok(job) => {
                let claimed = Claimed {
                    id: stored.id,
                    attempt: stored.attempts,
                    created_at: stored.created_at,
                    serial_key: stored.serial_key.clone(),
                    last_error: stored.last_error.clone(),
                    job,
                };
                let outcome = handler.run(&claimed).await;
                (Some(claimed), outcome)
            }
            Err(failure) => (None, Err(failure)),
        };
        let now = self.clock.now();
        let recorded = match outcome {
            Ok(()) => self.store.complete_job(stored.id, &token, now).await,
            Err(failure) => {
                let next = match failure.retry_until {
                    Some(until) => {
                        Some(
                            self.policy
                                .next_run_until(stored.attempts, failure.class, now, until),
                        )
                    }
                    None => {
                        self.policy
                            .next_run(stored.attempts, stored.created_at, failure.class, now)
                    }
                };
                let recorded = self
                    .store
                    .fail_job(stored.id, &token, now, &failure.message, next)
                    .await;
                if recorded.is_ok() {
                    self.after_failure(&stored, claimed.as_ref(), &failure, next)
                        .await;
                    if let Some(claimed) = &claimed {
                        handler.failed(claimed, &failure, next).await;
                    }
                }
                recorded
            }
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
            Err(error) => Err(error),
        }
    }

    async fn after_failure(
        &self,
        stored: &mspbridge_store::Job,
        claimed: Option<&Claimed>,
        failure: &JobFailure,
        next: Option<DateTime<Utc>>,
    ) {
        if let Some(next) = next {
            crate::metrics::count(crate::metrics::JOB_RETRIES);
            tracing::warn!(
                job_id = stored.id,
                kind = %stored.kind,
                attempt = stored.attempts,
                retry_at = %next.to_rfc3339(),
                error = %failure.message,
                "job failed; retrying later"
            );
            return;
        }
        crate::metrics::count(crate::metrics::JOBS_DEAD_LETTERED);
        tracing::error!(
            job_id = stored.id,
            kind = %stored.kind,
            attempts = stored.attempts,
            error = %failure.message,
            "job dead-lettered"
        );
        let event = NewEvent {
            code: events::JOB_DEAD_LETTERED,
            at: self.clock.now(),
            client: claimed
                .and_then(|claimed| claimed.job.client())
                .map(str::to_string),
            subject: Some(format!("job {}", stored.id)),
            message: format!(
                "{} job {} gave up after {} attempt(s): {}",
                stored.kind, stored.id, stored.attempts, failure.message
            ),
            details: json!({"job_id": stored.id, "kind": stored.kind, "serial_key": stored.serial_key}),
        };
        if let Err(error) = self.store.append_event(event).await {
            tracing::error!(%error, "cannot record a dead-letter event");
        }
    }
}

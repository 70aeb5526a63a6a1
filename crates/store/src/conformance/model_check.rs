//! A randomized check of the job queue against a small reference model.
//!
//! The hand-written checks pin single rules; this one drives long random sequences of
//! enqueue / claim / complete / fail / retry / extend / clock steps and compares every
//! answer and every job's state with a plain in-memory model of the rules. Seeds are
//! fixed so a failure reproduces exactly; the failing seed and step are in the message.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::at;
use crate::error::StoreError;
use crate::model::*;
use crate::port::Store;

/// Deterministic xorshift generator, so the check needs no randomness crate.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[derive(Debug, Clone)]
struct ModelJob {
    id: JobId,
    key: Option<String>,
    state: JobState,
    run_at: DateTime<Utc>,
    attempts: u32,
    lease_expires_at: Option<DateTime<Utc>>,
    token: Option<String>,
    last_error: Option<String>,
}

impl ModelJob {
    fn unfinished(&self) -> bool {
        matches!(self.state, JobState::Queued | JobState::Running)
    }

    fn live_lease(&self, now: DateTime<Utc>) -> bool {
        self.state == JobState::Running && self.lease_expires_at.is_some_and(|end| end > now)
    }
}

#[derive(Debug, Default)]
struct Model {
    jobs: Vec<ModelJob>,
}

impl Model {
    fn claimable(&self, now: DateTime<Utc>, limit: usize) -> Vec<JobId> {
        let mut candidates: Vec<&ModelJob> = self
            .jobs
            .iter()
            .filter(|job| job.unfinished() && job.run_at <= now && !job.live_lease(now))
            .filter(|job| match &job.key {
                None => true,
                Some(key) => {
                    let same_key = || self.jobs.iter().filter(|o| o.key.as_ref() == Some(key));
                    let head = same_key().filter(|o| o.unfinished()).map(|o| o.id).min();
                    head == Some(job.id) && !same_key().any(|o| o.id != job.id && o.live_lease(now))
                }
            })
            .collect();
        candidates.sort_by_key(|job| (job.run_at, job.id));
        candidates
            .into_iter()
            .take(limit)
            .map(|job| job.id)
            .collect()
    }

    fn job(&mut self, id: JobId) -> &mut ModelJob {
        self.jobs
            .iter_mut()
            .find(|job| job.id == id)
            .expect("model knows every job")
    }
}

/// Runs the job queue through random operation sequences and compares with the model;
/// `fresh` must return a new, empty store on every call.
pub async fn job_queue_matches_reference_model<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    for seed in 1..=SEEDS {
        run_seed(fresh().await, seed).await;
    }
}

const SEEDS: u64 = 12;
const STEPS: usize = 250;

async fn run_seed(store: Arc<dyn Store>, seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut model = Model::default();
    let mut clock = 0i64;
    let keys = [Some("a"), Some("b"), Some("c"), None];

    for step in 0..STEPS {
        let now = at(clock);
        let context = format!("seed {seed}, step {step}, t={clock}");
        match rng.below(10) {
            0..=2 => {
                let key = keys[rng.below(keys.len() as u64) as usize].map(str::to_string);
                let run_at = at(clock + rng.below(4) as i64);
                let job = store
                    .enqueue_job(NewJob {
                        kind: "model".into(),
                        serial_key: key.clone(),
                        payload: serde_json::json!({ "step": step }),
                        run_at,
                        idempotency_key: None,
                        created_at: now,
                    })
                    .await
                    .unwrap();
                model.jobs.push(ModelJob {
                    id: job.id,
                    key,
                    state: JobState::Queued,
                    run_at,
                    attempts: 0,
                    lease_expires_at: None,
                    token: None,
                    last_error: None,
                });
            }
            3 | 4 => {
                let limit = 1 + rng.below(3) as usize;
                let lease = 1 + rng.below(6);
                let expected = model.claimable(now, limit);
                let claimed = store
                    .claim_jobs("model", now, Duration::from_secs(lease), limit as u32)
                    .await
                    .unwrap();
                let got: Vec<JobId> = claimed.iter().map(|job| job.id).collect();
                assert_eq!(got, expected, "claim differs from the model ({context})");
                for job in claimed {
                    let entry = model.job(job.id);
                    entry.state = JobState::Running;
                    entry.attempts += 1;
                    entry.lease_expires_at = Some(at(clock + lease as i64));
                    entry.token = job.lease_token;
                }
            }
            5 | 6 => {
                // Finish a job that is or was leased, with its latest token.
                let leased: Vec<(JobId, String)> = model
                    .jobs
                    .iter()
                    .filter_map(|job| job.token.clone().map(|token| (job.id, token)))
                    .collect();
                if leased.is_empty() {
                    continue;
                }
                let (id, token) = leased[rng.below(leased.len() as u64) as usize].clone();
                let live = model
                    .jobs
                    .iter()
                    .any(|job| job.id == id && job.live_lease(now));
                let choice = rng.below(3);
                let outcome = match choice {
                    0 => store.complete_job(id, &token, now).await,
                    1 => {
                        store
                            .fail_job(id, &token, now, "retry", Some(at(clock + 2)))
                            .await
                    }
                    _ => store.fail_job(id, &token, now, "give up", None).await,
                };
                if !live {
                    assert!(
                        matches!(outcome, Err(StoreError::LeaseLost { .. })),
                        "finishing without a live lease must be LeaseLost, got {outcome:?} ({context})"
                    );
                    continue;
                }
                outcome.unwrap_or_else(|e| {
                    panic!("finishing with a live lease failed: {e} ({context})")
                });
                let entry = model.job(id);
                entry.token = None;
                entry.lease_expires_at = None;
                match choice {
                    0 => entry.state = JobState::Done,
                    1 => {
                        entry.state = JobState::Queued;
                        entry.run_at = at(clock + 2);
                        entry.last_error = Some("retry".into());
                    }
                    _ => {
                        entry.state = JobState::Dead;
                        entry.last_error = Some("give up".into());
                    }
                }
            }
            7 => {
                let dead: Vec<JobId> = model
                    .jobs
                    .iter()
                    .filter(|j| j.state == JobState::Dead)
                    .map(|j| j.id)
                    .collect();
                if dead.is_empty() {
                    continue;
                }
                let id = dead[rng.below(dead.len() as u64) as usize];
                store.retry_dead_job(id, now).await.unwrap();
                let entry = model.job(id);
                entry.state = JobState::Queued;
                entry.run_at = now;
                entry.attempts = 0;
            }
            8 => {
                let live: Vec<(JobId, String)> = model
                    .jobs
                    .iter()
                    .filter(|job| job.live_lease(now))
                    .filter_map(|job| job.token.clone().map(|token| (job.id, token)))
                    .collect();
                if live.is_empty() {
                    continue;
                }
                let (id, token) = live[rng.below(live.len() as u64) as usize].clone();
                let until = store
                    .extend_lease(id, &token, now, Duration::from_secs(3))
                    .await
                    .unwrap();
                assert_eq!(until, at(clock + 3), "({context})");
                model.job(id).lease_expires_at = Some(until);
            }
            _ => clock += rng.below(4) as i64,
        }
        compare(&*store, &model, &context).await;
    }
}

async fn compare(store: &dyn Store, model: &Model, context: &str) {
    let stored = store.list_jobs(JobFilter::default(), 10_000).await.unwrap();
    assert_eq!(stored.len(), model.jobs.len(), "job count ({context})");
    for (got, want) in stored.iter().zip(&model.jobs) {
        assert_eq!(got.id, want.id, "job order ({context})");
        assert_eq!(got.state, want.state, "state of job {} ({context})", got.id);
        assert_eq!(
            got.run_at, want.run_at,
            "run_at of job {} ({context})",
            got.id
        );
        assert_eq!(
            got.attempts, want.attempts,
            "attempts of job {} ({context})",
            got.id
        );
        assert_eq!(
            got.last_error, want.last_error,
            "last error of job {} ({context})",
            got.id
        );
        if want.state == JobState::Running {
            assert_eq!(
                got.lease_expires_at, want.lease_expires_at,
                "lease of job {} ({context})",
                got.id
            );
        }
    }
}

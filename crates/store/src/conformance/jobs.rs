//! Work-queue checks: leases, serial keys, backoff, dead letters, idempotency, concurrency.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{at, ids, new_job, token};
use crate::error::StoreError;
use crate::model::*;
use crate::port::Store;

const LEASE: Duration = Duration::from_secs(60);

/// A job is not handed out before its `run_at`, including after a failure with backoff.
pub async fn backoff_run_at_respected(store: Arc<dyn Store>) {
    let job = store
        .enqueue_job(new_job("ticket.create", None, 100))
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.attempts, 0);
    assert!(
        store
            .claim_jobs("w1", at(99), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    assert_eq!(store.next_job_run_at().await.unwrap(), Some(at(100)));

    let claimed = store.claim_jobs("w1", at(100), LEASE, 10).await.unwrap();
    assert_eq!(ids(&claimed), vec![job.id], "due exactly at run_at");
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].state, JobState::Running);
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("w1"));
    assert_eq!(claimed[0].lease_expires_at, Some(at(160)));
    assert_eq!(
        store.next_job_run_at().await.unwrap(),
        Some(at(160)),
        "a lease running out is the next wake-up"
    );

    store
        .fail_job(
            job.id,
            &token(&claimed[0]),
            at(101),
            "503 Service Unavailable",
            Some(at(200)),
        )
        .await
        .unwrap();
    let backing_off = store.get_job(job.id).await.unwrap().unwrap();
    assert_eq!(backing_off.state, JobState::Queued);
    assert_eq!(backing_off.run_at, at(200));
    assert_eq!(
        backing_off.last_error.as_deref(),
        Some("503 Service Unavailable")
    );
    assert!(
        store
            .claim_jobs("w1", at(199), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "backoff is respected"
    );
    let again = store.claim_jobs("w2", at(200), LEASE, 10).await.unwrap();
    assert_eq!(ids(&again), vec![job.id]);
    assert_eq!(again[0].attempts, 2, "attempts count claims");
    store
        .complete_job(job.id, &token(&again[0]), at(201))
        .await
        .unwrap();
    let done = store.get_job(job.id).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.finished_at, Some(at(201)));
    assert!(
        store
            .claim_jobs("w1", at(10_000), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "done jobs are never handed out"
    );
    assert_eq!(store.next_job_run_at().await.unwrap(), None);
}

/// While one job of a serial key is leased, no other job of that key is handed out;
/// other keys and unkeyed jobs are unaffected.
pub async fn lease_exclusive_per_serial_key(store: Arc<dyn Store>) {
    let k1 = store
        .enqueue_job(new_job("flush", Some("acme/lockout"), 0))
        .await
        .unwrap();
    let k2 = store
        .enqueue_job(new_job("flush", Some("acme/lockout"), 0))
        .await
        .unwrap();
    let other = store
        .enqueue_job(new_job("flush", Some("globex/lockout"), 0))
        .await
        .unwrap();
    let free = store
        .enqueue_job(new_job("publish", None, 0))
        .await
        .unwrap();

    let first = store.claim_jobs("w1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(
        ids(&first),
        vec![k1.id, other.id, free.id],
        "one job per serial key per claim"
    );
    let second = store.claim_jobs("w2", at(2), LEASE, 10).await.unwrap();
    assert!(
        second.is_empty(),
        "k2 must wait while k1 is leased, got {second:?}"
    );

    store
        .complete_job(k1.id, &token(&first[0]), at(3))
        .await
        .unwrap();
    let third = store.claim_jobs("w2", at(3), LEASE, 10).await.unwrap();
    assert_eq!(
        ids(&third),
        vec![k2.id],
        "the next job of the key is released by completion"
    );
}

/// A job whose worker vanished is claimable again once its lease expires.
pub async fn expired_lease_is_reclaimed(store: Arc<dyn Store>) {
    let job = store
        .enqueue_job(new_job("ticket.update", Some("k"), 0))
        .await
        .unwrap();
    let behind = store
        .enqueue_job(new_job("ticket.update", Some("k"), 0))
        .await
        .unwrap();
    let first = store.claim_jobs("w1", at(0), LEASE, 10).await.unwrap();
    assert_eq!(ids(&first), vec![job.id]);
    assert!(
        store
            .claim_jobs("w2", at(59), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "lease still live"
    );

    let retaken = store.claim_jobs("w2", at(60), LEASE, 10).await.unwrap();
    assert_eq!(
        ids(&retaken),
        vec![job.id],
        "the expired head is reclaimed, not the job behind it"
    );
    assert_eq!(retaken[0].lease_owner.as_deref(), Some("w2"));
    assert_eq!(retaken[0].attempts, 2);
    assert_ne!(
        retaken[0].lease_token, first[0].lease_token,
        "a new claim issues a new token"
    );
    assert_ne!(behind.id, job.id);
}

/// Leases of a worker known to be gone can be ended at once; other workers' stay.
pub async fn leases_of_a_gone_worker_are_expired_at_once(store: Arc<dyn Store>) {
    for key in ["a", "b"] {
        store
            .enqueue_job(new_job("ticket.update", Some(key), 0))
            .await
            .unwrap();
    }
    let gone = store.claim_jobs("host:100", at(0), LEASE, 1).await.unwrap();
    let alive = store.claim_jobs("host:200", at(0), LEASE, 1).await.unwrap();
    assert_eq!((gone.len(), alive.len()), (1, 1));
    assert_eq!(
        store.lease_owners().await.unwrap(),
        vec!["host:100".to_string(), "host:200".to_string()]
    );

    assert_eq!(store.expire_leases("host:100", at(1)).await.unwrap(), 1);
    let retaken = store
        .claim_jobs("host:300", at(1), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&retaken),
        ids(&gone),
        "only the gone worker's job is free"
    );
    let late = store
        .complete_job(gone[0].id, gone[0].lease_token.as_deref().unwrap(), at(2))
        .await;
    assert!(
        matches!(late, Err(StoreError::LeaseLost { .. })),
        "the gone worker's token is refused, got {late:?}"
    );
    assert_eq!(store.expire_leases("host:100", at(2)).await.unwrap(), 0);
}

/// A worker whose lease expired can no longer complete, fail or extend the job.
pub async fn lease_lost_after_expiry(store: Arc<dyn Store>) {
    let job = store
        .enqueue_job(new_job("ticket.create", Some("k"), 0))
        .await
        .unwrap();
    let old = store.claim_jobs("slow", at(0), LEASE, 1).await.unwrap();
    let old_token = token(&old[0]);

    let extended = store
        .extend_lease(job.id, &old_token, at(30), LEASE)
        .await
        .unwrap();
    assert_eq!(extended, at(90), "extension counts from now");
    assert!(
        store
            .claim_jobs("w2", at(89), LEASE, 1)
            .await
            .unwrap()
            .is_empty(),
        "extended lease holds"
    );

    // Expired but not yet reclaimed: still refused.
    let late = store.complete_job(job.id, &old_token, at(90)).await;
    assert!(
        matches!(late, Err(StoreError::LeaseLost { id }) if id == job.id),
        "got {late:?}"
    );

    let new = store.claim_jobs("fast", at(91), LEASE, 1).await.unwrap();
    assert_eq!(ids(&new), vec![job.id]);
    for outcome in [
        store.complete_job(job.id, &old_token, at(92)).await,
        store
            .fail_job(job.id, &old_token, at(92), "boom", None)
            .await,
        store
            .extend_lease(job.id, &old_token, at(92), LEASE)
            .await
            .map(|_| ()),
        store.complete_job(job.id, "not-a-token", at(92)).await,
    ] {
        assert!(
            matches!(outcome, Err(StoreError::LeaseLost { .. })),
            "stale token must be refused, got {outcome:?}"
        );
    }
    store
        .complete_job(job.id, &token(&new[0]), at(93))
        .await
        .unwrap();
    let finished = store.complete_job(job.id, &token(&new[0]), at(94)).await;
    assert!(
        matches!(finished, Err(StoreError::LeaseLost { .. })),
        "a finished job has no lease, got {finished:?}"
    );
    let missing = store.complete_job(job.id + 100, "x", at(94)).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "got {missing:?}"
    );
}

/// Without a next run the job is dead-lettered, keeps its error and attempts, and can
/// be retried; a dead job does not block its serial key.
pub async fn dead_letter_and_retry(store: Arc<dyn Store>) {
    let job = store
        .enqueue_job(new_job("ticket.create", Some("k"), 0))
        .await
        .unwrap();
    let behind = store
        .enqueue_job(new_job("ticket.update", Some("k"), 0))
        .await
        .unwrap();
    let claimed = store.claim_jobs("w", at(1), LEASE, 1).await.unwrap();
    store
        .fail_job(
            job.id,
            &token(&claimed[0]),
            at(2),
            "400 Bad Request: company not found",
            None,
        )
        .await
        .unwrap();

    let dead = store.get_job(job.id).await.unwrap().unwrap();
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.attempts, 1);
    assert_eq!(
        dead.last_error.as_deref(),
        Some("400 Bad Request: company not found")
    );
    assert_eq!(dead.finished_at, Some(at(2)));
    let listed = store
        .list_jobs(
            JobFilter {
                state: Some(JobState::Dead),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(ids(&listed), vec![job.id]);

    let next = store.claim_jobs("w", at(3), LEASE, 10).await.unwrap();
    assert_eq!(
        ids(&next),
        vec![behind.id],
        "a dead job no longer holds its key"
    );
    store
        .complete_job(behind.id, &token(&next[0]), at(4))
        .await
        .unwrap();

    let wrong = store.retry_dead_job(behind.id, at(5)).await;
    assert!(
        matches!(wrong, Err(StoreError::InvalidTransition { .. })),
        "only dead jobs are retried, got {wrong:?}"
    );
    let missing = store.retry_dead_job(9999, at(5)).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "got {missing:?}"
    );

    let retried = store.retry_dead_job(job.id, at(10)).await.unwrap();
    assert_eq!(retried.state, JobState::Queued);
    assert_eq!(retried.run_at, at(10));
    assert_eq!(
        retried.attempts, 0,
        "a retry by hand starts a fresh retry budget"
    );
    assert_eq!(
        retried.last_error.as_deref(),
        Some("400 Bad Request: company not found")
    );
    let again = store.claim_jobs("w", at(10), LEASE, 10).await.unwrap();
    assert_eq!(ids(&again), vec![job.id]);
    assert_eq!(again[0].attempts, 1);
}

/// A dead job retried while a newer job of its key is running waits for that lease.
pub async fn retried_dead_job_respects_running_key(store: Arc<dyn Store>) {
    let old = store
        .enqueue_job(new_job("ticket.create", Some("k"), 0))
        .await
        .unwrap();
    let newer = store
        .enqueue_job(new_job("ticket.update", Some("k"), 0))
        .await
        .unwrap();
    let claimed = store.claim_jobs("w", at(1), LEASE, 1).await.unwrap();
    store
        .fail_job(old.id, &token(&claimed[0]), at(2), "timeout", None)
        .await
        .unwrap();
    let running = store.claim_jobs("w", at(3), LEASE, 1).await.unwrap();
    assert_eq!(ids(&running), vec![newer.id]);

    store.retry_dead_job(old.id, at(4)).await.unwrap();
    let blocked = store.claim_jobs("w2", at(5), LEASE, 10).await.unwrap();
    assert!(
        blocked.is_empty(),
        "the retried job must wait for the live lease on its key, got {blocked:?}"
    );
    store
        .complete_job(newer.id, &token(&running[0]), at(6))
        .await
        .unwrap();
    let released = store.claim_jobs("w2", at(6), LEASE, 10).await.unwrap();
    assert_eq!(ids(&released), vec![old.id]);
}

/// Enqueuing with an idempotency key already used returns the existing job.
pub async fn idempotency_key_returns_existing(store: Arc<dyn Store>) {
    let mut job = new_job("ticket.create", Some("k"), 0);
    job.idempotency_key = Some("alert-42".into());
    let first = store.enqueue_job(job.clone()).await.unwrap();
    job.run_at = at(500);
    let second = store.enqueue_job(job.clone()).await.unwrap();
    assert_eq!(second.id, first.id, "same key, same job");
    assert_eq!(
        second.run_at,
        at(0),
        "the existing job is returned unchanged"
    );

    let claimed = store.claim_jobs("w", at(0), LEASE, 10).await.unwrap();
    store
        .complete_job(first.id, &token(&claimed[0]), at(1))
        .await
        .unwrap();
    let after_done = store.enqueue_job(job).await.unwrap();
    assert_eq!(after_done.id, first.id, "a finished job still owns its key");
    assert_eq!(after_done.state, JobState::Done);

    let a = store.enqueue_job(new_job("x", None, 0)).await.unwrap();
    let b = store.enqueue_job(new_job("x", None, 0)).await.unwrap();
    assert_ne!(a.id, b.id, "jobs without a key are never merged");
    let all = store.list_jobs(JobFilter::default(), 10).await.unwrap();
    assert_eq!(all.len(), 3);
}

/// A batch enqueue behaves like enqueuing one by one: keys, heads and idempotency hold.
pub async fn enqueue_batch_like_one_by_one(store: Arc<dyn Store>) {
    let mut keyed = new_job("ticket.create", Some("k"), 0);
    keyed.idempotency_key = Some("alert-1".into());
    let jobs = store
        .enqueue_jobs(vec![
            keyed.clone(),
            new_job("ticket.update", Some("k"), 0),
            keyed,
            new_job("publish", None, 0),
        ])
        .await
        .unwrap();
    assert_eq!(jobs.len(), 4, "one result per input job");
    assert_eq!(
        jobs[2].id, jobs[0].id,
        "a repeated idempotency key inside a batch is merged"
    );
    let claimed = store.claim_jobs("w", at(0), LEASE, 10).await.unwrap();
    assert_eq!(
        ids(&claimed),
        vec![jobs[0].id, jobs[3].id],
        "the second job of k waits for the first"
    );
    store
        .complete_job(jobs[0].id, &token(&claimed[0]), at(1))
        .await
        .unwrap();
    let next = store.claim_jobs("w", at(1), LEASE, 10).await.unwrap();
    assert_eq!(ids(&next), vec![jobs[1].id]);
    assert!(store.enqueue_jobs(Vec::new()).await.unwrap().is_empty());
}

/// Jobs of one serial key run in enqueue order, even when a later one is due earlier.
pub async fn fifo_per_serial_key(store: Arc<dyn Store>) {
    let first = store
        .enqueue_job(new_job("a", Some("k"), 50))
        .await
        .unwrap();
    let second = store.enqueue_job(new_job("b", Some("k"), 0)).await.unwrap();
    let third = store.enqueue_job(new_job("c", Some("k"), 0)).await.unwrap();
    assert!(
        store
            .claim_jobs("w", at(10), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "a later job must not overtake the head of its key"
    );
    let mut order = Vec::new();
    let mut now = 50;
    loop {
        let claimed = store.claim_jobs("w", at(now), LEASE, 10).await.unwrap();
        if claimed.is_empty() {
            break;
        }
        assert_eq!(claimed.len(), 1, "one job of the key at a time");
        order.push(claimed[0].id);
        store
            .complete_job(claimed[0].id, &token(&claimed[0]), at(now))
            .await
            .unwrap();
        now += 1;
    }
    assert_eq!(order, vec![first.id, second.id, third.id]);
    let by_key = store
        .list_jobs(
            JobFilter {
                serial_key: Some("k".into()),
                state: Some(JobState::Done),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(by_key.len(), 3);
}

/// Queue depth counts queued, running and dead jobs.
pub async fn queue_depth_counts(store: Arc<dyn Store>) {
    assert_eq!(store.queue_depth().await.unwrap(), QueueDepth::default());
    for _ in 0..4 {
        store.enqueue_job(new_job("x", None, 0)).await.unwrap();
    }
    let claimed = store.claim_jobs("w", at(0), LEASE, 2).await.unwrap();
    assert_eq!(claimed.len(), 2, "limit is honoured");
    store
        .fail_job(claimed[0].id, &token(&claimed[0]), at(1), "gone", None)
        .await
        .unwrap();
    store
        .complete_job(claimed[1].id, &token(&claimed[1]), at(1))
        .await
        .unwrap();
    let other = store.claim_jobs("w", at(1), LEASE, 1).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(
        store.queue_depth().await.unwrap(),
        QueueDepth {
            queued: 1,
            running: 1,
            dead: 1
        }
    );
    assert!(
        store
            .claim_jobs("w", at(1), LEASE, 0)
            .await
            .unwrap()
            .is_empty(),
        "limit 0 claims nothing"
    );
}

/// Many workers claiming at once never get the same job, never run two jobs of one
/// serial key together, and finish every key in enqueue order.
pub async fn concurrent_claims_never_overlap(store: Arc<dyn Store>) {
    const KEYS: usize = 8;
    const PER_KEY: usize = 12;
    const UNKEYED: usize = 40;
    const WORKERS: usize = 8;

    let mut expected: HashMap<String, Vec<JobId>> = HashMap::new();
    for round in 0..PER_KEY {
        for key in 0..KEYS {
            let key = format!("client-{key}/alert");
            let job = store
                .enqueue_job(new_job("flush", Some(&key), round as i64))
                .await
                .unwrap();
            expected.entry(key).or_default().push(job.id);
        }
    }
    for _ in 0..UNKEYED {
        store
            .enqueue_job(new_job("publish", None, 0))
            .await
            .unwrap();
    }

    #[derive(Default)]
    struct Seen {
        claimed: HashSet<JobId>,
        running_keys: HashSet<String>,
        order: HashMap<String, Vec<JobId>>,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let store = store.clone();
        let seen = seen.clone();
        workers.push(tokio::spawn(async move {
            let name = format!("worker-{worker}");
            let now = at(1_000);
            loop {
                let claimed = store
                    .claim_jobs(&name, now, Duration::from_secs(3600), 3)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    let depth = store.queue_depth().await.unwrap();
                    if depth.queued + depth.running == 0 {
                        return;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                for job in &claimed {
                    let mut seen = seen.lock().unwrap();
                    assert!(
                        seen.claimed.insert(job.id),
                        "job {} was handed out twice",
                        job.id
                    );
                    if let Some(key) = &job.serial_key {
                        assert!(
                            seen.running_keys.insert(key.clone()),
                            "two jobs of serial key {key} were leased at once"
                        );
                        seen.order.entry(key.clone()).or_default().push(job.id);
                    }
                }
                tokio::task::yield_now().await;
                for job in &claimed {
                    // Release the key in our bookkeeping before the store can release it.
                    if let Some(key) = &job.serial_key {
                        seen.lock().unwrap().running_keys.remove(key);
                    }
                    store.complete_job(job.id, &token(job), now).await.unwrap();
                }
            }
        }));
    }
    for worker in workers {
        worker.await.expect("a worker panicked");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.claimed.len(),
        KEYS * PER_KEY + UNKEYED,
        "every job ran exactly once"
    );
    for (key, order) in &expected {
        assert_eq!(
            seen.order.get(key),
            Some(order),
            "jobs of {key} ran out of order"
        );
    }
}

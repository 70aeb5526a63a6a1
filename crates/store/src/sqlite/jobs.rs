//! The durable work queue: leases instead of locks.
//!
//! A claim marks jobs `running` with a fresh random lease token and an expiry, inside a
//! single write transaction; the worker then does its network call with no transaction
//! open and reports back with the token. If the worker dies, the lease expires and the
//! job is claimable again; the old token is then refused (`LeaseLost`), so a slow worker
//! can never overwrite the outcome of the worker that took over.
//!
//! Serial keys: only the oldest unfinished job of a key (its head) is claimable, and only
//! while no other job of that key holds a live lease. Jobs of one incident therefore run
//! one at a time and in the order they were enqueued, and a job backing off holds back
//! the jobs queued behind it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqlitePool};

use super::{
    col, count, from_micros, json_text, micros, opt_from_micros, parse_json, plus, SqliteStore,
};
use crate::error::StoreError;
use crate::model::*;

const JOB_COLUMNS: &str = "id, kind, serial_key, payload, state, run_at, attempts, lease_owner, \
                           lease_token, lease_expires_at, last_error, idempotency_key, \
                           created_at, finished_at";

pub(super) async fn enqueue(store: &SqliteStore, job: NewJob) -> Result<Job, StoreError> {
    let action = "enqueuing a job";
    let mut tx = store.write(action).await?;
    let stored = enqueue_in(&mut tx, &job).await?;
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(stored)
}

pub(super) async fn enqueue_batch(
    store: &SqliteStore,
    jobs: Vec<NewJob>,
) -> Result<Vec<Job>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let action = "enqueuing jobs";
    let mut tx = store.write(action).await?;
    let mut stored = Vec::with_capacity(jobs.len());
    for job in &jobs {
        stored.push(enqueue_in(&mut tx, job).await?);
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(stored)
}

/// Inserts a job (as the head of its key if nothing else of the key is unfinished), or
/// returns the job already holding its idempotency key.
pub(super) async fn enqueue_in(tx: &mut SqliteConnection, job: &NewJob) -> Result<Job, StoreError> {
    let action = "enqueuing a job";
    let inserted = sqlx::query(&format!(
        "INSERT INTO jobs (kind, serial_key, payload, state, head, run_at, attempts, \
         idempotency_key, created_at) \
         VALUES (?1, ?2, ?3, 'queued', \
                 NOT EXISTS (SELECT 1 FROM jobs k WHERE k.serial_key = ?2 \
                             AND k.state IN ('queued', 'running')), \
                 ?4, 0, ?5, ?6) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING {JOB_COLUMNS}"
    ))
    .bind(&job.kind)
    .bind(&job.serial_key)
    .bind(json_text(&job.payload))
    .bind(micros(job.run_at))
    .bind(&job.idempotency_key)
    .bind(micros(job.created_at))
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    let row = match inserted {
        Some(row) => row,
        None => sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE idempotency_key = ?"
        ))
        .bind(&job.idempotency_key)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(
            "reading the job with the same idempotency key",
        ))?,
    };
    decode(&row)
}

pub(super) async fn claim(
    store: &SqliteStore,
    worker_id: &str,
    kind: Option<&str>,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Job>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let expires = micros(plus(now, lease)?);
    let now = micros(now);
    let action = "claiming jobs";
    let mut tx = store.write(action).await?;
    // INDEXED BY pins the partial index over unfinished heads: without statistics the
    // planner would pick the state index and walk every queued job behind busy keys.
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT j.id FROM jobs j INDEXED BY jobs_due \
         WHERE j.state IN ('queued', 'running') AND j.head = 1 AND j.run_at <= ?1 \
           AND (?3 IS NULL OR j.kind = ?3) \
           AND (j.state = 'queued' OR j.lease_expires_at <= ?1) \
           AND (j.serial_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r \
                 WHERE r.state = 'running' AND r.serial_key = j.serial_key \
                   AND r.lease_expires_at > ?1 AND r.id <> j.id)) \
         ORDER BY j.run_at, j.id LIMIT ?2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .bind(kind)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;

    let mut claimed = Vec::with_capacity(ids.len());
    for id in ids {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let row = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', lease_owner = ?, lease_token = ?, \
             lease_expires_at = ?, attempts = attempts + 1 WHERE id = ? RETURNING {JOB_COLUMNS}"
        ))
        .bind(worker_id)
        .bind(&token)
        .bind(expires)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        claimed.push(decode(&row)?);
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(claimed)
}

pub(super) async fn complete(
    store: &SqliteStore,
    id: JobId,
    lease_token: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let action = "completing a job";
    let mut tx = store.write(action).await?;
    let done = sqlx::query(
        // A done job's payload is never read again (its effect happened; a retry of the same
        // idempotency key finds the row), and payloads such as consolidated activity records
        // are the bulk of the table: only the row is kept, until retention forgets it.
        "UPDATE jobs SET state = 'done', finished_at = ?1, lease_expires_at = NULL, \
         lease_token = NULL, payload = 'null' \
         WHERE id = ?2 AND state = 'running' AND lease_token = ?3 AND lease_expires_at > ?1",
    )
    .bind(micros(now))
    .bind(id)
    .bind(lease_token)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        return Err(lease_failure(&mut tx, id).await);
    }
    promote_next_head(&mut tx, id).await?;
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn fail(
    store: &SqliteStore,
    id: JobId,
    lease_token: &str,
    now: DateTime<Utc>,
    error: &str,
    next_run_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let action = "recording a job failure";
    let mut tx = store.write(action).await?;
    let (state, run_at, finished_at) = match next_run_at {
        Some(at) => ("queued", Some(micros(at)), None),
        None => ("dead", None, Some(micros(now))),
    };
    let done = sqlx::query(
        "UPDATE jobs SET state = ?1, run_at = COALESCE(?2, run_at), finished_at = ?3, \
         last_error = ?4, lease_expires_at = NULL, lease_token = NULL \
         WHERE id = ?5 AND state = 'running' AND lease_token = ?6 AND lease_expires_at > ?7",
    )
    .bind(state)
    .bind(run_at)
    .bind(finished_at)
    .bind(error)
    .bind(id)
    .bind(lease_token)
    .bind(micros(now))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        return Err(lease_failure(&mut tx, id).await);
    }
    if next_run_at.is_none() {
        promote_next_head(&mut tx, id).await?;
    }
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn extend_lease(
    store: &SqliteStore,
    id: JobId,
    lease_token: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<DateTime<Utc>, StoreError> {
    let action = "extending a job lease";
    let expires = plus(now, lease)?;
    let mut tx = store.write(action).await?;
    let done = sqlx::query(
        "UPDATE jobs SET lease_expires_at = ?1 \
         WHERE id = ?2 AND state = 'running' AND lease_token = ?3 AND lease_expires_at > ?4",
    )
    .bind(micros(expires))
    .bind(id)
    .bind(lease_token)
    .bind(micros(now))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        return Err(lease_failure(&mut tx, id).await);
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(expires)
}

/// After job `finished` left the unfinished set, marks the oldest unfinished job of its
/// serial key as the head (a no-op when `finished` had no key or was not the head).
async fn promote_next_head(tx: &mut SqliteConnection, finished: JobId) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET head = 1 WHERE id = \
         (SELECT MIN(n.id) FROM jobs f JOIN jobs n ON n.serial_key = f.serial_key \
          WHERE f.id = ?1 AND n.state IN ('queued', 'running'))",
    )
    .bind(finished)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("releasing the next job of a serial key"))?;
    Ok(())
}

/// Why a lease-checked update touched nothing: the job is gone, or the lease is not ours.
async fn lease_failure(tx: &mut SqliteConnection, id: JobId) -> StoreError {
    let exists: Result<Option<i64>, _> = sqlx::query_scalar("SELECT id FROM jobs WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await;
    match exists {
        Ok(Some(_)) => StoreError::LeaseLost { id },
        Ok(None) => StoreError::NotFound {
            what: "job",
            id: id.to_string(),
        },
        Err(source) => StoreError::Database {
            action: "checking a job lease",
            source,
        },
    }
}

pub(super) async fn get(pool: &SqlitePool, id: JobId) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("reading a job"))?;
    row.as_ref().map(decode).transpose()
}

pub(super) async fn list(
    store: &SqliteStore,
    filter: JobFilter,
    limit: u32,
) -> Result<Vec<Job>, StoreError> {
    let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1");
    if filter.state.is_some() {
        sql.push_str(" AND state = ?");
    }
    if filter.kind.is_some() {
        sql.push_str(" AND kind = ?");
    }
    if filter.serial_key.is_some() {
        sql.push_str(" AND serial_key = ?");
    }
    if filter.after_id.is_some() {
        sql.push_str(" AND id > ?");
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    let mut query = sqlx::query(&sql);
    if let Some(state) = filter.state {
        query = query.bind(state.as_str());
    }
    if let Some(kind) = filter.kind {
        query = query.bind(kind);
    }
    if let Some(serial_key) = filter.serial_key {
        query = query.bind(serial_key);
    }
    if let Some(after) = filter.after_id {
        query = query.bind(after);
    }
    let rows = query
        .bind(i64::from(limit))
        .fetch_all(&store.reader)
        .await
        .map_err(StoreError::db("listing jobs"))?;
    rows.iter().map(decode).collect()
}

pub(super) async fn retry_dead(
    store: &SqliteStore,
    id: JobId,
    now: DateTime<Utc>,
) -> Result<Job, StoreError> {
    let action = "retrying a dead job";
    let mut tx = store.write(action).await?;
    let row = sqlx::query(&format!(
        "UPDATE jobs SET state = 'queued', run_at = ?, attempts = 0, finished_at = NULL, \
         lease_token = NULL, lease_expires_at = NULL WHERE id = ? AND state = 'dead' \
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(micros(now))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    let Some(row) = row else {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        return Err(match state {
            Some(from) => StoreError::InvalidTransition {
                what: "job",
                id: id.to_string(),
                from,
                to: JobState::Queued.to_string(),
            },
            None => StoreError::NotFound {
                what: "job",
                id: id.to_string(),
            },
        });
    };
    let mut job = decode(&row)?;
    if let Some(key) = &job.serial_key {
        // The retried job rejoins its key in id order: it becomes the head only if it is
        // older than every unfinished job of the key, taking the flag from the old head.
        sqlx::query(
            "UPDATE jobs SET head = (id = (SELECT MIN(m.id) FROM jobs m \
                                          WHERE m.serial_key = ?1 \
                                            AND m.state IN ('queued', 'running'))) \
             WHERE serial_key = ?1 AND state IN ('queued', 'running') \
               AND (head = 1 OR id = ?2)",
        )
        .bind(key)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        job = decode(&row)?;
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(job)
}

pub(super) async fn queue_depth(store: &SqliteStore) -> Result<QueueDepth, StoreError> {
    let mut depth = QueueDepth::default();
    for (state, slot) in [
        (JobState::Queued, &mut depth.queued),
        (JobState::Running, &mut depth.running),
        (JobState::Dead, &mut depth.dead),
    ] {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state = ?")
            .bind(state.as_str())
            .fetch_one(&store.reader)
            .await
            .map_err(StoreError::db("counting jobs"))?;
        *slot = count(n);
    }
    Ok(depth)
}

pub(super) async fn next_run_at(store: &SqliteStore) -> Result<Option<DateTime<Utc>>, StoreError> {
    // The earliest time a claim could hand something out: a queued head becoming due, or
    // a lease running out.
    let queued: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(run_at) FROM jobs INDEXED BY jobs_due \
         WHERE state IN ('queued', 'running') AND head = 1 AND state = 'queued'",
    )
    .fetch_one(&store.reader)
    .await
    .map_err(StoreError::db("finding the next due job"))?;
    let leased: Option<i64> =
        sqlx::query_scalar("SELECT MIN(lease_expires_at) FROM jobs WHERE state = 'running'")
            .fetch_one(&store.reader)
            .await
            .map_err(StoreError::db("finding the next lease expiry"))?;
    let earliest = match (queued, leased) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    opt_from_micros(earliest, "jobs.run_at")
}

fn decode(row: &SqliteRow) -> Result<Job, StoreError> {
    let state: String = col(row, "state")?;
    let payload: String = col(row, "payload")?;
    let attempts: i64 = col(row, "attempts")?;
    Ok(Job {
        id: col(row, "id")?,
        kind: col(row, "kind")?,
        serial_key: col(row, "serial_key")?,
        payload: parse_json(&payload, "jobs.payload")?,
        state: JobState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("job has unknown state {state:?}")))?,
        run_at: from_micros(col(row, "run_at")?, "jobs.run_at")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        lease_owner: col(row, "lease_owner")?,
        lease_token: col(row, "lease_token")?,
        lease_expires_at: opt_from_micros(col(row, "lease_expires_at")?, "jobs.lease_expires_at")?,
        last_error: col(row, "last_error")?,
        idempotency_key: col(row, "idempotency_key")?,
        created_at: from_micros(col(row, "created_at")?, "jobs.created_at")?,
        finished_at: opt_from_micros(col(row, "finished_at")?, "jobs.finished_at")?,
    })
}

pub(super) async fn lease_owners(store: &SqliteStore) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running' \
         AND lease_owner IS NOT NULL ORDER BY lease_owner",
    )
    .fetch_all(&store.reader)
    .await
    .map_err(StoreError::db("listing lease owners"))
}

pub(super) async fn expire_leases(
    store: &SqliteStore,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let action = "ending a worker's leases";
    let mut tx = store.write(action).await?;
    let done = sqlx::query(
        "UPDATE jobs SET lease_expires_at = ? WHERE state = 'running' AND lease_owner = ? \
         AND lease_expires_at > ?",
    )
    .bind(micros(now))
    .bind(owner)
    .bind(micros(now))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(done.rows_affected())
}

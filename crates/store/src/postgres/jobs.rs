//! The durable work queue on PostgreSQL: leases, `FOR UPDATE SKIP LOCKED` claims, and serial keys
//! guarded by advisory locks.
//!
//! The rules are those of the port (see the SQLite queue): only the head of a serial key (its
//! oldest unfinished job) is claimable, and only while no other job of the key holds a live lease.
//! What PostgreSQL adds is several processes at once:
//!
//! * a claim is one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`: rows another
//!   process is claiming right now are skipped, never waited for, never handed out twice;
//! * every change of which job heads a key (enqueue, finishing the head, retrying a dead job)
//!   holds the key's advisory transaction lock, so two processes never both make a head;
//! * a lease is a time, not a connection: when its holder is killed, the lease runs out and the
//!   next claim of any process takes the job, and the dead holder's token is refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::{
    col, count, from_micros, json_text, lock_serial_keys, micros, notify_work, opt_from_micros,
    parse_json, plus, PostgresStore,
};
use crate::error::StoreError;
use crate::model::*;

pub(super) const JOB_COLUMNS: &str = "id, kind, serial_key, payload, state, run_at, attempts, \
                           lease_owner, lease_token, lease_expires_at, last_error, \
                           idempotency_key, created_at, finished_at";

/// [`JOB_COLUMNS`] qualified for an `UPDATE … FROM` that joins another relation.
const RETURNED: &str = "jobs.id, jobs.kind, jobs.serial_key, jobs.payload, jobs.state, \
                        jobs.run_at, jobs.attempts, jobs.lease_owner, jobs.lease_token, \
                        jobs.lease_expires_at, jobs.last_error, jobs.idempotency_key, \
                        jobs.created_at, jobs.finished_at";

/// Which kinds a claim takes.
#[derive(Clone, Copy)]
pub(crate) enum KindFilter<'a> {
    /// Every kind.
    Any,
    /// Only jobs of this kind (a job of another kind at the head of a serial key still holds
    /// the key back, because only head jobs are claimed).
    Only(&'a str),
}

pub(super) async fn enqueue_batch(
    store: &PostgresStore,
    jobs: Vec<NewJob>,
) -> Result<Vec<Job>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let action = "enqueuing jobs";
    let mut tx = store.write(action).await?;
    lock_serial_keys(
        &mut tx,
        jobs.iter().filter_map(|job| job.serial_key.as_deref()),
    )
    .await?;
    let mut stored = Vec::with_capacity(jobs.len());
    for job in &jobs {
        stored.push(enqueue_in(&mut tx, job).await?);
    }
    notify_work(&mut tx).await?;
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(stored)
}

/// Inserts a job (as the head of its key if nothing else of the key is unfinished), or returns
/// the job already holding its idempotency key. The caller holds the advisory lock of the job's
/// serial key.
pub(super) async fn enqueue_in(tx: &mut PgConnection, job: &NewJob) -> Result<Job, StoreError> {
    let action = "enqueuing a job";
    let inserted = sqlx::query(&format!(
        "INSERT INTO jobs (kind, serial_key, payload, state, head, run_at, attempts, \
         idempotency_key, created_at) \
         VALUES ($1, $2, $3, 'queued', \
                 NOT EXISTS (SELECT 1 FROM jobs k WHERE k.serial_key = $2 \
                             AND k.state IN ('queued', 'running')), \
                 $4, 0, $5, $6) \
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
            "SELECT {JOB_COLUMNS} FROM jobs WHERE idempotency_key = $1"
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

pub(crate) async fn claim(
    store: &PostgresStore,
    kinds: KindFilter<'_>,
    worker_id: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Job>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let expires = micros(plus(now, lease)?);
    let now = micros(now);
    let (kind, kind_value) = match kinds {
        KindFilter::Any => ("AND $5::text IS NOT NULL", ""),
        KindFilter::Only(kind) => ("AND j.kind = $5", kind),
    };
    // The CTE is evaluated once: the rows it locks are exactly the rows leased. Rows another
    // process is claiming right now are skipped instead of waited for.
    let rows = sqlx::query(&format!(
        "WITH picked AS ( \
             SELECT j.id FROM jobs j \
             WHERE j.state IN ('queued', 'running') AND j.head AND j.run_at <= $1 {kind} \
               AND (j.state = 'queued' OR j.lease_expires_at <= $1) \
               AND (j.serial_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs r \
                     WHERE r.state = 'running' AND r.serial_key = j.serial_key \
                       AND r.lease_expires_at > $1 AND r.id <> j.id)) \
             ORDER BY j.run_at, j.id LIMIT $2 \
             FOR UPDATE SKIP LOCKED) \
         UPDATE jobs SET state = 'running', lease_owner = $3, \
                lease_token = replace(gen_random_uuid()::text, '-', ''), \
                lease_expires_at = $4, attempts = attempts + 1 \
         FROM picked WHERE jobs.id = picked.id \
         RETURNING {RETURNED}"
    ))
    .bind(now)
    .bind(i64::from(limit))
    .bind(worker_id)
    .bind(expires)
    .bind(kind_value)
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("claiming jobs"))?;
    let mut claimed = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    claimed.sort_by_key(|job| (job.run_at, job.id));
    Ok(claimed)
}

/// The serial key of job `id`, locked for the rest of the transaction; `None` for a job without
/// a key or a job that does not exist.
async fn lock_key_of(tx: &mut PgConnection, id: JobId) -> Result<Option<String>, StoreError> {
    let key: Option<Option<String>> =
        sqlx::query_scalar("SELECT serial_key FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("reading a job's serial key"))?;
    let key = key.flatten();
    if let Some(key) = &key {
        lock_serial_keys(tx, [key.as_str()]).await?;
    }
    Ok(key)
}

pub(super) async fn complete(
    store: &PostgresStore,
    id: JobId,
    lease_token: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let action = "completing a job";
    let mut tx = store.write(action).await?;
    let key = lock_key_of(&mut tx, id).await?;
    let done = sqlx::query(
        // A done job's payload is never read again (its effect happened; a retry of the same
        // idempotency key finds the row), and payloads such as consolidated activity records
        // are the bulk of the table: only the row is kept, until retention forgets it.
        "UPDATE jobs SET state = 'done', finished_at = $1, lease_expires_at = NULL, \
         lease_token = NULL, head = FALSE, payload = 'null' \
         WHERE id = $2 AND state = 'running' AND lease_token = $3 AND lease_expires_at > $1",
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
    promote_next_head(&mut tx, key.as_deref()).await?;
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn fail(
    store: &PostgresStore,
    id: JobId,
    lease_token: &str,
    now: DateTime<Utc>,
    error: &str,
    next_run_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let action = "recording a job failure";
    let mut tx = store.write(action).await?;
    let key = lock_key_of(&mut tx, id).await?;
    let (state, run_at, finished_at) = match next_run_at {
        Some(at) => ("queued", Some(micros(at)), None),
        None => ("dead", None, Some(micros(now))),
    };
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, run_at = COALESCE($2, run_at), finished_at = $3, \
         last_error = $4, lease_expires_at = NULL, lease_token = NULL, \
         head = CASE WHEN $1 = 'dead' THEN FALSE ELSE head END \
         WHERE id = $5 AND state = 'running' AND lease_token = $6 AND lease_expires_at > $7",
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
        promote_next_head(&mut tx, key.as_deref()).await?;
    }
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn extend_lease(
    store: &PostgresStore,
    id: JobId,
    lease_token: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<DateTime<Utc>, StoreError> {
    let action = "extending a job lease";
    let expires = plus(now, lease)?;
    let mut tx = store.write(action).await?;
    let done = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1 \
         WHERE id = $2 AND state = 'running' AND lease_token = $3 AND lease_expires_at > $4",
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

/// After a job of `key` left the unfinished set, marks the oldest unfinished job of the key as
/// its head (the caller holds the key's advisory lock).
async fn promote_next_head(tx: &mut PgConnection, key: Option<&str>) -> Result<(), StoreError> {
    let Some(key) = key else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE jobs SET head = TRUE WHERE id = \
         (SELECT MIN(n.id) FROM jobs n WHERE n.serial_key = $1 \
            AND n.state IN ('queued', 'running'))",
    )
    .bind(key)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("releasing the next job of a serial key"))?;
    Ok(())
}

/// Why a lease-checked update touched nothing: the job is gone, or the lease is not ours.
async fn lease_failure(tx: &mut PgConnection, id: JobId) -> StoreError {
    let exists: Result<Option<i64>, _> = sqlx::query_scalar("SELECT id FROM jobs WHERE id = $1")
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

pub(super) async fn get(store: &PostgresStore, id: JobId) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(StoreError::db("reading a job"))?;
    row.as_ref().map(decode).transpose()
}

pub(super) async fn list(
    store: &PostgresStore,
    filter: JobFilter,
    limit: u32,
) -> Result<Vec<Job>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs \
         WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2) \
           AND ($3::text IS NULL OR serial_key = $3) AND ($4::int8 IS NULL OR id > $4) \
         ORDER BY id LIMIT $5"
    ))
    .bind(filter.state.map(|state| state.as_str()))
    .bind(filter.kind)
    .bind(filter.serial_key)
    .bind(filter.after_id)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("listing jobs"))?;
    rows.iter().map(decode).collect()
}

pub(super) async fn retry_dead(
    store: &PostgresStore,
    id: JobId,
    now: DateTime<Utc>,
) -> Result<Job, StoreError> {
    let action = "retrying a dead job";
    let mut tx = store.write(action).await?;
    let key = lock_key_of(&mut tx, id).await?;
    let done = sqlx::query(
        "UPDATE jobs SET state = 'queued', run_at = $1, attempts = 0, finished_at = NULL, \
         lease_token = NULL, lease_expires_at = NULL, head = ($3::text IS NULL) \
         WHERE id = $2 AND state = 'dead'",
    )
    .bind(micros(now))
    .bind(id)
    .bind(&key)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
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
    }
    if let Some(key) = &key {
        // The retried job rejoins its key in id order: it heads the key only if it is older than
        // every unfinished job of the key, taking the flag from the old head.
        sqlx::query(
            "UPDATE jobs SET head = (id = (SELECT MIN(m.id) FROM jobs m \
                                          WHERE m.serial_key = $1 \
                                            AND m.state IN ('queued', 'running'))) \
             WHERE serial_key = $1 AND state IN ('queued', 'running') AND (head OR id = $2)",
        )
        .bind(key)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    }
    let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    notify_work(&mut tx).await?;
    tx.commit().await.map_err(StoreError::db(action))?;
    decode(&row)
}

pub(super) async fn queue_depth(store: &PostgresStore) -> Result<QueueDepth, StoreError> {
    let (queued, running, dead): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE state = 'queued'), \
                COUNT(*) FILTER (WHERE state = 'running'), \
                COUNT(*) FILTER (WHERE state = 'dead') \
         FROM jobs WHERE state IN ('queued', 'running', 'dead')",
    )
    .fetch_one(&store.pool)
    .await
    .map_err(StoreError::db("counting jobs"))?;
    Ok(QueueDepth {
        queued: count(queued),
        running: count(running),
        dead: count(dead),
    })
}

pub(super) async fn next_run_at(
    store: &PostgresStore,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    // The earliest time a claim could hand something out: a queued head becoming due, or a lease
    // running out.
    let earliest: Option<i64> = sqlx::query_scalar(
        "SELECT LEAST( \
           (SELECT MIN(run_at) FROM jobs WHERE state = 'queued' AND head), \
           (SELECT MIN(lease_expires_at) FROM jobs WHERE state = 'running'))",
    )
    .fetch_one(&store.pool)
    .await
    .map_err(StoreError::db("finding the next due job"))?;
    opt_from_micros(earliest, "jobs.run_at")
}

pub(super) fn decode(row: &PgRow) -> Result<Job, StoreError> {
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

pub(super) async fn lease_owners(store: &PostgresStore) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running' \
         AND lease_owner IS NOT NULL ORDER BY lease_owner",
    )
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("listing lease owners"))
}

pub(super) async fn expire_leases(
    store: &PostgresStore,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE jobs SET lease_expires_at = $1 WHERE state = 'running' AND lease_owner = $2 \
         AND lease_expires_at > $1",
    )
    .bind(micros(now))
    .bind(owner)
    .execute(&store.pool)
    .await
    .map_err(StoreError::db("ending a worker's leases"))?;
    Ok(done.rows_affected())
}

//! Retention across all tables, and the storage figures `/metrics` exports.
//!
//! Retention only ever removes what is finished: processed alerts (the dedup memory), done jobs,
//! old events, old ticket requests, forgotten incidents and their orphaned buffer entries, old
//! report roll-ups and expired reports. Queued and unrouted alerts, unfinished and dead jobs are
//! never pruned, because "nothing accepted is lost" outranks disk space; neither is an alert a
//! consolidation buffer still names (its flush reads it), nor the newest alert (SQLite gives a new
//! row the largest id plus one, and ids named by jobs' idempotency keys must never come back).
//!
//! Rows go in chunks of [`CHUNK`], one short write transaction each, with the writer handed back
//! between chunks so the intake's group commit never waits for more than one chunk. A pass is
//! bounded by `max_rows_per_table`; what it leaves is taken by the next pass.
//!
//! # Space
//!
//! New databases are created with `auto_vacuum = INCREMENTAL` (see `open`), so after a pass the
//! store gives up to [`VACUUM_PAGES`] free pages back to the file system (`PRAGMA
//! incremental_vacuum`), a bounded amount of work like the deletes. A database created without
//! it is converted by one `VACUUM` at open when it is small, and otherwise keeps its free pages
//! for reuse (the file stops growing but does not shrink) until converted offline.

use chrono::{DateTime, Utc};
use sqlx::{Sqlite, Transaction};

use super::{count, micros, minus, SqliteStore};
use crate::error::StoreError;
use crate::model::*;
use crate::rollup::day_text;

/// Rows removed per transaction.
const CHUNK: i64 = 2000;
/// Reports (whole HTML documents) removed per transaction.
const REPORT_CHUNK: i64 = 50;
/// Most free pages given back after one pass (16 MiB of 4 KiB pages).
const VACUUM_PAGES: i64 = 4096;

/// The alert a buffer entry names: a bare id, or an object with `alert_id`.
const BUFFERED_ALERT_IDS: &str = "SELECT CASE WHEN json_type(entry) = 'integer' \
     THEN CAST(entry AS INTEGER) ELSE json_extract(entry, '$.alert_id') END \
     FROM incident_buffer WHERE json_valid(entry)";

/// The tables whose rows `/metrics` reports.
const COUNTED_TABLES: [&str; 10] = [
    "alerts",
    "events",
    "incident_buffer",
    "incident_history",
    "incidents",
    "jobs",
    "kv",
    "report_rollups",
    "reports",
    "ticket_requests",
];

#[derive(Debug, Clone)]
enum Bind {
    Int(i64),
    Text(String),
}

/// Deletes with `sql` (whose last parameter is the chunk size) until a chunk comes back short or
/// `budget` rows are gone; returns the rows removed and whether rows were left for later.
async fn delete_chunked(
    store: &SqliteStore,
    sql: &str,
    binds: &[Bind],
    chunk: i64,
    budget: Option<u64>,
) -> Result<(u64, bool), StoreError> {
    let action = "pruning old records";
    let mut removed = 0u64;
    loop {
        let mut tx: Transaction<'static, Sqlite> = store.write(action).await?;
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = match bind {
                Bind::Int(value) => query.bind(*value),
                Bind::Text(value) => query.bind(value.clone()),
            };
        }
        let size = budget.map_or(chunk, |budget| {
            chunk.min(i64::try_from(budget.saturating_sub(removed)).unwrap_or(i64::MAX))
        });
        let n = query
            .bind(size)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?
            .rows_affected();
        tx.commit().await.map_err(StoreError::db(action))?;
        removed += n;
        if n < u64::try_from(size).unwrap_or(u64::MAX) {
            return Ok((removed, false));
        }
        if budget.is_some_and(|budget| removed >= budget) {
            return Ok((removed, true));
        }
        // Let a waiting intake commit take the writer before the next chunk.
        tokio::task::yield_now().await;
    }
}

/// The id of the `(limit + 1)`-th newest row `select` orders newest first, if there are that many.
async fn boundary(
    store: &SqliteStore,
    select: &str,
    limit: u64,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(select)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_optional(&store.reader)
        .await
        .map_err(StoreError::db("finding the retention boundary"))
}

pub(super) async fn prune(
    store: &SqliteStore,
    now: DateTime<Utc>,
    policy: &RetentionPolicy,
) -> Result<PruneReport, StoreError> {
    let mut report = PruneReport::default();
    let budget = policy.max_rows_per_table;
    let mut incomplete = false;
    let mut note = |(removed, left): (u64, bool)| {
        incomplete |= left;
        removed
    };

    // Processed alerts: older than keep, or beyond the newest `limit`.
    if policy.alerts.keep.is_some() || policy.alerts.limit.is_some() {
        let keep_cutoff = policy
            .alerts
            .keep
            .map_or(i64::MIN, |keep| micros(minus(now, keep)));
        let limit_boundary = match policy.alerts.limit {
            Some(limit) => boundary(
                store,
                "SELECT id FROM alerts WHERE state = 'processed' \
                 ORDER BY id DESC LIMIT 1 OFFSET ?",
                limit,
            )
            .await?
            .unwrap_or(i64::MIN),
            None => i64::MIN,
        };
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM alerts")
            .fetch_one(&store.reader)
            .await
            .map_err(StoreError::db("finding the newest alert"))?;
        if let Some(newest) = newest {
            let sql = format!(
                "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts \
                 WHERE state = 'processed' AND id < ? AND (received_at < ? OR id <= ?) \
                 AND id NOT IN ({BUFFERED_ALERT_IDS}) ORDER BY id LIMIT ?)"
            );
            let binds = [
                Bind::Int(newest),
                Bind::Int(keep_cutoff),
                Bind::Int(limit_boundary),
            ];
            report.alerts = note(delete_chunked(store, &sql, &binds, CHUNK, budget).await?);
        }
    }

    // Ticket requests: older than keep; beyond the newest `limit` once their ticket is known.
    if let Some(keep) = policy.ticket_requests.keep {
        let sql = "DELETE FROM ticket_requests WHERE rowid IN (SELECT rowid FROM ticket_requests \
                   WHERE created_at < ? ORDER BY created_at LIMIT ?)";
        let binds = [Bind::Int(micros(minus(now, keep)))];
        report.ticket_requests += note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
    }
    if let Some(limit) = policy.ticket_requests.limit {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT created_at, external_xref FROM ticket_requests \
             ORDER BY created_at DESC, external_xref DESC LIMIT 1 OFFSET ?",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_optional(&store.reader)
        .await
        .map_err(StoreError::db("finding the retention boundary"))?;
        if let Some((created_at, xref)) = row {
            let sql =
                "DELETE FROM ticket_requests WHERE rowid IN (SELECT rowid FROM ticket_requests \
                       WHERE ticket_id IS NOT NULL AND (created_at, external_xref) <= (?, ?) \
                       ORDER BY created_at LIMIT ?)";
            let binds = [Bind::Int(created_at), Bind::Text(xref)];
            report.ticket_requests +=
                note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
        }
    }

    // Incidents and their history; then buffer entries whose incident is gone.
    if let Some(keep) = policy.incidents {
        let cutoff = Bind::Int(micros(minus(now, keep)));
        let sql = "DELETE FROM incidents WHERE rowid IN (SELECT rowid FROM incidents \
                   WHERE last_alert_at < ? AND flush_at IS NULL AND buffered = 0 LIMIT ?)";
        report.incidents =
            note(delete_chunked(store, sql, std::slice::from_ref(&cutoff), CHUNK, budget).await?);
        let sql = "DELETE FROM incident_history WHERE id IN (SELECT id FROM incident_history \
                   WHERE opened_at < ? ORDER BY opened_at LIMIT ?)";
        report.incident_history = note(delete_chunked(store, sql, &[cutoff], CHUNK, budget).await?);
    }
    let sql =
        "DELETE FROM incident_buffer WHERE position IN (SELECT position FROM incident_buffer \
               WHERE key NOT IN (SELECT key FROM incidents) LIMIT ?)";
    report.buffer_entries = note(delete_chunked(store, sql, &[], CHUNK, budget).await?);

    // Events: older than keep, or beyond the newest `events_limit`.
    if policy.events.is_some() || policy.events_limit.is_some() {
        let keep_cutoff = policy
            .events
            .map_or(i64::MIN, |keep| micros(minus(now, keep)));
        let limit_boundary = match policy.events_limit {
            Some(limit) => boundary(
                store,
                "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?",
                limit,
            )
            .await?
            .unwrap_or(i64::MIN),
            None => i64::MIN,
        };
        let sql = "DELETE FROM events WHERE id IN (SELECT id FROM events \
                   WHERE at < ? OR id <= ? ORDER BY id LIMIT ?)";
        let binds = [Bind::Int(keep_cutoff), Bind::Int(limit_boundary)];
        report.events = note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
    }

    if let Some(keep) = policy.done_jobs {
        let sql = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                   WHERE state = 'done' AND finished_at < ? LIMIT ?)";
        let binds = [Bind::Int(micros(minus(now, keep)))];
        report.done_jobs = note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
    }

    if let Some(keep) = policy.rollups {
        // A day goes once all of it is older than `keep`.
        let sql = "DELETE FROM report_rollups WHERE (client, day, kind, name) IN \
                   (SELECT client, day, kind, name FROM report_rollups WHERE day < ? LIMIT ?)";
        let binds = [Bind::Text(day_text(minus(now, keep)))];
        report.rollups = note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
    }

    if policy.expired_reports {
        let sql = "DELETE FROM reports WHERE id IN (SELECT id FROM reports \
                   WHERE expires_at < ? AND publish_state <> 'pending' LIMIT ?)";
        let binds = [Bind::Int(micros(now))];
        report.reports = note(delete_chunked(store, sql, &binds, REPORT_CHUNK, budget).await?);
    }

    report.incomplete = incomplete;
    if report.total() > 0 {
        report.vacuumed_pages = incremental_vacuum(store).await?;
    }
    Ok(report)
}

/// Gives up to [`VACUUM_PAGES`] free pages back to the file system when the database was created
/// with `auto_vacuum = INCREMENTAL`; returns how many.
async fn incremental_vacuum(store: &SqliteStore) -> Result<u64, StoreError> {
    let action = "giving free space back";
    let mut conn = store
        .writer
        .acquire()
        .await
        .map_err(StoreError::db(action))?;
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::db(action))?;
    if mode != 2 {
        return Ok(0);
    }
    let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
        .fetch_one(&mut *conn)
        .await
        .map_err(StoreError::db(action))?;
    let pages = free.min(VACUUM_PAGES);
    if pages <= 0 {
        return Ok(0);
    }
    sqlx::query(&format!("PRAGMA incremental_vacuum({pages})"))
        .execute(&mut *conn)
        .await
        .map_err(StoreError::db(action))?;
    Ok(count(pages))
}

pub(super) async fn storage_stats(store: &SqliteStore) -> Result<StorageStats, StoreError> {
    let action = "reading storage statistics";
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&store.reader)
        .await
        .map_err(StoreError::db(action))?;
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&store.reader)
        .await
        .map_err(StoreError::db(action))?;
    let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
        .fetch_one(&store.reader)
        .await
        .map_err(StoreError::db(action))?;
    let mut rows = Vec::with_capacity(COUNTED_TABLES.len());
    for table in COUNTED_TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&store.reader)
            .await
            .map_err(StoreError::db(action))?;
        rows.push((table.to_string(), count(n)));
    }
    Ok(StorageStats {
        database_bytes: count(pages.saturating_mul(page_size)),
        free_bytes: count(free.saturating_mul(page_size)),
        rows,
    })
}

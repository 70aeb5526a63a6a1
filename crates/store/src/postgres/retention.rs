//! Retention across all tables on PostgreSQL, and the storage figures `/metrics` exports.
//!
//! The same policy and invariants as the SQLite store (`sqlite/retention.rs`): only what is
//! finished is removed (processed alerts, done jobs, old events, old ticket requests, forgotten
//! incidents and their orphaned buffer entries, old report roll-ups, expired reports); queued and
//! unrouted alerts, unfinished and dead jobs never are, nor an alert a consolidation buffer still
//! names. A buffer entry is written in the transaction that takes its alert off the queue, so a
//! delete whose snapshot misses the entry also sees that alert still queued and leaves it.
//!
//! The newest alert is kept too, although PostgreSQL does not need it: an identity column never
//! hands an id out twice, even after the row with the largest id is gone. It is kept so that both
//! backends forget exactly the same rows under one policy.
//!
//! Rows go in chunks of [`CHUNK`], one short transaction each, so intake and the engines of other
//! processes only ever wait for one chunk's row locks. A pass is bounded by `max_rows_per_table`;
//! what it leaves is taken by the next pass.
//!
//! # Space
//!
//! PostgreSQL does not shrink its files on delete. Autovacuum marks the space of deleted rows for
//! reuse, so after retention has taken a table to its bound the database stops growing; giving
//! the space back to the file system needs `VACUUM FULL` (which locks the table) and is left to
//! the operator. `vacuumed_pages` in the prune report is therefore always 0, and `free_bytes` in
//! the storage figures is 0: PostgreSQL keeps no cheap count of reusable space (only the
//! `pgstattuple` extension measures it, by reading the tables).

use chrono::{DateTime, Utc};

use super::{count, micros, minus, PostgresStore};
use crate::error::StoreError;
use crate::model::*;
use crate::rollup::day_text;

/// Rows removed per transaction.
const CHUNK: i64 = 2000;
/// Reports (whole HTML documents) removed per transaction.
const REPORT_CHUNK: i64 = 50;

/// The alerts buffer entries name: a bare id, or an object with `alert_id`.
const BUFFERED_ALERT_IDS: &str = "SELECT named::int8 FROM (\
     SELECT CASE jsonb_typeof(doc) WHEN 'number' THEN doc #>> '{}' \
     WHEN 'object' THEN doc ->> 'alert_id' END AS named \
     FROM (SELECT entry::jsonb AS doc FROM incident_buffer) AS entries) AS names \
     WHERE named ~ '^[0-9]{1,18}$'";

/// The tables whose rows `/metrics` reports (the same as SQLite's).
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
    store: &PostgresStore,
    sql: &str,
    binds: &[Bind],
    chunk: i64,
    budget: Option<u64>,
) -> Result<(u64, bool), StoreError> {
    let action = "pruning old records";
    let mut removed = 0u64;
    loop {
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
        // One statement is one transaction: its row locks go with its commit.
        let n = query
            .bind(size)
            .execute(&store.pool)
            .await
            .map_err(StoreError::db(action))?
            .rows_affected();
        removed += n;
        if n < u64::try_from(size).unwrap_or(u64::MAX) {
            return Ok((removed, false));
        }
        if budget.is_some_and(|budget| removed >= budget) {
            return Ok((removed, true));
        }
    }
}

/// The id of the `(limit + 1)`-th newest row `select` orders newest first, if there are that many.
async fn boundary(
    store: &PostgresStore,
    select: &str,
    limit: u64,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(select)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_optional(&store.pool)
        .await
        .map_err(StoreError::db("finding the retention boundary"))
}

pub(super) async fn prune(
    store: &PostgresStore,
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
                 ORDER BY id DESC LIMIT 1 OFFSET $1",
                limit,
            )
            .await?
            .unwrap_or(i64::MIN),
            None => i64::MIN,
        };
        let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM alerts")
            .fetch_one(&store.pool)
            .await
            .map_err(StoreError::db("finding the newest alert"))?;
        if let Some(newest) = newest {
            let sql = format!(
                "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts \
                 WHERE state = 'processed' AND id < $1 AND (received_at < $2 OR id <= $3) \
                 AND id NOT IN ({BUFFERED_ALERT_IDS}) ORDER BY id LIMIT $4)"
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
        let sql = "DELETE FROM ticket_requests WHERE external_xref IN \
                   (SELECT external_xref FROM ticket_requests \
                    WHERE created_at < $1 ORDER BY created_at LIMIT $2)";
        let binds = [Bind::Int(micros(minus(now, keep)))];
        report.ticket_requests += note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
    }
    if let Some(limit) = policy.ticket_requests.limit {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT created_at, external_xref FROM ticket_requests \
             ORDER BY created_at DESC, external_xref DESC LIMIT 1 OFFSET $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_optional(&store.pool)
        .await
        .map_err(StoreError::db("finding the retention boundary"))?;
        if let Some((created_at, xref)) = row {
            let sql = "DELETE FROM ticket_requests WHERE external_xref IN \
                       (SELECT external_xref FROM ticket_requests \
                        WHERE ticket_id IS NOT NULL AND (created_at, external_xref) <= ($1, $2) \
                        ORDER BY created_at LIMIT $3)";
            let binds = [Bind::Int(created_at), Bind::Text(xref)];
            report.ticket_requests +=
                note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
        }
    }

    // Incidents and their history; then buffer entries whose incident is gone.
    if let Some(keep) = policy.incidents {
        let cutoff = Bind::Int(micros(minus(now, keep)));
        let sql = "DELETE FROM incidents WHERE key IN (SELECT key FROM incidents \
                   WHERE last_alert_at < $1 AND flush_at IS NULL AND buffered = 0 LIMIT $2)";
        report.incidents =
            note(delete_chunked(store, sql, std::slice::from_ref(&cutoff), CHUNK, budget).await?);
        let sql = "DELETE FROM incident_history WHERE id IN (SELECT id FROM incident_history \
                   WHERE opened_at < $1 ORDER BY opened_at LIMIT $2)";
        report.incident_history = note(delete_chunked(store, sql, &[cutoff], CHUNK, budget).await?);
    }
    let sql = "DELETE FROM incident_buffer WHERE position IN (SELECT position \
               FROM incident_buffer AS entry WHERE NOT EXISTS \
               (SELECT 1 FROM incidents WHERE incidents.key = entry.key) LIMIT $1)";
    report.buffer_entries = note(delete_chunked(store, sql, &[], CHUNK, budget).await?);

    // Events: older than keep, or beyond the newest `events_limit`.
    if policy.events.is_some() || policy.events_limit.is_some() {
        let keep_cutoff = policy
            .events
            .map_or(i64::MIN, |keep| micros(minus(now, keep)));
        let limit_boundary = match policy.events_limit {
            Some(limit) => boundary(
                store,
                "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET $1",
                limit,
            )
            .await?
            .unwrap_or(i64::MIN),
            None => i64::MIN,
        };
        let sql = "DELETE FROM events WHERE id IN (SELECT id FROM events \
                   WHERE at < $1 OR id <= $2 ORDER BY id LIMIT $3)";
        let binds = [Bind::Int(keep_cutoff), Bind::Int(limit_boundary)];
        report.events = note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
    }

    if let Some(keep) = policy.done_jobs {
        let sql = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                   WHERE state = 'done' AND finished_at < $1 LIMIT $2)";
        let binds = [Bind::Int(micros(minus(now, keep)))];
        report.done_jobs = note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
    }

    if let Some(keep) = policy.rollups {
        // A day goes once all of it is older than `keep`.
        let sql = "DELETE FROM report_rollups WHERE (client, day, kind, name) IN \
                   (SELECT client, day, kind, name FROM report_rollups WHERE day < $1 LIMIT $2)";
        let binds = [Bind::Text(day_text(minus(now, keep)))];
        report.rollups = note(delete_chunked(store, sql, &binds, CHUNK, budget).await?);
    }

    if policy.expired_reports {
        let sql = "DELETE FROM reports WHERE id IN (SELECT id FROM reports \
                   WHERE expires_at < $1 AND publish_state <> 'pending' LIMIT $2)";
        let binds = [Bind::Int(micros(now))];
        report.reports = note(delete_chunked(store, sql, &binds, REPORT_CHUNK, budget).await?);
    }

    report.incomplete = incomplete;
    Ok(report)
}

pub(super) async fn storage_stats(store: &PostgresStore) -> Result<StorageStats, StoreError> {
    let action = "reading storage statistics";
    let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(&store.pool)
        .await
        .map_err(StoreError::db(action))?;
    let mut rows = Vec::with_capacity(COUNTED_TABLES.len());
    for table in COUNTED_TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&store.pool)
            .await
            .map_err(StoreError::db(action))?;
        rows.push((table.to_string(), count(n)));
    }
    Ok(StorageStats {
        database_bytes: count(bytes),
        free_bytes: 0,
        rows,
    })
}

//! Incidents with optimistic versions, their consolidation buffers and history, and the engine's
//! page commit, on PostgreSQL.
//!
//! An incident write locks the incident's row (`FOR UPDATE`) before comparing versions, so of two
//! processes writing the same incident one wins and the other gets `Conflict`, never a lost
//! update. A decision batch takes its locks in a fixed order — advisory locks of the serial keys
//! it enqueues under, then alerts by id, then incidents by key — so two processes committing
//! overlapping pages wait for each other instead of deadlocking.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::PgConnection;

use super::{
    col, count, from_micros, jobs, json_text, lock_serial_keys, micros, notify_work,
    opt_from_micros, parse_json, records, rollups, PostgresStore,
};
use crate::decision;
use crate::error::StoreError;
use crate::model::*;
use crate::rollup::Increments;

const INCIDENT_COLUMNS: &str = "key, client, ticket_id, status, first_alert_at, last_alert_at, \
                                alert_count, buffered, flush_at, flood, details, version";

pub(super) async fn get(store: &PostgresStore, key: &str) -> Result<Option<Incident>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE key = $1"
    ))
    .bind(key)
    .fetch_optional(&store.pool)
    .await
    .map_err(StoreError::db("reading an incident"))?;
    row.as_ref().map(decode).transpose()
}

pub(super) async fn upsert(
    store: &PostgresStore,
    mut incident: Incident,
) -> Result<Incident, StoreError> {
    let action = "saving an incident";
    let mut tx = store.write(action).await?;
    let new_version = upsert_in(&mut tx, &incident).await?;
    tx.commit().await.map_err(StoreError::db(action))?;
    incident.version = new_version;
    Ok(incident)
}

/// Writes `incident` inside `tx` if the stored version is still `incident.version` (0: not stored
/// yet) and returns the new version; `Conflict` otherwise.
async fn upsert_in(tx: &mut PgConnection, incident: &Incident) -> Result<i64, StoreError> {
    let action = "saving an incident";
    let alert_count = i64::try_from(incident.alert_count).map_err(|_| {
        StoreError::InvalidArgument(format!(
            "incident {:?} alert count {} is too large",
            incident.key, incident.alert_count
        ))
    })?;
    let stored: Option<(i64, Option<i64>)> =
        sqlx::query_as("SELECT version, ticket_id FROM incidents WHERE key = $1 FOR UPDATE")
            .bind(&incident.key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("reading an incident version"))?;
    let conflict = |actual: Option<i64>| StoreError::Conflict {
        key: incident.key.clone(),
        expected: incident.version,
        actual,
    };
    let previous_ticket = match stored {
        None if incident.version == 0 => None,
        Some((version, ticket)) if version == incident.version => ticket,
        other => return Err(conflict(other.map(|(version, _)| version))),
    };
    let new_version = incident.version + 1;
    let sql = if incident.version == 0 {
        // Another process may insert the same key between the read and this insert; then the
        // insert does nothing and the write is a conflict.
        "INSERT INTO incidents (client, ticket_id, status, first_alert_at, last_alert_at, \
         alert_count, flush_at, flood, details, version, key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (key) DO NOTHING"
    } else {
        "UPDATE incidents SET client = $1, ticket_id = $2, status = $3, first_alert_at = $4, \
         last_alert_at = $5, alert_count = $6, flush_at = $7, flood = $8, details = $9, \
         version = $10 WHERE key = $11"
    };
    let done = sqlx::query(sql)
        .bind(&incident.client)
        .bind(incident.ticket_id)
        .bind(&incident.status)
        .bind(micros(incident.first_alert_at))
        .bind(micros(incident.last_alert_at))
        .bind(alert_count)
        .bind(incident.flush_at.map(micros))
        .bind(incident.flood)
        .bind(json_text(&incident.details))
        .bind(new_version)
        .bind(&incident.key)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        let actual: Option<i64> =
            sqlx::query_scalar("SELECT version FROM incidents WHERE key = $1")
                .bind(&incident.key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::db(action))?;
        return Err(conflict(actual));
    }
    if let Some(ticket_id) = incident.ticket_id {
        if previous_ticket != Some(ticket_id) {
            sqlx::query(
                "INSERT INTO incident_history (key, client, ticket_id, opened_at, flood) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&incident.key)
            .bind(&incident.client)
            .bind(ticket_id)
            .bind(micros(incident.last_alert_at))
            .bind(incident.flood)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("recording incident history"))?;
        }
    }
    Ok(new_version)
}

/// Appends each note's decisions to its alerts (already off the queue), alerts in id order like
/// the rest of the batch's row locks.
async fn append_notes_in(
    tx: &mut PgConnection,
    notes: &[crate::DecisionNote],
) -> Result<(), StoreError> {
    for note in notes {
        let Some(text) = decision::append_text(&note.decisions) else {
            continue;
        };
        let mut ids = note.alerts.clone();
        ids.sort_unstable();
        ids.dedup();
        sqlx::query(&format!(
            "UPDATE alerts SET decisions = {} WHERE id = ANY($2)",
            decision::append_sql_postgres(1)
        ))
        .bind(text)
        .bind(ids)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("recording rule decisions"))?;
    }
    Ok(())
}

pub(super) async fn commit_decisions(
    store: &PostgresStore,
    batch: DecisionBatch,
) -> Result<(), StoreError> {
    let action = "writing the engine's decisions";
    if batch == DecisionBatch::default() {
        return Ok(());
    }
    for outcome in &batch.alerts {
        if !matches!(
            outcome.state,
            AlertState::Processed | AlertState::Unrouted | AlertState::Enriching
        ) {
            return Err(StoreError::InvalidArgument(format!(
                "alert {} cannot be taken off the queue as {}",
                outcome.id, outcome.state
            )));
        }
    }
    let written: HashSet<&str> = batch.incidents.iter().map(|i| i.key.as_str()).collect();
    if let Some(change) = batch.buffer.iter().find(|c| !written.contains(c.key())) {
        return Err(StoreError::InvalidArgument(format!(
            "the buffer of incident {:?} changes without the incident being written",
            change.key()
        )));
    }
    let mut tx = store.write(action).await?;
    lock_serial_keys(
        &mut tx,
        batch
            .jobs
            .iter()
            .filter_map(|job| job.serial_key.as_deref()),
    )
    .await?;
    let mut alerts: Vec<&AlertOutcome> = batch.alerts.iter().collect();
    alerts.sort_by_key(|outcome| outcome.id);
    let mut increments = Increments::default();
    for outcome in alerts {
        let decided: Option<(String, i64, String)> = sqlx::query_as(&format!(
            "UPDATE alerts SET state = $1, client = $2, payload = COALESCE($3, payload), \
             decisions = {} \
             WHERE id = $4 AND state = 'queued' RETURNING alert_name, occurred_at, payload",
            decision::append_sql_postgres(5)
        ))
        .bind(outcome.state.as_str())
        .bind(&outcome.client)
        .bind(outcome.payload.as_ref().map(json_text))
        .bind(outcome.id)
        .bind(decision::append_text(&outcome.decisions))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        let Some((alert_name, occurred_at, payload)) = decided else {
            let current: Option<String> =
                sqlx::query_scalar("SELECT state FROM alerts WHERE id = $1")
                    .bind(outcome.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::db(action))?;
            return Err(outcome.refused(current));
        };
        // The report roll-ups count the alert in the same transaction that decides it, so a
        // report never misses an alert retention forgot nor counts one twice.
        increments.decided(outcome, &alert_name, occurred_at, &payload)?;
    }
    append_notes_in(&mut tx, &batch.notes).await?;
    let mut incidents: Vec<&Incident> = batch.incidents.iter().collect();
    incidents.sort_by(|a, b| a.key.cmp(&b.key));
    for incident in incidents {
        upsert_in(&mut tx, incident).await?;
    }
    if !batch.buffer.is_empty() {
        change_buffers_in(&mut tx, &batch.buffer).await?;
    }
    for setting in &batch.settings {
        let written = records::compare_and_put_in(
            &mut tx,
            &setting.key,
            setting.expected.as_ref(),
            &setting.value,
        )
        .await?;
        if !written {
            return Err(StoreError::SettingChanged {
                key: setting.key.clone(),
            });
        }
    }
    for job in &batch.jobs {
        jobs::enqueue_in(&mut tx, job).await?;
    }
    // Last, and in key order: the roll-up rows are the only ones two batches of different
    // incidents share.
    rollups::write_in(&mut tx, &increments).await?;
    if !batch.jobs.is_empty() {
        notify_work(&mut tx).await?;
    }
    tx.commit().await.map_err(StoreError::db(action))
}

/// Applies a decision batch's buffer changes in order, after its incidents were written (whose
/// row locks guard the buffers), and keeps each incident's count.
async fn change_buffers_in(
    tx: &mut PgConnection,
    changes: &[BufferChange],
) -> Result<(), StoreError> {
    let mut counts: Vec<(&str, i64)> = Vec::new();
    let mut count = |key, delta| match counts.iter_mut().find(|(known, _)| *known == key) {
        Some((_, total)) => *total += delta,
        None => counts.push((key, delta)),
    };
    let mut appends: Vec<(&str, String)> = Vec::new();
    for change in changes {
        let key = change.key();
        match change {
            BufferChange::Append { entry, .. } => {
                appends.push((key, json_text(entry)));
                count(key, 1);
            }
            BufferChange::DrainThrough { through, .. } => {
                insert_entries(tx, &mut appends).await?;
                let drained =
                    sqlx::query("DELETE FROM incident_buffer WHERE key = $1 AND position <= $2")
                        .bind(key)
                        .bind(through)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::db("draining a consolidation buffer"))?
                        .rows_affected();
                count(key, -i64::try_from(drained).unwrap_or(i64::MAX));
            }
        }
    }
    insert_entries(tx, &mut appends).await?;
    for (key, delta) in counts {
        sqlx::query("UPDATE incidents SET buffered = buffered + $1 WHERE key = $2")
            .bind(delta)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("counting a consolidation buffer"))?;
    }
    Ok(())
}

/// Inserts and empties `entries` (key, entry JSON), in order: one statement for all of them.
async fn insert_entries(
    tx: &mut PgConnection,
    entries: &mut Vec<(&str, String)>,
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = entries.iter().map(|(key, _)| *key).collect();
    let values: Vec<&str> = entries.iter().map(|(_, entry)| entry.as_str()).collect();
    sqlx::query(
        "INSERT INTO incident_buffer (key, entry) \
         SELECT k, e FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS b(k, e, ord) \
         ORDER BY ord",
    )
    .bind(&keys)
    .bind(&values)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("adding to a consolidation buffer"))?;
    entries.clear();
    Ok(())
}

pub(super) async fn buffer(
    store: &PostgresStore,
    key: &str,
) -> Result<Vec<BufferEntry>, StoreError> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT position, entry FROM incident_buffer WHERE key = $1 ORDER BY position",
    )
    .bind(key)
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("reading a consolidation buffer"))?;
    rows.into_iter()
        .map(|(position, entry)| {
            Ok(BufferEntry {
                position,
                entry: parse_json(&entry, "incident_buffer.entry")?,
            })
        })
        .collect()
}

pub(super) async fn delete(
    store: &PostgresStore,
    key: &str,
    version: i64,
) -> Result<(), StoreError> {
    let action = "deleting an incident";
    let mut tx = store.write(action).await?;
    let done = sqlx::query("DELETE FROM incidents WHERE key = $1 AND version = $2")
        .bind(key)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        let actual: Option<i64> =
            sqlx::query_scalar("SELECT version FROM incidents WHERE key = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::db(action))?;
        return Err(StoreError::Conflict {
            key: key.to_string(),
            expected: version,
            actual,
        });
    }
    sqlx::query("DELETE FROM incident_buffer WHERE key = $1")
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn list(
    store: &PostgresStore,
    filter: IncidentFilter,
) -> Result<Vec<Incident>, StoreError> {
    let order = if filter.flush_due_by.is_some() {
        "ORDER BY flush_at, key"
    } else {
        "ORDER BY key"
    };
    let rows = sqlx::query(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents \
         WHERE ($1::text IS NULL OR client = $1) \
           AND ($2::int8 IS NULL OR (flush_at IS NOT NULL AND flush_at <= $2)) \
           AND ($3::bool IS NULL OR flood = $3) \
         {order} LIMIT $4"
    ))
    .bind(filter.client)
    .bind(filter.flush_due_by.map(micros))
    .bind(filter.flood)
    .bind(filter.limit.map(i64::from))
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("listing incidents"))?;
    rows.iter().map(decode).collect()
}

pub(super) async fn history_since(
    store: &PostgresStore,
    key: &str,
    since: DateTime<Utc>,
) -> Result<Vec<IncidentHistoryEntry>, StoreError> {
    let rows: Vec<(String, Option<String>, i64, i64, bool)> = sqlx::query_as(
        "SELECT key, client, ticket_id, opened_at, flood FROM incident_history \
         WHERE key = $1 AND opened_at >= $2 ORDER BY opened_at, id",
    )
    .bind(key)
    .bind(micros(since))
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("reading incident history"))?;
    rows.into_iter()
        .map(|(key, client, ticket_id, opened_at, flood)| {
            Ok(IncidentHistoryEntry {
                key,
                client,
                ticket_id,
                opened_at: from_micros(opened_at, "incident_history.opened_at")?,
                flood,
            })
        })
        .collect()
}

/// Incidents with a buffer or a pending flush are kept whatever their age.
pub(super) async fn delete_older_than(
    store: &PostgresStore,
    cutoff: DateTime<Utc>,
) -> Result<(u64, u64), StoreError> {
    let action = "forgetting old incidents";
    let mut tx = store.write(action).await?;
    let incidents = sqlx::query(
        "DELETE FROM incidents WHERE last_alert_at < $1 AND flush_at IS NULL AND buffered = 0",
    )
    .bind(micros(cutoff))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?
    .rows_affected();
    let history = sqlx::query("DELETE FROM incident_history WHERE opened_at < $1")
        .bind(micros(cutoff))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?
        .rows_affected();
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok((incidents, history))
}

fn decode(row: &PgRow) -> Result<Incident, StoreError> {
    let details: String = col(row, "details")?;
    Ok(Incident {
        key: col(row, "key")?,
        client: col(row, "client")?,
        ticket_id: col(row, "ticket_id")?,
        status: col(row, "status")?,
        first_alert_at: from_micros(col(row, "first_alert_at")?, "incidents.first_alert_at")?,
        last_alert_at: from_micros(col(row, "last_alert_at")?, "incidents.last_alert_at")?,
        alert_count: count(col(row, "alert_count")?),
        buffered: count(col(row, "buffered")?),
        flush_at: opt_from_micros(col(row, "flush_at")?, "incidents.flush_at")?,
        flood: col(row, "flood")?,
        details: parse_json(&details, "incidents.details")?,
        version: col(row, "version")?,
    })
}

//! Incidents with optimistic versioning, and the history of tickets per alert key.
//!
//! Rules read an incident, decide, and write it back with the version they read; if a
//! second worker got there first the write is refused with `Conflict` and the rule runs
//! again on fresh state. No lock is held while the rule talks to ConnectWise. Every time
//! an incident takes a new ticket, the ticket is appended to `incident_history` in the
//! same transaction, which is what correlation lines are built from even after the
//! incident itself is forgotten.
//!
//! A consolidation buffer is rows of `incident_buffer`, appended and drained only in a decision
//! batch that also writes the incident (so the incident's version guards them too); the
//! incident's `buffered` column counts them. Adding to a buffer costs the same whether it holds
//! three alerts or a hundred thousand.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{SqliteConnection, SqlitePool};

use super::{
    col, count, from_micros, json_text, micros, opt_from_micros, parse_json, rows_text,
    ClientColumn, SqliteStore,
};
use crate::error::StoreError;
use crate::model::*;

const INCIDENT_COLUMNS: &str = "key, client, ticket_id, status, first_alert_at, last_alert_at, \
                                alert_count, buffered, flush_at, flood, details, version";

pub(super) async fn get_many(
    pool: &SqlitePool,
    keys: &[String],
) -> Result<Vec<Incident>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents \
         WHERE key IN (SELECT value FROM json_each(?)) ORDER BY key"
    ))
    .bind(json_text(&serde_json::json!(keys)))
    .fetch_all(pool)
    .await
    .map_err(StoreError::db("reading incidents"))?;
    rows.iter().map(decode).collect()
}

async fn stored_version(tx: &mut SqliteConnection, key: &str) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar("SELECT version FROM incidents WHERE key = ?")
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("reading an incident version"))
}

pub(super) async fn upsert(
    store: &SqliteStore,
    mut incident: Incident,
) -> Result<Incident, StoreError> {
    let action = "saving an incident";
    let mut tx = store.write(action).await?;
    let new_version = upsert_in(&mut tx, &incident, 0).await?;
    tx.commit().await.map_err(StoreError::db(action))?;
    incident.version = new_version;
    Ok(incident)
}

/// Writes `incident` inside `tx` if the stored version is still `incident.version` (0: not
/// stored yet) and returns the new version; `Conflict` otherwise.
pub(super) async fn upsert_in(
    tx: &mut SqliteConnection,
    incident: &Incident,
    buffered: i64,
) -> Result<i64, StoreError> {
    let grown = HashMap::from([(incident.key.as_str(), buffered)]);
    write_in(tx, std::slice::from_ref(incident), &grown).await?;
    Ok(incident.version + 1)
}

/// Writes `incidents` inside `tx`, each only if its stored version is still the one it carries
/// (0: not stored yet), adding `grown` to their buffers' counts; each gets its version plus one.
/// `Conflict` names the first that another writer changed. Two statements whatever the number of
/// incidents (one for the new, one for the changed), so a page's commit holds the write lock for
/// a few statements rather than one per incident; the ticket history row a new ticket id needs is
/// the triggers' work (migration `1910_incident_history_triggers.sql`).
pub(super) async fn write_in(
    tx: &mut SqliteConnection,
    incidents: &[Incident],
    grown: &HashMap<&str, i64>,
) -> Result<(), StoreError> {
    let action = "saving incidents";
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    for incident in incidents {
        let row = IncidentRow {
            key: &incident.key,
            client: incident.client.as_deref(),
            ticket: incident.ticket_id,
            status: &incident.status,
            first: micros(incident.first_alert_at),
            last: micros(incident.last_alert_at),
            count: incident.stored_alert_count()?,
            flush: incident.flush_at.map(micros),
            flood: incident.flood,
            details: json_text(&incident.details),
            buffered: grown.get(incident.key.as_str()).copied().unwrap_or(0),
            version: incident.version,
        };
        if incident.version == 0 {
            inserts.push(row);
        } else {
            updates.push(row);
        }
    }
    let mut written: HashSet<String> = HashSet::with_capacity(incidents.len());
    if !inserts.is_empty() {
        // `WHERE true` tells the parser the ON CONFLICT clause belongs to the INSERT.
        let keys: Vec<String> = sqlx::query_scalar(&format!(
            "INSERT INTO incidents (client, ticket_id, status, first_alert_at, last_alert_at, \
             alert_count, flush_at, flood, details, buffered, version, key) \
             SELECT {ROW_VALUES}, value ->> 'buffered', 1, value ->> 'key' \
             FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING RETURNING key"
        ))
        .bind(rows_text(&inserts)?)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        written.extend(keys);
    }
    // Most incidents keep their client (see `ClientColumn`).
    written.extend(update(tx, &updates, ClientColumn::Kept).await?);
    let rest: Vec<IncidentRow> = updates
        .into_iter()
        .filter(|row| !written.contains(row.key))
        .collect();
    written.extend(update(tx, &rest, ClientColumn::Changed).await?);
    if let Some(refused) = incidents.iter().find(|i| !written.contains(&i.key)) {
        return Err(StoreError::Conflict {
            key: refused.key.clone(),
            expected: refused.version,
            actual: stored_version(&mut *tx, &refused.key).await?,
        });
    }
    Ok(())
}

/// One incident as the statements of [`write_in`] read it from their JSON parameter.
#[derive(Serialize)]
struct IncidentRow<'i> {
    key: &'i str,
    client: Option<&'i str>,
    ticket: Option<i64>,
    status: &'i str,
    first: i64,
    last: i64,
    count: i64,
    flush: Option<i64>,
    flood: bool,
    details: String,
    buffered: i64,
    version: i64,
}

/// Inside `tx`: writes the incidents among the JSON `rows` that `which` selects and that are
/// still at the version each row names, in one statement (none when there are none); returns
/// the keys written.
async fn update(
    tx: &mut SqliteConnection,
    rows: &[IncidentRow<'_>],
    which: ClientColumn,
) -> Result<Vec<String>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let (client, matching) = which.sql("incidents", "value ->> 'client'");
    sqlx::query_scalar(&format!(
        "UPDATE incidents SET {client}ticket_id = value ->> 'ticket', \
           status = value ->> 'status', first_alert_at = value ->> 'first', \
           last_alert_at = value ->> 'last', alert_count = value ->> 'count', \
           flush_at = value ->> 'flush', flood = value ->> 'flood', \
           details = value ->> 'details', \
           buffered = incidents.buffered + (value ->> 'buffered'), \
           version = (value ->> 'version') + 1 \
         FROM json_each(?) \
         WHERE incidents.key = value ->> 'key' AND incidents.version = value ->> 'version' \
           AND {matching} \
         RETURNING incidents.key"
    ))
    .bind(rows_text(rows)?)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db("saving incidents"))
}

/// A new incident's columns from its JSON row `value`, in the order client, ticket, status, first
/// and last alert, count, flush, flood, details.
const ROW_VALUES: &str = "value ->> 'client', value ->> 'ticket', value ->> 'status', \
     value ->> 'first', value ->> 'last', value ->> 'count', value ->> 'flush', \
     value ->> 'flood', value ->> 'details'";

pub(super) async fn delete(store: &SqliteStore, key: &str, version: i64) -> Result<(), StoreError> {
    let action = "deleting an incident";
    let mut tx = store.write(action).await?;
    let done = sqlx::query("DELETE FROM incidents WHERE key = ? AND version = ?")
        .bind(key)
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        let actual = stored_version(&mut tx, key).await?;
        return Err(StoreError::Conflict {
            key: key.to_string(),
            expected: version,
            actual,
        });
    }
    sqlx::query("DELETE FROM incident_buffer WHERE key = ?")
        .bind(key)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn buffer(pool: &SqlitePool, key: &str) -> Result<Vec<BufferEntry>, StoreError> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT position, entry FROM incident_buffer WHERE key = ? ORDER BY position",
    )
    .bind(key)
    .fetch_all(pool)
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

/// Applies a decision batch's buffer changes inside `tx`, before its incidents are written;
/// `written` are the keys of those incidents. Appends go in as multi-row inserts, so a page adding
/// a thousand alerts to one buffer costs a few statements, not one per alert. Returns how much
/// each incident's buffer grew (or shrank), for [`upsert_in`] to count.
pub(super) async fn change_buffers_in<'a>(
    tx: &mut SqliteConnection,
    changes: &'a [BufferChange],
    written: &HashSet<&str>,
) -> Result<HashMap<&'a str, i64>, StoreError> {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    let mut count = |key, delta| *counts.entry(key).or_default() += delta;
    let mut appends: Vec<(&str, String)> = Vec::new();
    for change in changes {
        let key = change.key();
        if !written.contains(key) {
            return Err(StoreError::InvalidArgument(format!(
                "the buffer of incident {key:?} changes without the incident being written"
            )));
        }
        match change {
            BufferChange::Append { entry, .. } => {
                appends.push((key, json_text(entry)));
                count(key, 1);
            }
            BufferChange::DrainThrough { through, .. } => {
                // Earlier appends are written first, so the changes apply in the order given
                // (a new entry's position is above every stored one, so a drain never takes it).
                insert_entries(tx, &mut appends).await?;
                let drained =
                    sqlx::query("DELETE FROM incident_buffer WHERE key = ? AND position <= ?")
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
    Ok(counts)
}

/// Inserts and empties `entries` (key, entry JSON), in order.
async fn insert_entries(
    tx: &mut SqliteConnection,
    entries: &mut Vec<(&str, String)>,
) -> Result<(), StoreError> {
    /// Rows per statement (two parameters each, well under SQLite's limit).
    const ROWS: usize = 500;
    for chunk in entries.chunks(ROWS) {
        let mut insert =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO incident_buffer (key, entry) ");
        insert.push_values(chunk, |mut row, (key, entry)| {
            row.push_bind(*key).push_bind(entry.as_str());
        });
        insert
            .build()
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("adding to a consolidation buffer"))?;
    }
    entries.clear();
    Ok(())
}

pub(super) async fn list(
    store: &SqliteStore,
    filter: IncidentFilter,
) -> Result<Vec<Incident>, StoreError> {
    let mut sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE 1 = 1");
    if filter.client.is_some() {
        sql.push_str(" AND client = ?");
    }
    if filter.flush_due_by.is_some() {
        sql.push_str(" AND flush_at IS NOT NULL AND flush_at <= ?");
    }
    if filter.flood.is_some() {
        sql.push_str(" AND flood = ?");
    }
    if filter.flush_due_by.is_some() {
        sql.push_str(" ORDER BY flush_at, key");
    } else {
        sql.push_str(" ORDER BY key");
    }
    sql.push_str(" LIMIT ?");
    let mut query = sqlx::query(&sql);
    if let Some(client) = filter.client {
        query = query.bind(client);
    }
    if let Some(due) = filter.flush_due_by {
        query = query.bind(micros(due));
    }
    if let Some(flood) = filter.flood {
        query = query.bind(flood);
    }
    let limit = filter.limit.map(i64::from).unwrap_or(-1);
    let rows = query
        .bind(limit)
        .fetch_all(&store.reader)
        .await
        .map_err(StoreError::db("listing incidents"))?;
    rows.iter().map(decode).collect()
}

pub(super) async fn history_since(
    store: &SqliteStore,
    key: &str,
    since: DateTime<Utc>,
) -> Result<Vec<IncidentHistoryEntry>, StoreError> {
    let rows: Vec<(String, Option<String>, i64, i64, bool)> = sqlx::query_as(
        "SELECT key, client, ticket_id, opened_at, flood FROM incident_history \
         WHERE key = ? AND opened_at >= ? ORDER BY opened_at, id",
    )
    .bind(key)
    .bind(micros(since))
    .fetch_all(&store.reader)
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

/// Incidents with a buffer or a pending flush are kept whatever their age: forgetting them
/// would drop buffered alerts.
pub(super) async fn delete_older_than(
    store: &SqliteStore,
    cutoff: DateTime<Utc>,
) -> Result<(u64, u64), StoreError> {
    let action = "forgetting old incidents";
    let mut tx = store.write(action).await?;
    let incidents = sqlx::query(
        "DELETE FROM incidents WHERE last_alert_at < ? AND flush_at IS NULL AND buffered = 0",
    )
    .bind(micros(cutoff))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?
    .rows_affected();
    let history = sqlx::query("DELETE FROM incident_history WHERE opened_at < ?")
        .bind(micros(cutoff))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?
        .rows_affected();
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok((incidents, history))
}

fn decode(row: &SqliteRow) -> Result<Incident, StoreError> {
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

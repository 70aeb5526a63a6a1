//! Incidents with optimistic versions, their consolidation buffers and history, and the engine's
//! page commit, on PostgreSQL.
//!
//! An incident write locks the incident's row (`FOR UPDATE`) before comparing versions, so of two
//! processes writing the same incident one wins and the other gets `Conflict`, never a lost
//! update. A decision batch takes its locks in a fixed order — advisory locks of the serial keys
//! it enqueues under, then alerts by id, then incidents by key — so two processes committing
//! overlapping pages wait for each other instead of deadlocking.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgConnection, Postgres};

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

pub(super) async fn get_many(
    store: &PostgresStore,
    keys: &[String],
) -> Result<Vec<Incident>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE key = ANY($1) ORDER BY key COLLATE \"C\""
    ))
    .bind(keys)
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("reading incidents"))?;
    rows.iter().map(decode).collect()
}

pub(super) async fn upsert(
    store: &PostgresStore,
    mut incident: Incident,
) -> Result<Incident, StoreError> {
    let action = "saving an incident";
    let mut tx = store.write(action).await?;
    write_in(&mut tx, std::slice::from_ref(&incident), &[]).await?;
    tx.commit().await.map_err(StoreError::db(action))?;
    incident.version += 1;
    Ok(incident)
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
            decision::append_sql_postgres("$1::text")
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
    let mut tx = store.write(action).await?;
    lock_serial_keys(
        &mut tx,
        batch
            .jobs
            .iter()
            .filter_map(|job| job.serial_key.as_deref()),
    )
    .await?;
    let mut increments = Increments::default();
    take_off_queue(&mut tx, &batch.alerts, &mut increments).await?;
    append_notes_in(&mut tx, &batch.notes).await?;
    write_in(&mut tx, &batch.incidents, &batch.buffer).await?;
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

/// Inside `tx`: moves `outcomes`' alerts from `queued` to their new state in one statement, in id
/// order, appending their rule decisions, and adds what the `processed` ones count to
/// `increments`. An alert that is not queued (or does not exist) fails the whole batch.
async fn take_off_queue(
    tx: &mut PgConnection,
    outcomes: &[AlertOutcome],
    increments: &mut Increments,
) -> Result<(), StoreError> {
    let action = "writing the engine's decisions";
    if outcomes.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&AlertOutcome> = outcomes.iter().collect();
    sorted.sort_by_key(|outcome| outcome.id);
    let ids: Vec<AlertId> = sorted.iter().map(|outcome| outcome.id).collect();
    let states: Vec<&str> = sorted
        .iter()
        .map(|outcome| outcome.state.as_str())
        .collect();
    let clients: Vec<Option<&str>> = sorted
        .iter()
        .map(|outcome| outcome.client.as_deref())
        .collect();
    let payloads: Vec<Option<String>> = sorted
        .iter()
        .map(|outcome| outcome.payload.as_ref().map(json_text))
        .collect();
    let appended: Vec<Option<String>> = sorted
        .iter()
        .map(|outcome| decision::append_text(&outcome.decisions))
        .collect();
    let decided: Vec<(AlertId, String, i64, Option<String>)> = sqlx::query_as(&format!(
        "UPDATE alerts SET state = d.state, client = d.client, \
           payload = COALESCE(d.payload, alerts.payload), decisions = {} \
         FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[]) \
           AS d(id, state, client, payload, appended) \
         WHERE alerts.id = d.id AND alerts.state = 'queued' \
         RETURNING alerts.id, alerts.alert_name, alerts.occurred_at, alerts.payload",
        decision::append_sql_postgres("d.appended")
    ))
    .bind(&ids)
    .bind(&states)
    .bind(&clients)
    .bind(&payloads)
    .bind(&appended)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    // The report roll-ups count the alert in the same transaction that decides it, so a report
    // never misses an alert retention forgot nor counts one twice.
    let Some(refused) = increments.taken_off_queue(sorted, decided)? else {
        return Ok(());
    };
    let current: Option<String> = sqlx::query_scalar("SELECT state FROM alerts WHERE id = $1")
        .bind(refused.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    Err(refused.refused(current))
}

/// Inside `tx`: writes `incidents` (each inserted when its version is 0, else updated if the
/// stored version is still its own; `Conflict` otherwise) with their buffer `changes`, in a few
/// statements for any number of them. Their rows are locked first, in key order, so two processes
/// writing overlapping incidents wait for each other instead of deadlocking, and the locks guard
/// the buffers. Each incident that takes a new ticket gets an `incident_history` row.
async fn write_in(
    tx: &mut PgConnection,
    incidents: &[Incident],
    changes: &[BufferChange],
) -> Result<(), StoreError> {
    let action = "saving an incident";
    let written: HashSet<&str> = incidents.iter().map(|i| i.key.as_str()).collect();
    if let Some(change) = changes.iter().find(|c| !written.contains(c.key())) {
        return Err(StoreError::InvalidArgument(format!(
            "the buffer of incident {:?} changes without the incident being written",
            change.key()
        )));
    }
    if incidents.is_empty() {
        return Ok(());
    }
    let mut incidents: Vec<&Incident> = incidents.iter().collect();
    incidents.sort_by(|a, b| a.key.cmp(&b.key));
    let keys: Vec<&str> = incidents.iter().map(|i| i.key.as_str()).collect();
    let stored: HashMap<String, (i64, Option<i64>)> = sqlx::query_as(
        "SELECT key, version, ticket_id FROM incidents WHERE key = ANY($1) \
         ORDER BY key COLLATE \"C\" FOR UPDATE",
    )
    .bind(&keys)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db("reading incident versions"))?
    .into_iter()
    .map(|(key, version, ticket): (String, i64, Option<i64>)| (key, (version, ticket)))
    .collect();
    let mut inserts = IncidentRows::default();
    let mut updates = IncidentRows::default();
    let mut history = HistoryRows::default();
    let grown = change_buffers_in(tx, changes).await?;
    for incident in incidents {
        let previous_ticket = match stored.get(&incident.key) {
            None if incident.version == 0 => None,
            Some((version, ticket)) if *version == incident.version => *ticket,
            other => {
                return Err(StoreError::Conflict {
                    key: incident.key.clone(),
                    expected: incident.version,
                    actual: other.map(|(version, _)| *version),
                })
            }
        };
        let rows = if incident.version == 0 {
            &mut inserts
        } else {
            &mut updates
        };
        rows.push(
            incident,
            grown.get(incident.key.as_str()).copied().unwrap_or(0),
        )?;
        if let Some(ticket_id) = incident.ticket_id.filter(|t| previous_ticket != Some(*t)) {
            history.push(incident, ticket_id);
        }
    }
    if !inserts.keys.is_empty() {
        // Another process may insert one of these keys after the read above: then the insert
        // does nothing for it and the write is a conflict.
        let inserted: HashSet<String> = inserts
            .bind(
                "INSERT INTO incidents (client, ticket_id, status, first_alert_at, last_alert_at, \
                 alert_count, flush_at, flood, details, version, key, buffered) \
                 SELECT * FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::int8[], \
                   $5::int8[], $6::int8[], $7::int8[], $8::bool[], $9::text[], $10::int8[], \
                   $11::text[], $12::int8[]) \
                 ON CONFLICT (key) DO NOTHING RETURNING key",
            )
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db(action))?
            .iter()
            .map(|row| col(row, "key"))
            .collect::<Result<_, _>>()?;
        if let Some(key) = inserts.keys.iter().find(|key| !inserted.contains(**key)) {
            let actual: Option<i64> =
                sqlx::query_scalar("SELECT version FROM incidents WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::db(action))?;
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected: 0,
                actual,
            });
        }
    }
    if !updates.keys.is_empty() {
        updates
            .bind(
                "UPDATE incidents SET client = d.client, ticket_id = d.ticket_id, \
                   status = d.status, first_alert_at = d.first_alert_at, \
                   last_alert_at = d.last_alert_at, alert_count = d.alert_count, \
                   flush_at = d.flush_at, flood = d.flood, details = d.details, \
                   version = d.version, buffered = incidents.buffered + d.buffered \
                 FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::int8[], $5::int8[], \
                   $6::int8[], $7::int8[], $8::bool[], $9::text[], $10::int8[], $11::text[], \
                   $12::int8[]) AS d(client, ticket_id, status, first_alert_at, last_alert_at, \
                   alert_count, flush_at, flood, details, version, key, buffered) \
                 WHERE incidents.key = d.key",
            )
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
    }
    history.write_in(tx).await
}

/// The columns of incidents to write, one array per column (`UNNEST`'s input).
#[derive(Default)]
struct IncidentRows<'a> {
    clients: Vec<Option<&'a str>>,
    tickets: Vec<Option<i64>>,
    statuses: Vec<&'a str>,
    first_alerts: Vec<i64>,
    last_alerts: Vec<i64>,
    alert_counts: Vec<i64>,
    flushes: Vec<Option<i64>>,
    floods: Vec<bool>,
    details: Vec<String>,
    /// The version each row gets (the version read plus one).
    versions: Vec<i64>,
    keys: Vec<&'a str>,
    /// Entries its buffer gained (or lost, when negative) in this write.
    buffered: Vec<i64>,
}

impl<'a> IncidentRows<'a> {
    fn push(&mut self, incident: &'a Incident, buffered: i64) -> Result<(), StoreError> {
        let alert_count = incident.stored_alert_count()?;
        self.clients.push(incident.client.as_deref());
        self.tickets.push(incident.ticket_id);
        self.statuses.push(&incident.status);
        self.first_alerts.push(micros(incident.first_alert_at));
        self.last_alerts.push(micros(incident.last_alert_at));
        self.alert_counts.push(alert_count);
        self.flushes.push(incident.flush_at.map(micros));
        self.floods.push(incident.flood);
        self.details.push(json_text(&incident.details));
        self.versions.push(incident.version + 1);
        self.keys.push(&incident.key);
        self.buffered.push(buffered);
        Ok(())
    }

    /// `sql` with the rows bound as its twelve arrays, in the order of the fields.
    fn bind<'q>(&'q self, sql: &'q str) -> sqlx::query::Query<'q, Postgres, PgArguments> {
        sqlx::query(sql)
            .bind(&self.clients)
            .bind(&self.tickets)
            .bind(&self.statuses)
            .bind(&self.first_alerts)
            .bind(&self.last_alerts)
            .bind(&self.alert_counts)
            .bind(&self.flushes)
            .bind(&self.floods)
            .bind(&self.details)
            .bind(&self.versions)
            .bind(&self.keys)
            .bind(&self.buffered)
    }
}

/// `incident_history` rows for incidents that took a new ticket, written in one statement.
#[derive(Default)]
struct HistoryRows<'a> {
    keys: Vec<&'a str>,
    clients: Vec<Option<&'a str>>,
    tickets: Vec<i64>,
    opened: Vec<i64>,
    floods: Vec<bool>,
}

impl<'a> HistoryRows<'a> {
    fn push(&mut self, incident: &'a Incident, ticket_id: i64) {
        self.keys.push(&incident.key);
        self.clients.push(incident.client.as_deref());
        self.tickets.push(ticket_id);
        self.opened.push(micros(incident.last_alert_at));
        self.floods.push(incident.flood);
    }

    async fn write_in(self, tx: &mut PgConnection) -> Result<(), StoreError> {
        if self.keys.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO incident_history (key, client, ticket_id, opened_at, flood) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::bool[])",
        )
        .bind(self.keys)
        .bind(self.clients)
        .bind(self.tickets)
        .bind(self.opened)
        .bind(self.floods)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("recording incident history"))?;
        Ok(())
    }
}

/// Applies a decision batch's buffer changes in order (the rows of their incidents are locked)
/// and returns how many entries each incident's buffer gained (negative: lost).
async fn change_buffers_in<'c>(
    tx: &mut PgConnection,
    changes: &'c [BufferChange],
) -> Result<HashMap<&'c str, i64>, StoreError> {
    let mut counts: HashMap<&str, i64> = HashMap::new();
    let mut appends: Vec<(&str, String)> = Vec::new();
    for change in changes {
        let key = change.key();
        match change {
            BufferChange::Append { entry, .. } => {
                appends.push((key, json_text(entry)));
                *counts.entry(key).or_default() += 1;
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
                *counts.entry(key).or_default() -= i64::try_from(drained).unwrap_or(i64::MAX);
            }
        }
    }
    insert_entries(tx, &mut appends).await?;
    Ok(counts)
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

//! Alert intake: dedup on `(source, source_alert_id)` and the alert life cycle.
//!
//! A batch is one transaction, so one fsync covers thousands of alerts; duplicates are
//! detected by the unique index inside the same transaction, never by a prior read that
//! could race with another intake.

use std::collections::HashSet;

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{col, count, from_micros, json_text, micros, parse_json, SqliteStore};
use crate::error::StoreError;
use crate::model::*;

/// An alert's stored payload, for a query `FROM alerts`: it is kept apart, in `alert_payloads`,
/// under the alert's id (a literal for `concat!`).
macro_rules! stored_payload {
    () => {
        "(SELECT payload FROM alert_payloads WHERE alert_payloads.id = alerts.id)"
    };
}

/// [`stored_payload!`] as a constant.
pub(crate) const STORED_PAYLOAD: &str = stored_payload!();

/// The columns [`decode`] reads, for a query `FROM alerts`.
pub(super) const ALERT_COLUMNS: &str = concat!(
    "id, source, source_alert_id, client, alert_name, occurred_at, received_at, state, ",
    stored_payload!(),
    " AS payload"
);

/// Rows per multi-row INSERT: 6 parameters each (and 2 each in the statement that stores their
/// payloads) stays far below SQLite's limit of 32766, and one statement per chunk avoids a round
/// trip to the database thread per row.
const ROWS_PER_STATEMENT: usize = 200;

/// Inside `tx`: stores each of `alerts` unless its (source, source alert id) is stored already,
/// and gives each one's outcome in order (`Store::accept_alerts_batch`).
pub(super) async fn insert_in(
    tx: &mut SqliteConnection,
    alerts: &[NewAlert],
) -> Result<Vec<AcceptOutcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(alerts.len());
    for chunk in alerts.chunks(ROWS_PER_STATEMENT) {
        let first = outcomes.len();
        insert_chunk(tx, chunk, &mut outcomes).await?;
        insert_payloads(tx, chunk, &outcomes[first..]).await?;
    }
    Ok(outcomes)
}

/// Inside `tx`: inserts `chunk`'s alerts (without their payloads) in one statement and adds each
/// one's outcome to `outcomes`, in the order of `chunk`.
async fn insert_chunk(
    tx: &mut SqliteConnection,
    chunk: &[NewAlert],
    outcomes: &mut Vec<AcceptOutcome>,
) -> Result<(), StoreError> {
    let action = "accepting alerts";
    // OR IGNORE rather than ON CONFLICT … DO NOTHING: the statement then can never abort
    // half-way, so SQLite keeps no statement journal for it. Every other constraint holds by
    // construction (the values come from non-null fields, the state is 'queued'), and a row
    // skipped for any reason is looked up below, which fails loudly if it is absent.
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT OR IGNORE INTO alerts (source, source_alert_id, client, alert_name, \
         occurred_at, received_at, state) ",
    );
    query.push_values(chunk, |mut row, alert| {
        row.push_bind(&alert.source)
            .push_bind(&alert.source_alert_id)
            .push_bind(&alert.client)
            .push_bind(&alert.alert_name)
            .push_bind(micros(alert.occurred_at))
            .push_bind(micros(alert.received_at))
            .push("'queued'");
    });
    let done = query
        .build()
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    let inserted = i64::try_from(done.rows_affected()).unwrap_or(i64::MAX);
    // `id` is an INTEGER PRIMARY KEY without AUTOINCREMENT, so each new row gets the largest id
    // plus one; the rows of a VALUES list are inserted in order, and the write lock keeps every
    // other writer out. The rows this statement inserted therefore hold exactly the ids up to
    // the last one, in the order of the chunk.
    // (The last rowid is the connection's previous insert when nothing was inserted.)
    let last = if inserted == 0 {
        0
    } else {
        done.last_insert_rowid()
    };
    let new_ids = (last - inserted + 1)..=last;
    if inserted == chunk.len() as i64 {
        outcomes.extend(new_ids.map(AcceptOutcome::Accepted));
        return Ok(());
    }
    // Some rows were already stored (a source's retry) or repeat an earlier row of the batch:
    // look each one up; an id in this statement's range was inserted by it, and is reported
    // as accepted for its first row only.
    let mut reported: HashSet<i64> = HashSet::new();
    for alert in chunk {
        let id: i64 =
            sqlx::query_scalar("SELECT id FROM alerts WHERE source = ? AND source_alert_id = ?")
                .bind(&alert.source)
                .bind(&alert.source_alert_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::db("looking up a duplicate alert"))?;
        outcomes.push(if new_ids.contains(&id) && reported.insert(id) {
            AcceptOutcome::Accepted(id)
        } else {
            AcceptOutcome::Duplicate(id)
        });
    }
    Ok(())
}

/// Inside `tx`: stores the payload of each alert of `chunk` that `outcomes` (one per alert, in
/// the same order) says was accepted, in one statement.
async fn insert_payloads(
    tx: &mut SqliteConnection,
    chunk: &[NewAlert],
    outcomes: &[AcceptOutcome],
) -> Result<(), StoreError> {
    let accepted: Vec<(AlertId, &str)> = chunk
        .iter()
        .zip(outcomes)
        .filter_map(|(alert, outcome)| match outcome {
            AcceptOutcome::Accepted(id) => Some((*id, alert.payload.as_str())),
            AcceptOutcome::Duplicate(_) => None,
        })
        .collect();
    if accepted.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<Sqlite>::new("INSERT INTO alert_payloads (id, payload) ");
    query.push_values(accepted, |mut row, (id, payload)| {
        row.push_bind(id).push_bind(payload);
    });
    query
        .build()
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("storing alert payloads"))?;
    Ok(())
}

/// The decisions recorded about alert `id` (none when it is not stored).
pub(super) async fn decisions(
    store: &SqliteStore,
    id: AlertId,
) -> Result<Vec<crate::RuleDecision>, StoreError> {
    let text: Option<String> = sqlx::query_scalar("SELECT decisions FROM alerts WHERE id = ?")
        .bind(id)
        .fetch_optional(&store.reader)
        .await
        .map_err(StoreError::db("reading an alert's decisions"))?;
    Ok(text
        .as_deref()
        .map(crate::decision::parse)
        .unwrap_or_default())
}

pub(super) async fn get(store: &SqliteStore, id: AlertId) -> Result<Option<Alert>, StoreError> {
    let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?"))
        .bind(id)
        .fetch_optional(&store.reader)
        .await
        .map_err(StoreError::db("reading an alert"))?;
    row.as_ref().map(decode).transpose()
}

/// The alerts of `ids` that exist, each once, in the order of `ids`, read a few hundred per
/// statement.
pub(super) async fn get_many(
    store: &SqliteStore,
    ids: &[AlertId],
) -> Result<Vec<Alert>, StoreError> {
    /// Ids per statement (one parameter each, well under SQLite's limit).
    const IDS: usize = 500;
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IDS) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE id IN ("
        ));
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        let rows = query
            .build()
            .fetch_all(&store.reader)
            .await
            .map_err(StoreError::db("reading alerts"))?;
        for row in &rows {
            let alert = decode(row)?;
            found.insert(alert.id, alert);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub(super) async fn list(
    store: &SqliteStore,
    filter: AlertFilter,
    limit: u32,
) -> Result<Vec<Alert>, StoreError> {
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE 1 = 1");
    if filter.state.is_some() {
        sql.push_str(" AND state = ?");
    }
    if filter.client.is_some() {
        sql.push_str(" AND client = ?");
    }
    if filter.source.is_some() {
        sql.push_str(" AND source = ?");
    }
    if filter.after_id.is_some() {
        sql.push_str(" AND id > ?");
    }
    sql.push_str(" ORDER BY id LIMIT ?");
    let mut query = sqlx::query(&sql);
    if let Some(state) = filter.state {
        query = query.bind(state.as_str());
    }
    if let Some(client) = filter.client {
        query = query.bind(client);
    }
    if let Some(source) = filter.source {
        query = query.bind(source);
    }
    if let Some(after) = filter.after_id {
        query = query.bind(after);
    }
    let rows = query
        .bind(i64::from(limit))
        .fetch_all(&store.reader)
        .await
        .map_err(StoreError::db("listing alerts"))?;
    rows.iter().map(decode).collect()
}

pub(super) async fn set_state(
    store: &SqliteStore,
    id: AlertId,
    state: AlertState,
) -> Result<(), StoreError> {
    let action = "changing an alert's state";
    let mut tx = store.write(action).await?;
    let current: Option<String> = sqlx::query_scalar("SELECT state FROM alerts WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    let current = current.ok_or_else(|| StoreError::NotFound {
        what: "alert",
        id: id.to_string(),
    })?;
    let from = AlertState::parse(&current)
        .ok_or_else(|| StoreError::Corrupt(format!("alert {id} has unknown state {current:?}")))?;
    if !from.can_become(state) {
        return Err(StoreError::InvalidTransition {
            what: "alert",
            id: id.to_string(),
            from: from.to_string(),
            to: state.to_string(),
        });
    }
    sqlx::query("UPDATE alerts SET state = ? WHERE id = ?")
        .bind(state.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    tx.commit().await.map_err(StoreError::db(action))?;
    if from != state {
        store.claims.lock().await.alerts_left_queue([id]);
    }
    Ok(())
}

pub(super) async fn set_client(
    store: &SqliteStore,
    id: AlertId,
    client: Option<String>,
) -> Result<(), StoreError> {
    let action = "setting an alert's client";
    let mut tx = store.write(action).await?;
    let done = sqlx::query("UPDATE alerts SET client = ? WHERE id = ?")
        .bind(client)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "alert",
            id: id.to_string(),
        });
    }
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn set_payload(
    store: &SqliteStore,
    id: AlertId,
    payload: serde_json::Value,
) -> Result<(), StoreError> {
    let action = "replacing an alert's payload";
    let mut tx = store.write(action).await?;
    let done = sqlx::query("UPDATE alert_payloads SET payload = ? WHERE id = ?")
        .bind(json_text(&payload))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "alert",
            id: id.to_string(),
        });
    }
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn count_by_state(
    store: &SqliteStore,
) -> Result<Vec<(AlertState, u64)>, StoreError> {
    let mut counts = Vec::new();
    // One indexed count per state rather than a GROUP BY over the whole table.
    for state in [
        AlertState::Queued,
        AlertState::Unrouted,
        AlertState::Processed,
    ] {
        counts.push((state, count_in(store, state).await?));
    }
    Ok(counts)
}

pub(super) async fn count_in(store: &SqliteStore, state: AlertState) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE state = ?")
        .bind(state.as_str())
        .fetch_one(&store.reader)
        .await
        .map_err(StoreError::db("counting alerts"))?;
    Ok(count(n))
}

pub(super) fn decode(row: &SqliteRow) -> Result<Alert, StoreError> {
    let state: String = col(row, "state")?;
    let payload: String = col(row, "payload")?;
    Ok(Alert {
        id: col(row, "id")?,
        source: col(row, "source")?,
        source_alert_id: col(row, "source_alert_id")?,
        client: col(row, "client")?,
        alert_name: col(row, "alert_name")?,
        occurred_at: from_micros(col(row, "occurred_at")?, "alerts.occurred_at")?,
        received_at: from_micros(col(row, "received_at")?, "alerts.received_at")?,
        state: AlertState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("alert has unknown state {state:?}")))?,
        payload: parse_json(&payload, "alerts.payload")?,
    })
}

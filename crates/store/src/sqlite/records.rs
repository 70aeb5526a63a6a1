//! Bookkeeping tables: ticket requests, events, settings, and retention across all tables.
//!
//! Retention only ever removes what is finished: processed alerts (the dedup memory),
//! done jobs, old events, old ticket requests and forgotten incidents. Queued and
//! unrouted alerts, unfinished and dead jobs are never pruned, because "nothing accepted
//! is lost" outranks disk space.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::SqlitePool;

use super::{col, count, from_micros, json_text, micros, parse_json, rollups, SqliteStore};
use crate::error::StoreError;
use crate::model::*;
use crate::rollup::Increments;

const DEFAULT_EVENT_LIMIT: u32 = 100;

pub(super) async fn record_ticket_request(
    store: &SqliteStore,
    external_xref: &str,
    incident_key: &str,
    created_at: DateTime<Utc>,
) -> Result<TicketRequest, StoreError> {
    let action = "recording a ticket request";
    let mut tx = store.write(action).await?;
    sqlx::query(
        "INSERT INTO ticket_requests (external_xref, incident_key, created_at) VALUES (?, ?, ?) \
         ON CONFLICT (external_xref) DO NOTHING",
    )
    .bind(external_xref)
    .bind(incident_key)
    .bind(micros(created_at))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    let row: (String, String, i64, Option<i64>) = sqlx::query_as(
        "SELECT external_xref, incident_key, created_at, ticket_id FROM ticket_requests \
         WHERE external_xref = ?",
    )
    .bind(external_xref)
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    tx.commit().await.map_err(StoreError::db(action))?;
    ticket_request(row)
}

pub(super) async fn set_ticket_request_result(
    store: &SqliteStore,
    external_xref: &str,
    ticket_id: i64,
) -> Result<(), StoreError> {
    let action = "recording a ticket request's ticket";
    let mut tx = store.write(action).await?;
    let done = sqlx::query("UPDATE ticket_requests SET ticket_id = ? WHERE external_xref = ?")
        .bind(ticket_id)
        .bind(external_xref)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "ticket request",
            id: external_xref.to_string(),
        });
    }
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn get_ticket_request(
    pool: &SqlitePool,
    external_xref: &str,
) -> Result<Option<TicketRequest>, StoreError> {
    let row: Option<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT external_xref, incident_key, created_at, ticket_id FROM ticket_requests \
         WHERE external_xref = ?",
    )
    .bind(external_xref)
    .fetch_optional(pool)
    .await
    .map_err(StoreError::db("reading a ticket request"))?;
    row.map(ticket_request).transpose()
}

fn ticket_request(
    (external_xref, incident_key, created_at, ticket_id): (String, String, i64, Option<i64>),
) -> Result<TicketRequest, StoreError> {
    Ok(TicketRequest {
        external_xref,
        incident_key,
        created_at: from_micros(created_at, "ticket_requests.created_at")?,
        ticket_id,
    })
}

pub(super) async fn append_event(store: &SqliteStore, event: NewEvent) -> Result<i64, StoreError> {
    let action = "recording an event";
    let mut tx = store.write(action).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO events (code, at, client, subject, message, details) \
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(i64::from(event.code))
    .bind(micros(event.at))
    .bind(&event.client)
    .bind(&event.subject)
    .bind(&event.message)
    .bind(json_text(&event.details))
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    let mut increments = Increments::default();
    increments.event(&event);
    rollups::write_in(&mut tx, &increments).await?;
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(id)
}

pub(super) async fn list_events(
    store: &SqliteStore,
    filter: EventFilter,
) -> Result<Vec<Event>, StoreError> {
    let mut sql = String::from(
        "SELECT id, code, at, client, subject, message, details FROM events WHERE 1 = 1",
    );
    if filter.code.is_some() {
        sql.push_str(" AND code = ?");
    }
    if filter.client.is_some() {
        sql.push_str(" AND client = ?");
    }
    if filter.since.is_some() {
        sql.push_str(" AND at >= ?");
    }
    sql.push_str(" ORDER BY at DESC, id DESC LIMIT ?");
    let mut query = sqlx::query(&sql);
    if let Some(code) = filter.code {
        query = query.bind(i64::from(code));
    }
    if let Some(client) = filter.client {
        query = query.bind(client);
    }
    if let Some(since) = filter.since {
        query = query.bind(micros(since));
    }
    let rows = query
        .bind(i64::from(filter.limit.unwrap_or(DEFAULT_EVENT_LIMIT)))
        .fetch_all(&store.reader)
        .await
        .map_err(StoreError::db("listing events"))?;
    rows.iter()
        .map(|row| {
            let details: String = col(row, "details")?;
            Ok(Event {
                id: col(row, "id")?,
                code: event_code(col(row, "code")?)?,
                at: from_micros(col(row, "at")?, "events.at")?,
                client: col(row, "client")?,
                subject: col(row, "subject")?,
                message: col(row, "message")?,
                details: parse_json(&details, "events.details")?,
            })
        })
        .collect()
}

fn event_code(code: i64) -> Result<u32, StoreError> {
    u32::try_from(code)
        .map_err(|_| StoreError::Corrupt(format!("events.code {code} is out of range")))
}

pub(super) async fn count_events_by_code(
    store: &SqliteStore,
    since: Option<DateTime<Utc>>,
) -> Result<EventCounts, StoreError> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT code, COUNT(*) FROM events WHERE at >= ? GROUP BY code ORDER BY code",
    )
    .bind(since.map(micros).unwrap_or(i64::MIN))
    .fetch_all(&store.reader)
    .await
    .map_err(StoreError::db("counting events"))?;
    rows.into_iter()
        .map(|(code, n)| Ok((event_code(code)?, count(n))))
        .collect()
}

pub(super) async fn get_kv(pool: &SqlitePool, key: &str) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = sqlx::query_scalar("SELECT value FROM kv WHERE key = ?")
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(StoreError::db("reading a setting"))?;
    text.map(|text| parse_json(&text, "kv.value")).transpose()
}

pub(super) async fn put_kv(store: &SqliteStore, key: &str, value: Value) -> Result<(), StoreError> {
    let action = "saving a setting";
    let mut tx = store.write(action).await?;
    write_kv(&mut tx, key, &value).await?;
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn compare_and_put_kv(
    store: &SqliteStore,
    key: &str,
    expected: Option<Value>,
    value: Value,
) -> Result<bool, StoreError> {
    let action = "saving a setting conditionally";
    let mut tx = store.write(action).await?;
    if !compare_and_put_in(&mut tx, key, expected.as_ref(), &value).await? {
        return Ok(false);
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(true)
}

/// Inside `tx`: writes `value` under `key` if the stored value is still `expected` (`None`:
/// absent); `false` and nothing written otherwise.
pub(super) async fn compare_and_put_in(
    tx: &mut sqlx::SqliteConnection,
    key: &str,
    expected: Option<&Value>,
    value: &Value,
) -> Result<bool, StoreError> {
    let action = "saving a setting conditionally";
    let current: Option<String> = sqlx::query_scalar("SELECT value FROM kv WHERE key = ?")
        .bind(key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    let current = current
        .map(|text| parse_json(&text, "kv.value"))
        .transpose()?;
    if current.as_ref() != expected {
        return Ok(false);
    }
    write_kv(tx, key, value).await?;
    Ok(true)
}

async fn write_kv(
    tx: &mut sqlx::SqliteConnection,
    key: &str,
    value: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO kv (key, value) VALUES (?, ?) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(json_text(value))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("saving a setting"))?;
    Ok(())
}

//! Ticket requests, events and settings on PostgreSQL (retention is in `retention`).
//!
//! `compare_and_put_kv` locks the setting's row (or, for an absent one, relies on the primary key
//! refusing a second insert), which is what lets a scheduler run once per cluster: of several
//! processes moving the same marker forward, exactly one succeeds.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{col, count, from_micros, json_text, micros, parse_json, rollups, PostgresStore};
use crate::error::StoreError;
use crate::model::*;
use crate::rollup::Increments;

const DEFAULT_EVENT_LIMIT: u32 = 100;

type TicketRequestRow = (String, String, i64, Option<i64>);

pub(super) async fn record_ticket_request(
    store: &PostgresStore,
    external_xref: &str,
    incident_key: &str,
    created_at: DateTime<Utc>,
) -> Result<TicketRequest, StoreError> {
    let action = "recording a ticket request";
    let mut tx = store.write(action).await?;
    sqlx::query(
        "INSERT INTO ticket_requests (external_xref, incident_key, created_at) \
         VALUES ($1, $2, $3) ON CONFLICT (external_xref) DO NOTHING",
    )
    .bind(external_xref)
    .bind(incident_key)
    .bind(micros(created_at))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    let row: TicketRequestRow = sqlx::query_as(
        "SELECT external_xref, incident_key, created_at, ticket_id FROM ticket_requests \
         WHERE external_xref = $1",
    )
    .bind(external_xref)
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    tx.commit().await.map_err(StoreError::db(action))?;
    ticket_request(row)
}

pub(super) async fn set_ticket_request_result(
    store: &PostgresStore,
    external_xref: &str,
    ticket_id: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE ticket_requests SET ticket_id = $1 WHERE external_xref = $2")
        .bind(ticket_id)
        .bind(external_xref)
        .execute(&store.pool)
        .await
        .map_err(StoreError::db("recording a ticket request's ticket"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "ticket request",
            id: external_xref.to_string(),
        });
    }
    Ok(())
}

pub(super) async fn get_ticket_request(
    store: &PostgresStore,
    external_xref: &str,
) -> Result<Option<TicketRequest>, StoreError> {
    let row: Option<TicketRequestRow> = sqlx::query_as(
        "SELECT external_xref, incident_key, created_at, ticket_id FROM ticket_requests \
         WHERE external_xref = $1",
    )
    .bind(external_xref)
    .fetch_optional(&store.pool)
    .await
    .map_err(StoreError::db("reading a ticket request"))?;
    row.map(ticket_request).transpose()
}

fn ticket_request(
    (external_xref, incident_key, created_at, ticket_id): TicketRequestRow,
) -> Result<TicketRequest, StoreError> {
    Ok(TicketRequest {
        external_xref,
        incident_key,
        created_at: from_micros(created_at, "ticket_requests.created_at")?,
        ticket_id,
    })
}

pub(super) async fn append_event(
    store: &PostgresStore,
    event: NewEvent,
) -> Result<i64, StoreError> {
    let action = "recording an event";
    let mut tx = store.write(action).await?;
    let id = sqlx::query_scalar(
        "INSERT INTO events (code, at, client, subject, message, details) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
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
    // The roll-up counts the event in the transaction that stores it.
    let mut increments = Increments::default();
    increments.event(&event);
    rollups::write_in(&mut tx, &increments).await?;
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(id)
}

pub(super) async fn list_events(
    store: &PostgresStore,
    filter: EventFilter,
) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, code, at, client, subject, message, details FROM events \
         WHERE ($1::int8 IS NULL OR code = $1) AND ($2::text IS NULL OR client = $2) \
           AND ($3::int8 IS NULL OR at >= $3) \
         ORDER BY at DESC, id DESC LIMIT $4",
    )
    .bind(filter.code.map(i64::from))
    .bind(filter.client)
    .bind(filter.since.map(micros))
    .bind(i64::from(filter.limit.unwrap_or(DEFAULT_EVENT_LIMIT)))
    .fetch_all(&store.pool)
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
    store: &PostgresStore,
    since: Option<DateTime<Utc>>,
) -> Result<EventCounts, StoreError> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT code, COUNT(*) FROM events WHERE at >= $1 GROUP BY code ORDER BY code",
    )
    .bind(since.map(micros).unwrap_or(i64::MIN))
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("counting events"))?;
    rows.into_iter()
        .map(|(code, n)| Ok((event_code(code)?, count(n))))
        .collect()
}

pub(super) async fn get_kv(store: &PostgresStore, key: &str) -> Result<Option<Value>, StoreError> {
    let text: Option<String> = sqlx::query_scalar("SELECT value FROM kv WHERE key = $1")
        .bind(key)
        .fetch_optional(&store.pool)
        .await
        .map_err(StoreError::db("reading a setting"))?;
    text.map(|text| parse_json(&text, "kv.value")).transpose()
}

pub(super) async fn put_kv(
    store: &PostgresStore,
    key: &str,
    value: Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO kv (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(json_text(&value))
    .execute(&store.pool)
    .await
    .map_err(StoreError::db("saving a setting"))?;
    Ok(())
}

pub(super) async fn compare_and_put_kv(
    store: &PostgresStore,
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
    tx: &mut sqlx::PgConnection,
    key: &str,
    expected: Option<&Value>,
    value: &Value,
) -> Result<bool, StoreError> {
    let action = "saving a setting conditionally";
    let current: Option<String> =
        sqlx::query_scalar("SELECT value FROM kv WHERE key = $1 FOR UPDATE")
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
    let done = if current.is_none() {
        // Absent: of two processes inserting at once, the primary key lets one through.
        sqlx::query("INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(json_text(value))
            .execute(&mut *tx)
            .await
    } else {
        sqlx::query("UPDATE kv SET value = $2 WHERE key = $1")
            .bind(key)
            .bind(json_text(value))
            .execute(&mut *tx)
            .await
    }
    .map_err(StoreError::db(action))?;
    Ok(done.rows_affected() == 1)
}

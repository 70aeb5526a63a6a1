//! Daily report roll-ups (see [`crate::rollup`]): written in the transaction that decides an alert
//! or appends an event, read by the report generator.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::SqliteConnection;

use super::{count, SqliteStore};
use crate::error::StoreError;
use crate::model::NewEvent;
use crate::rollup::{alert_counts, day_text, RollupKind, RollupRow};

/// Inside `tx`: adds what one alert, decided `processed` for `client`, counts on its day.
pub(super) async fn add_alert_in(
    tx: &mut SqliteConnection,
    client: &str,
    occurred_at: DateTime<Utc>,
    alert_name: &str,
    payload: &Value,
) -> Result<(), StoreError> {
    let mut counts: BTreeMap<(RollupKind, String), i64> = BTreeMap::new();
    for key in alert_counts(alert_name, payload) {
        *counts.entry(key).or_default() += 1;
    }
    let day = day_text(occurred_at);
    for ((kind, name), n) in counts {
        add_in(tx, client, &day, kind, &name, n).await?;
    }
    Ok(())
}

/// Inside `tx`: counts an event of a client on its day.
pub(super) async fn add_event_in(
    tx: &mut SqliteConnection,
    event: &NewEvent,
) -> Result<(), StoreError> {
    let Some(client) = &event.client else {
        return Ok(());
    };
    let day = day_text(event.at);
    add_in(
        tx,
        client,
        &day,
        RollupKind::Event,
        &event.code.to_string(),
        1,
    )
    .await
}

async fn add_in(
    tx: &mut SqliteConnection,
    client: &str,
    day: &str,
    kind: RollupKind,
    name: &str,
    n: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO report_rollups (client, day, kind, name, count) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (client, day, kind, name) DO UPDATE SET count = count + excluded.count",
    )
    .bind(client)
    .bind(day)
    .bind(kind.as_str())
    .bind(name)
    .bind(n)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("counting a report roll-up"))?;
    Ok(())
}

pub(super) async fn read(
    store: &SqliteStore,
    client: &str,
    first_day: NaiveDate,
    last_day: NaiveDate,
) -> Result<Vec<RollupRow>, StoreError> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT day, kind, name, count FROM report_rollups \
         WHERE client = ? AND day >= ? AND day <= ? ORDER BY day, kind, name",
    )
    .bind(client)
    .bind(first_day.format("%Y-%m-%d").to_string())
    .bind(last_day.format("%Y-%m-%d").to_string())
    .fetch_all(&store.reader)
    .await
    .map_err(StoreError::db("reading report roll-ups"))?;
    rows.into_iter()
        .map(|(day, kind, name, n)| {
            Ok(RollupRow {
                client: client.to_string(),
                day: NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| {
                    StoreError::Corrupt(format!("report_rollups.day {day:?} is not a date"))
                })?,
                kind: RollupKind::parse(&kind).ok_or_else(|| {
                    StoreError::Corrupt(format!("report_rollups.kind {kind:?} is unknown"))
                })?,
                name,
                count: count(n),
            })
        })
        .collect()
}

//! Daily report roll-ups on PostgreSQL (see [`crate::rollup`]): counted in the transaction that
//! decides an alert or appends an event, read by the report generator.
//!
//! Counts are added as upserts in (client, day, kind, name) order within a transaction, so two
//! processes adding to the same rows lock them in the same order and never deadlock.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;

use super::{count, PostgresStore};
use crate::error::StoreError;
use crate::model::NewEvent;
use crate::rollup::{alert_counts, day_text, RollupKind, RollupRow};

/// The counts one transaction adds, keyed (client, day, kind, name) so they are written sorted.
#[derive(Debug, Default)]
pub(super) struct Increments(BTreeMap<(String, String, RollupKind, String), i64>);

impl Increments {
    /// Adds what one alert, decided `processed` for `client`, counts on its day.
    pub(super) fn alert(
        &mut self,
        client: &str,
        occurred_at: DateTime<Utc>,
        alert_name: &str,
        payload: &Value,
    ) {
        let day = day_text(occurred_at);
        for (kind, name) in alert_counts(alert_name, payload) {
            *self
                .0
                .entry((client.to_string(), day.clone(), kind, name))
                .or_default() += 1;
        }
    }

    /// Adds an event of a client on its day (nothing for an event without a client).
    pub(super) fn event(&mut self, event: &NewEvent) {
        if let Some(client) = &event.client {
            *self
                .0
                .entry((
                    client.clone(),
                    day_text(event.at),
                    RollupKind::Event,
                    event.code.to_string(),
                ))
                .or_default() += 1;
        }
    }

    /// Inside `tx`: writes the counts, in key order.
    pub(super) async fn write_in(self, tx: &mut PgConnection) -> Result<(), StoreError> {
        for ((client, day, kind, name), n) in self.0 {
            sqlx::query(
                "INSERT INTO report_rollups (client, day, kind, name, count) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client, day, kind, name) \
                 DO UPDATE SET count = report_rollups.count + excluded.count",
            )
            .bind(&client)
            .bind(&day)
            .bind(kind.as_str())
            .bind(&name)
            .bind(n)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("counting a report roll-up"))?;
        }
        Ok(())
    }
}

pub(super) async fn read(
    store: &PostgresStore,
    client: &str,
    first_day: NaiveDate,
    last_day: NaiveDate,
) -> Result<Vec<RollupRow>, StoreError> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT day, kind, name, count FROM report_rollups \
         WHERE client = $1 AND day >= $2 AND day <= $3 \
         ORDER BY day COLLATE \"C\", kind COLLATE \"C\", name COLLATE \"C\"",
    )
    .bind(client)
    .bind(first_day.format("%Y-%m-%d").to_string())
    .bind(last_day.format("%Y-%m-%d").to_string())
    .fetch_all(&store.pool)
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

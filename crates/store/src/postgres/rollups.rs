//! Daily report roll-ups on PostgreSQL (see [`crate::rollup`]): counted in the transaction that
//! decides an alert or appends an event, read by the report generator.
//!
//! Counts are added as upserts in (client, day, kind, name) order within a transaction, so two
//! processes adding to the same rows lock them in the same order and never deadlock.

use chrono::NaiveDate;
use sqlx::PgConnection;

use super::{count, PostgresStore};
use crate::error::StoreError;
use crate::rollup::{Increments, RollupKind, RollupRow};

/// Inside `tx`: adds `increments` to their rows, in key order, in one statement.
pub(super) async fn write_in(
    tx: &mut PgConnection,
    increments: &Increments,
) -> Result<(), StoreError> {
    let mut clients = Vec::new();
    let mut days = Vec::new();
    let mut kinds = Vec::new();
    let mut names = Vec::new();
    let mut counts = Vec::new();
    for (client, day, kind, name, n) in increments.rows() {
        clients.push(client);
        days.push(day);
        kinds.push(kind.as_str());
        names.push(name);
        counts.push(n);
    }
    if clients.is_empty() {
        return Ok(());
    }
    // `WITH ORDINALITY` keeps the rows, and so their locks, in the order given.
    sqlx::query(
        "INSERT INTO report_rollups (client, day, kind, name, count) \
         SELECT c, d, k, n, x FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
           $5::int8[]) WITH ORDINALITY AS r(c, d, k, n, x, ord) ORDER BY ord \
         ON CONFLICT (client, day, kind, name) \
         DO UPDATE SET count = report_rollups.count + excluded.count",
    )
    .bind(clients)
    .bind(days)
    .bind(kinds)
    .bind(names)
    .bind(counts)
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("counting a report roll-up"))?;
    Ok(())
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

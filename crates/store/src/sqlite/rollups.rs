//! Daily report roll-ups (see [`crate::rollup`]): written in the transaction that decides an alert
//! or appends an event, read by the report generator.

use chrono::NaiveDate;
use sqlx::SqliteConnection;

use super::{count, SqliteStore};
use crate::error::StoreError;
use crate::rollup::{Increments, RollupKind, RollupRow};

/// Inside `tx`: adds `increments` to their rows, a few hundred rows per statement.
pub(super) async fn write_in(
    tx: &mut SqliteConnection,
    increments: &Increments,
) -> Result<(), StoreError> {
    /// Rows per statement (five parameters each, well under SQLite's limit).
    const ROWS: usize = 500;
    let rows: Vec<_> = increments.rows().collect();
    for chunk in rows.chunks(ROWS) {
        let mut upsert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO report_rollups (client, day, kind, name, count) ",
        );
        upsert.push_values(chunk, |mut row, (client, day, kind, name, n)| {
            row.push_bind(*client)
                .push_bind(*day)
                .push_bind(kind.as_str())
                .push_bind(*name)
                .push_bind(*n);
        });
        upsert.push(
            " ON CONFLICT (client, day, kind, name) DO UPDATE SET count = count + excluded.count",
        );
        upsert
            .build()
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("counting report roll-ups"))?;
    }
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

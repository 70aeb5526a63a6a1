//! Moving an installation from SQLite to PostgreSQL (`mspbridge migrate --to postgres://…`).
//!
//! Both schemas have the same tables and columns (times as microseconds, JSON as text; SQLite
//! keeps an alert's payload in a table of its own, [`KEPT_APART`]), so the copy moves
//! rows as they are, table by table, in one PostgreSQL transaction: either the whole
//! database arrives or nothing does. Ids are kept (jobs, reports and events are referred to by
//! id), and each identity column then continues after the largest copied id. The target must be
//! empty; a column or table this version does not know is refused rather than silently dropped.

use std::collections::BTreeSet;

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::StoreError;
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;

/// How a column is carried across.
#[derive(Clone, Copy)]
enum Kind {
    /// Nullable 64-bit integer.
    Int,
    /// Nullable text.
    Text,
    /// Nullable boolean (an INTEGER 0/1 in SQLite).
    Bool,
}

use Kind::{Bool, Int, Text};

/// A table's name, its columns, and its identity column if it has one.
type Table = (
    &'static str,
    &'static [(&'static str, Kind)],
    Option<&'static str>,
);

/// Every table with its columns, parents before children; the identity column, if any.
const TABLES: &[Table] = &[
    (
        "alerts",
        &[
            ("id", Int),
            ("source", Text),
            ("source_alert_id", Text),
            ("client", Text),
            ("alert_name", Text),
            ("occurred_at", Int),
            ("received_at", Int),
            ("state", Text),
            ("payload", Text),
            ("decisions", Text),
        ],
        Some("id"),
    ),
    (
        "jobs",
        &[
            ("id", Int),
            ("kind", Text),
            ("serial_key", Text),
            ("payload", Text),
            ("state", Text),
            ("head", Bool),
            ("run_at", Int),
            ("attempts", Int),
            ("lease_owner", Text),
            ("lease_token", Text),
            ("lease_expires_at", Int),
            ("last_error", Text),
            ("idempotency_key", Text),
            ("created_at", Int),
            ("finished_at", Int),
        ],
        Some("id"),
    ),
    (
        "incidents",
        &[
            ("key", Text),
            ("client", Text),
            ("ticket_id", Int),
            ("status", Text),
            ("first_alert_at", Int),
            ("last_alert_at", Int),
            ("alert_count", Int),
            ("buffered", Int),
            ("flush_at", Int),
            ("flood", Bool),
            ("details", Text),
            ("version", Int),
        ],
        None,
    ),
    (
        "incident_buffer",
        &[("position", Int), ("key", Text), ("entry", Text)],
        Some("position"),
    ),
    (
        "incident_history",
        &[
            ("id", Int),
            ("key", Text),
            ("client", Text),
            ("ticket_id", Int),
            ("opened_at", Int),
            ("flood", Bool),
        ],
        Some("id"),
    ),
    (
        "ticket_requests",
        &[
            ("external_xref", Text),
            ("incident_key", Text),
            ("created_at", Int),
            ("ticket_id", Int),
        ],
        None,
    ),
    (
        "events",
        &[
            ("id", Int),
            ("code", Int),
            ("at", Int),
            ("client", Text),
            ("subject", Text),
            ("message", Text),
            ("details", Text),
        ],
        Some("id"),
    ),
    ("kv", &[("key", Text), ("value", Text)], None),
    (
        "systems",
        &[
            ("client", Text),
            ("name", Text),
            ("macs", Text),
            ("sensor", Text),
            ("origin", Text),
            ("first_seen", Int),
            ("last_seen", Int),
        ],
        None,
    ),
    (
        "itglue_organizations",
        &[
            ("instance", Text),
            ("id", Int),
            ("name", Text),
            ("short_name", Text),
            ("imported_at", Int),
        ],
        None,
    ),
    (
        "itglue_contacts",
        &[
            ("instance", Text),
            ("id", Int),
            ("organization_id", Int),
            ("important", Bool),
            ("emails", Text),
        ],
        None,
    ),
    (
        "itglue_configurations",
        &[
            ("instance", Text),
            ("id", Int),
            ("organization_id", Int),
            ("name", Text),
            ("hostname", Text),
            ("macs", Text),
            ("archived", Bool),
        ],
        None,
    ),
    (
        "itglue_staged_organizations",
        &[
            ("import_id", Text),
            ("id", Int),
            ("name", Text),
            ("short_name", Text),
            ("staged_at", Int),
        ],
        None,
    ),
    (
        "itglue_staged_contacts",
        &[
            ("import_id", Text),
            ("id", Int),
            ("organization_id", Int),
            ("important", Bool),
            ("emails", Text),
            ("staged_at", Int),
        ],
        None,
    ),
    (
        "itglue_staged_configurations",
        &[
            ("import_id", Text),
            ("id", Int),
            ("organization_id", Int),
            ("name", Text),
            ("hostname", Text),
            ("macs", Text),
            ("archived", Bool),
            ("staged_at", Int),
        ],
        None,
    ),
    (
        "itglue_mappings",
        &[
            ("instance", Text),
            ("subject_kind", Text),
            ("client", Text),
            ("system", Text),
            ("target_id", Int),
            ("kind", Text),
            ("updated_at", Int),
        ],
        None,
    ),
    (
        "reports",
        &[
            ("id", Int),
            ("client", Text),
            ("name", Text),
            ("period_start", Int),
            ("period_end", Int),
            ("generated_at", Int),
            ("html", Text),
            ("source", Text),
            ("systems", Text),
            ("publish_state", Text),
            ("itglue_asset_id", Int),
            ("last_error", Text),
            ("expires_at", Int),
            ("state_changed_at", Int),
        ],
        Some("id"),
    ),
    (
        "report_rollups",
        &[
            ("client", Text),
            ("day", Text),
            ("kind", Text),
            ("name", Text),
            ("count", Int),
        ],
        None,
    ),
];

/// A column SQLite keeps in a table of its own, under the row's id: the table and column
/// PostgreSQL keeps it in, the SQLite table that holds it, and how SQLite reads it for a row.
struct KeptApart {
    table: &'static str,
    column: &'static str,
    apart: &'static str,
    read: &'static str,
}

/// The columns SQLite keeps apart: an alert's payload.
const KEPT_APART: &[KeptApart] = &[KeptApart {
    table: "alerts",
    column: "payload",
    apart: "alert_payloads",
    read: crate::sqlite::STORED_PAYLOAD,
}];

/// The select list that reads `columns` of a row of SQLite table `table`.
fn sqlite_columns(table: &str, columns: &[&str]) -> String {
    let read = |column: &str| match KEPT_APART
        .iter()
        .find(|kept| kept.table == table && kept.column == column)
    {
        Some(kept) => format!("{} AS {column}", kept.read),
        None => column.to_string(),
    };
    columns
        .iter()
        .map(|column| read(column))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows read and written per statement.
const CHUNK: i64 = 1_000;

/// What a copy moved: rows per table, in copy order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// (table, rows copied).
    pub tables: Vec<(&'static str, u64)>,
}

impl CopyReport {
    /// All rows copied.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Copies every row of the SQLite database `from` into the PostgreSQL database `to` (both are
/// migrated to the newest schema first). Refuses a target that already holds any row.
pub async fn copy_sqlite_to_postgres(
    from: &SqliteStore,
    to: &PostgresStore,
) -> Result<CopyReport, StoreError> {
    check_source_schema(from).await?;
    for (table, _, _) in TABLES {
        let any: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {table})"))
            .fetch_one(to.pool())
            .await
            .map_err(StoreError::db("checking the target database is empty"))?;
        if any {
            return Err(StoreError::InvalidArgument(format!(
                "the target database is not empty (table {table} holds rows); copy only into a \
                 new, empty database"
            )));
        }
    }
    let action = "copying the database";
    let mut tx = to.pool().begin().await.map_err(StoreError::db(action))?;
    let mut report = CopyReport::default();
    for (table, columns, identity) in TABLES {
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let order = match identity {
            Some(id) => id.to_string(),
            None => names.join(", "),
        };
        let select = format!(
            "SELECT {} FROM {table} ORDER BY {order} LIMIT ? OFFSET ?",
            sqlite_columns(table, &names)
        );
        let mut copied = 0u64;
        let mut offset = 0i64;
        loop {
            let rows = sqlx::query(&select)
                .bind(CHUNK)
                .bind(offset)
                .fetch_all(from.reader())
                .await
                .map_err(StoreError::db("reading the SQLite database"))?;
            if rows.is_empty() {
                break;
            }
            insert_rows(&mut tx, table, columns, &rows).await?;
            copied += rows.len() as u64;
            offset += CHUNK;
        }
        if let Some(id) = identity {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{id}'), \
                 COALESCE((SELECT MAX({id}) FROM {table}), 0) + 1, false)"
            ))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
        }
        report.tables.push((table, copied));
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(report)
}

/// Refuses a SQLite database with a table or column this version would not carry across (one
/// written by a newer mspbridge).
async fn check_source_schema(from: &SqliteStore) -> Result<(), StoreError> {
    let action = "reading the SQLite schema";
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(from.reader())
    .await
    .map_err(StoreError::db(action))?;
    for table in tables {
        if let Some(kept) = KEPT_APART.iter().find(|kept| kept.apart == table) {
            check_columns(from, &table, &BTreeSet::from(["id", kept.column])).await?;
            continue;
        }
        let Some((_, columns, _)) = TABLES.iter().find(|(known, _, _)| *known == table) else {
            return Err(StoreError::Unsupported(format!(
                "the SQLite database has a table {table:?} this version cannot copy; copy it \
                 with the mspbridge version that wrote it"
            )));
        };
        let known: BTreeSet<&str> = columns.iter().map(|(name, _)| *name).collect();
        check_columns(from, &table, &known).await?;
    }
    Ok(())
}

/// Refuses SQLite table `table` when it has a column outside `known`.
async fn check_columns(
    from: &SqliteStore,
    table: &str,
    known: &BTreeSet<&str>,
) -> Result<(), StoreError> {
    let present: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(from.reader())
        .await
        .map_err(StoreError::db("reading the SQLite schema"))?;
    match present.iter().find(|name| !known.contains(name.as_str())) {
        Some(extra) => Err(StoreError::Unsupported(format!(
            "the SQLite table {table} has a column {extra:?} this version cannot copy"
        ))),
        None => Ok(()),
    }
}

async fn insert_rows(
    tx: &mut sqlx::PgConnection,
    table: &str,
    columns: &[(&str, Kind)],
    rows: &[SqliteRow],
) -> Result<(), StoreError> {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(n, (_, kind))| {
            let ty = match kind {
                Int => "int8",
                Text => "text",
                Bool => "bool",
            };
            format!("${}::{ty}[]", n + 1)
        })
        .collect();
    let sql = format!(
        "INSERT INTO {table} ({}) SELECT * FROM UNNEST({})",
        names.join(", "),
        arrays.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for (name, kind) in columns {
        let read = |error: sqlx::Error| {
            StoreError::Corrupt(format!("{table}.{name} cannot be read: {error}"))
        };
        query = match kind {
            Int => query.bind(
                rows.iter()
                    .map(|row| row.try_get::<Option<i64>, _>(*name))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(read)?,
            ),
            Text => query.bind(
                rows.iter()
                    .map(|row| row.try_get::<Option<String>, _>(*name))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(read)?,
            ),
            Bool => query.bind(
                rows.iter()
                    .map(|row| row.try_get::<Option<bool>, _>(*name))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(read)?,
            ),
        };
    }
    query
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("writing copied rows to PostgreSQL"))?;
    Ok(())
}

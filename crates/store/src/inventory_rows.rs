//! The inventory's rows, written once for both backends: each backend's row type reads a column
//! through [`Columns`]; the decoders, list encoding, column lists and the check of an automatic
//! mapping are shared.

use futures_util::stream::{BoxStream, StreamExt};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::error::StoreError;
use crate::inventory::*;
use crate::sqlite::from_micros;

/// A stored row that yields the column types the inventory uses.
pub(crate) trait Columns {
    /// The value of `column`, or `Corrupt` naming it.
    fn get<T: Column>(&self, column: &'static str) -> Result<T, StoreError>;
}

/// A column type both backends decode: text, integers, flags and their optional forms.
pub(crate) trait Column:
    for<'r> sqlx::Decode<'r, sqlx::Sqlite>
    + sqlx::Type<sqlx::Sqlite>
    + for<'r> sqlx::Decode<'r, sqlx::Postgres>
    + sqlx::Type<sqlx::Postgres>
{
}

impl<T> Column for T where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
{
}

impl Columns for SqliteRow {
    fn get<T: Column>(&self, column: &'static str) -> Result<T, StoreError> {
        crate::sqlite::col(self, column)
    }
}

impl Columns for PgRow {
    fn get<T: Column>(&self, column: &'static str) -> Result<T, StoreError> {
        crate::postgres::col(self, column)
    }
}

/// Refuses a mapping that `replace_auto_mappings` of `instance` may not write: a manual one, or
/// one of another instance.
pub(crate) fn check_auto_mapping(instance: &str, mapping: &Mapping) -> Result<(), StoreError> {
    if mapping.kind == MappingKind::Auto && mapping.instance == instance {
        return Ok(());
    }
    Err(StoreError::InvalidArgument(format!(
        "replace_auto_mappings of instance {instance:?} got a {} mapping of instance {:?}",
        mapping.kind.as_str(),
        mapping.instance
    )))
}

/// A list column's stored text: a compact JSON array.
pub(crate) fn list_text(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

fn parse_list(text: &str, column: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::Corrupt(format!("{column} is not a JSON list: {error}")))
}

pub(crate) fn system_row(row: &impl Columns) -> Result<System, StoreError> {
    let origin: String = row.get("origin")?;
    Ok(System {
        client: row.get("client")?,
        name: row.get("name")?,
        macs: parse_list(&row.get::<String>("macs")?, "systems.macs")?,
        sensor: row.get("sensor")?,
        origin: SystemOrigin::parse(&origin)
            .ok_or_else(|| StoreError::Corrupt(format!("systems.origin holds {origin:?}")))?,
        first_seen: from_micros(row.get("first_seen")?, "systems.first_seen")?,
        last_seen: from_micros(row.get("last_seen")?, "systems.last_seen")?,
    })
}

pub(crate) fn mapping_row(row: &impl Columns) -> Result<Mapping, StoreError> {
    let subject_kind: String = row.get("subject_kind")?;
    let client: String = row.get("client")?;
    let subject = match subject_kind.as_str() {
        "client" => MappingSubject::Client { client },
        "system" => MappingSubject::System {
            client,
            system: row.get("system")?,
        },
        other => {
            return Err(StoreError::Corrupt(format!(
                "itglue_mappings.subject_kind holds {other:?}"
            )))
        }
    };
    let kind: String = row.get("kind")?;
    let kind = match kind.as_str() {
        "manual" => MappingKind::Manual,
        "auto" => MappingKind::Auto,
        other => {
            return Err(StoreError::Corrupt(format!(
                "itglue_mappings.kind holds {other:?}"
            )))
        }
    };
    Ok(Mapping {
        instance: row.get("instance")?,
        subject,
        target_id: row.get("target_id")?,
        kind,
        updated_at: from_micros(row.get("updated_at")?, "itglue_mappings.updated_at")?,
    })
}

pub(crate) fn organization_row(row: &impl Columns) -> Result<ItGlueOrganizationRecord, StoreError> {
    Ok(ItGlueOrganizationRecord {
        id: row.get("id")?,
        name: row.get("name")?,
        short_name: row.get("short_name")?,
    })
}

pub(crate) fn contact_row(row: &impl Columns) -> Result<ItGlueContactRecord, StoreError> {
    Ok(ItGlueContactRecord {
        id: row.get("id")?,
        organization_id: row.get("organization_id")?,
        important: row.get("important")?,
        emails: parse_list(&row.get::<String>("emails")?, "itglue_contacts.emails")?,
    })
}

pub(crate) fn configuration_row(
    row: &impl Columns,
) -> Result<ItGlueConfigurationRecord, StoreError> {
    Ok(ItGlueConfigurationRecord {
        id: row.get("id")?,
        organization_id: row.get("organization_id")?,
        name: row.get("name")?,
        hostname: row.get("hostname")?,
        macs: parse_list(&row.get::<String>("macs")?, "itglue_configurations.macs")?,
        archived: row.get("archived")?,
    })
}

/// `rows` turned into records one by one, as they arrive.
pub(crate) fn records<'a, R: Send + 'a, T: Send + 'a>(
    rows: BoxStream<'a, Result<R, sqlx::Error>>,
    action: &'static str,
    record: fn(&R) -> Result<T, StoreError>,
) -> BoxStream<'a, Result<T, StoreError>> {
    rows.map(move |row| record(&row.map_err(StoreError::db(action))?))
        .boxed()
}

/// The columns [`system_row`] reads, as a literal for `concat!`.
macro_rules! system_columns {
    () => {
        "client, name, macs, sensor, origin, first_seen, last_seen"
    };
}

pub(crate) use system_columns;

/// The columns [`system_row`] reads.
pub(crate) const SYSTEM_COLUMNS: &str = system_columns!();

/// The columns [`mapping_row`] reads, as a literal for `concat!`.
macro_rules! mapping_columns {
    () => {
        "instance, subject_kind, client, system, target_id, kind, updated_at"
    };
}

pub(crate) use mapping_columns;

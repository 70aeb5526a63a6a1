//! SQLite storage of reports (migrations/sqlite/0300_reports.sql).
//!
//! Listing never reads the HTML column: a dashboard of hundreds of reports must not pull megabytes
//! of documents it does not show. Each write is one short transaction.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;

use super::{col, from_micros, json_text, micros, opt_from_micros, parse_json, SqliteStore};
use crate::error::StoreError;
use crate::reports::*;

const DEFAULT_REPORT_LIMIT: u32 = 100;

const META_COLUMNS: &str = "id, client, name, period_start, period_end, generated_at, source, \
     systems, publish_state, itglue_asset_id, last_error, expires_at, state_changed_at, \
     LENGTH(CAST(html AS BLOB)) AS html_bytes";

fn meta(row: &SqliteRow) -> Result<ReportMeta, StoreError> {
    let source: String = col(row, "source")?;
    let state: String = col(row, "publish_state")?;
    let systems: String = col(row, "systems")?;
    let systems = match parse_json(&systems, "reports.systems")? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(name) => Ok(name),
                other => Err(StoreError::Corrupt(format!(
                    "reports.systems holds a non-string entry {other}"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(StoreError::Corrupt(format!(
                "reports.systems is not a list: {other}"
            )))
        }
    };
    let html_bytes: i64 = col(row, "html_bytes")?;
    Ok(ReportMeta {
        id: col(row, "id")?,
        client: col(row, "client")?,
        name: col(row, "name")?,
        period_start: from_micros(col(row, "period_start")?, "reports.period_start")?,
        period_end: from_micros(col(row, "period_end")?, "reports.period_end")?,
        generated_at: from_micros(col(row, "generated_at")?, "reports.generated_at")?,
        source: ReportSource::parse(&source).ok_or_else(|| {
            StoreError::Corrupt(format!("reports.source holds an unknown value {source:?}"))
        })?,
        systems,
        publish_state: PublishState::parse(&state).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "reports.publish_state holds an unknown value {state:?}"
            ))
        })?,
        itglue_asset_id: col(row, "itglue_asset_id")?,
        last_error: col(row, "last_error")?,
        expires_at: opt_from_micros(col(row, "expires_at")?, "reports.expires_at")?,
        state_changed_at: from_micros(col(row, "state_changed_at")?, "reports.state_changed_at")?,
        html_bytes: u64::try_from(html_bytes).unwrap_or(0),
    })
}

async fn meta_by_id(
    executor: impl sqlx::SqliteExecutor<'_>,
    id: ReportId,
    action: &'static str,
) -> Result<Option<ReportMeta>, StoreError> {
    let row = sqlx::query(&format!("SELECT {META_COLUMNS} FROM reports WHERE id = ?"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .map_err(StoreError::db(action))?;
    row.as_ref().map(meta).transpose()
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn insert_report(&self, report: NewReport) -> Result<ReportMeta, StoreError> {
        let action = "storing a report";
        let mut tx = self.write(action).await?;
        let systems = json_text(&Value::from(report.systems.clone()));
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO reports (client, name, period_start, period_end, generated_at, html, \
             source, systems, publish_state, expires_at, state_changed_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'unpublished', ?, ?) RETURNING id",
        )
        .bind(&report.client)
        .bind(&report.name)
        .bind(micros(report.period_start))
        .bind(micros(report.period_end))
        .bind(micros(report.generated_at))
        .bind(&report.html)
        .bind(report.source.as_str())
        .bind(systems)
        .bind(report.expires_at.map(micros))
        .bind(micros(report.generated_at))
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        let stored = meta_by_id(&mut *tx, id, action).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("report {id} vanished inside its own insert"))
        })?;
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(stored)
    }

    async fn get_report(&self, id: ReportId) -> Result<Option<Report>, StoreError> {
        let action = "reading a report";
        let row = sqlx::query(&format!(
            "SELECT {META_COLUMNS}, html FROM reports WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(StoreError::db(action))?;
        row.map(|row| {
            Ok(Report {
                meta: meta(&row)?,
                html: col(&row, "html")?,
            })
        })
        .transpose()
    }

    async fn list_reports(&self, filter: ReportFilter) -> Result<Vec<ReportMeta>, StoreError> {
        let limit = i64::from(filter.limit.unwrap_or(DEFAULT_REPORT_LIMIT));
        let rows = sqlx::query(&format!(
            "SELECT {META_COLUMNS} FROM reports \
             WHERE (?1 IS NULL OR client = ?1) AND (?2 IS NULL OR publish_state = ?2) \
             ORDER BY id DESC LIMIT ?3"
        ))
        .bind(&filter.client)
        .bind(filter.publish_state.map(|state| state.as_str()))
        .bind(limit)
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::db("listing reports"))?;
        rows.iter().map(meta).collect()
    }

    async fn set_report_publish_state(
        &self,
        id: ReportId,
        update: PublishUpdate,
    ) -> Result<ReportMeta, StoreError> {
        let action = "recording a report's publish state";
        let error = match update.state {
            PublishState::Failed | PublishState::Refused => update.error.clone(),
            _ => None,
        };
        let mut tx = self.write(action).await?;
        let done = sqlx::query(
            "UPDATE reports SET publish_state = ?, \
             itglue_asset_id = COALESCE(?, itglue_asset_id), last_error = ?, \
             state_changed_at = ? WHERE id = ?",
        )
        .bind(update.state.as_str())
        .bind(update.itglue_asset_id)
        .bind(error)
        .bind(micros(update.at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: "report",
                id: id.to_string(),
            });
        }
        let stored =
            meta_by_id(&mut *tx, id, action)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "report",
                    id: id.to_string(),
                })?;
        tx.commit().await.map_err(StoreError::db(action))?;
        Ok(stored)
    }

    async fn report_rollups(
        &self,
        client: &str,
        first_day: chrono::NaiveDate,
        last_day: chrono::NaiveDate,
    ) -> Result<Vec<crate::rollup::RollupRow>, StoreError> {
        super::rollups::read(self, client, first_day, last_day).await
    }
}

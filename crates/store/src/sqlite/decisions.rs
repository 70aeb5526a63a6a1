//! The engine's page commit: everything a page of alerts implies, in one transaction.
//!
//! Taking an alert off the queue means three things together: the alert is marked processed,
//! its incident changes (a buffer grows by a row, a create is pending), and the jobs that carry the
//! change to ConnectWise exist. Written in one transaction they cannot come apart on a crash,
//! and one commit (one fsync) serves a whole page of alerts instead of several per alert.

use super::{from_micros, incidents, jobs, json_text, parse_json, records, rollups, SqliteStore};
use crate::decision;
use crate::error::StoreError;
use crate::model::*;

pub(super) async fn commit(store: &SqliteStore, batch: DecisionBatch) -> Result<(), StoreError> {
    let action = "writing the engine's decisions";
    if batch == DecisionBatch::default() {
        return Ok(());
    }
    let mut tx = store.write(action).await?;
    for outcome in &batch.alerts {
        if !matches!(
            outcome.state,
            AlertState::Processed | AlertState::Unrouted | AlertState::Enriching
        ) {
            return Err(StoreError::InvalidArgument(format!(
                "alert {} cannot be taken off the queue as {}",
                outcome.id, outcome.state
            )));
        }
        let appended = decision::append_text(&outcome.decisions);
        let decided: Option<(String, i64, String)> = sqlx::query_as(&format!(
            "UPDATE alerts SET state = ?, client = ?, payload = COALESCE(?, payload), \
             decisions = {} \
             WHERE id = ? AND state = 'queued' RETURNING alert_name, occurred_at, payload",
            decision::APPEND_SQL_SQLITE
        ))
        .bind(outcome.state.as_str())
        .bind(&outcome.client)
        .bind(outcome.payload.as_ref().map(json_text))
        .bind(&appended)
        .bind(&appended)
        .bind(&appended)
        .bind(outcome.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        let Some((alert_name, occurred_at, payload)) = decided else {
            let current: Option<String> =
                sqlx::query_scalar("SELECT state FROM alerts WHERE id = ?")
                    .bind(outcome.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::db(action))?;
            return Err(match current {
                Some(from) => StoreError::InvalidTransition {
                    what: "alert",
                    id: outcome.id.to_string(),
                    from,
                    to: outcome.state.to_string(),
                },
                None => StoreError::NotFound {
                    what: "alert",
                    id: outcome.id.to_string(),
                },
            });
        };
        // The report roll-ups count the alert in the same transaction that decides it, so a
        // report never misses an alert retention forgot nor counts one twice.
        if let (AlertState::Processed, Some(client)) = (outcome.state, &outcome.client) {
            let occurred_at = from_micros(occurred_at, "alerts.occurred_at")?;
            // A stored payload that is not JSON still counts as an alert of its type.
            let stored;
            let payload = match &outcome.payload {
                Some(payload) => payload,
                None => {
                    stored = parse_json(&payload, "alerts.payload").unwrap_or_default();
                    &stored
                }
            };
            rollups::add_alert_in(&mut tx, client, occurred_at, &alert_name, payload).await?;
        }
    }
    for note in &batch.notes {
        let Some(text) = decision::append_text(&note.decisions) else {
            continue;
        };
        sqlx::query(&format!(
            "UPDATE alerts SET decisions = {} WHERE id IN (SELECT value FROM json_each(?))",
            decision::APPEND_SQL_SQLITE
        ))
        .bind(&text)
        .bind(&text)
        .bind(&text)
        .bind(json_text(&serde_json::json!(note.alerts)))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("recording rule decisions"))?;
    }
    for incident in &batch.incidents {
        incidents::upsert_in(&mut tx, incident).await?;
    }
    if !batch.buffer.is_empty() {
        let written = batch.incidents.iter().map(|incident| incident.key.as_str());
        incidents::change_buffers_in(&mut tx, &batch.buffer, &written.collect()).await?;
    }
    for setting in &batch.settings {
        let written = records::compare_and_put_in(
            &mut tx,
            &setting.key,
            setting.expected.as_ref(),
            &setting.value,
        )
        .await?;
        if !written {
            return Err(StoreError::SettingChanged {
                key: setting.key.clone(),
            });
        }
    }
    for job in &batch.jobs {
        jobs::enqueue_in(&mut tx, job).await?;
    }
    tx.commit().await.map_err(StoreError::db(action))
}

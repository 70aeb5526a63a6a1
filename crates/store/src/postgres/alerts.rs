//! Alert intake on PostgreSQL: dedup on `(source, source_alert_id)` inside the insert itself.
//!
//! A batch is one `INSERT … SELECT FROM UNNEST(…) ON CONFLICT DO NOTHING`: one round trip for
//! thousands of alerts, and a repeat (inside the batch or of a stored alert) is never inserted.
//! The intake advisory lock makes ids follow commit order across processes.

use std::collections::HashMap;

use sqlx::postgres::PgRow;

use super::{
    col, count, from_micros, json_text, micros, notify_work, parse_json, PostgresStore, INTAKE_LOCK,
};
use crate::error::StoreError;
use crate::model::*;

pub(super) const ALERT_COLUMNS: &str =
    "id, source, source_alert_id, client, alert_name, occurred_at, \
                             received_at, state, payload";

#[async_trait::async_trait]
impl crate::group_commit::BatchIntake for PostgresStore {
    /// The alerts in one transaction, each decision batch in its own: PostgreSQL has many
    /// writers, so its engines commit their decisions directly and never send them here.
    async fn commit_group(
        &self,
        alerts: &[NewAlert],
        decisions: &[DecisionBatch],
    ) -> crate::group_commit::GroupOutcome {
        let mut decided = Vec::with_capacity(decisions.len());
        let accepted = accept_batch(self, alerts).await;
        if accepted.is_ok() {
            for batch in decisions {
                decided.push(super::incidents::commit_decisions(self, batch.clone()).await);
            }
        }
        crate::group_commit::GroupOutcome {
            alerts: accepted,
            decisions: decided,
        }
    }
}

pub(super) async fn accept_batch(
    store: &PostgresStore,
    alerts: &[NewAlert],
) -> Result<Vec<AcceptOutcome>, StoreError> {
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    let action = "accepting alerts";
    let mut tx = store.write(action).await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, 0)")
        .bind(INTAKE_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    let sources: Vec<&str> = alerts.iter().map(|a| a.source.as_str()).collect();
    let source_ids: Vec<&str> = alerts.iter().map(|a| a.source_alert_id.as_str()).collect();
    let clients: Vec<Option<&str>> = alerts.iter().map(|a| a.client.as_deref()).collect();
    let names: Vec<&str> = alerts.iter().map(|a| a.alert_name.as_str()).collect();
    let occurred: Vec<i64> = alerts.iter().map(|a| micros(a.occurred_at)).collect();
    let received: Vec<i64> = alerts.iter().map(|a| micros(a.received_at)).collect();
    let payloads: Vec<&str> = alerts.iter().map(|a| a.payload.as_str()).collect();
    let inserted: Vec<(i64, String, String)> = sqlx::query_as(
        "INSERT INTO alerts (source, source_alert_id, client, alert_name, occurred_at, \
         received_at, state, payload) \
         SELECT s, sid, c, n, o, r, 'queued', p \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], \
                     $7::text[]) WITH ORDINALITY AS batch(s, sid, c, n, o, r, p, ord) \
         ORDER BY ord \
         ON CONFLICT (source, source_alert_id) DO NOTHING \
         RETURNING id, source, source_alert_id",
    )
    .bind(&sources)
    .bind(&source_ids)
    .bind(&clients)
    .bind(&names)
    .bind(&occurred)
    .bind(&received)
    .bind(&payloads)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    let mut new: HashMap<(&str, &str), i64> = HashMap::with_capacity(inserted.len());
    for (id, source, source_alert_id) in &inserted {
        new.insert((source.as_str(), source_alert_id.as_str()), *id);
    }
    let mut existing: HashMap<(String, String), i64> = HashMap::new();
    if inserted.len() < alerts.len() {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT a.id, a.source, a.source_alert_id FROM alerts a \
             JOIN UNNEST($1::text[], $2::text[]) AS k(s, sid) \
               ON a.source = k.s AND a.source_alert_id = k.sid",
        )
        .bind(&sources)
        .bind(&source_ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("looking up duplicate alerts"))?;
        existing.extend(rows.into_iter().map(|(id, s, sid)| ((s, sid), id)));
    }
    let mut outcomes = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let key = (alert.source.as_str(), alert.source_alert_id.as_str());
        if let Some(id) = new.remove(&key) {
            outcomes.push(AcceptOutcome::Accepted(id));
            continue;
        }
        let id = inserted
            .iter()
            .find(|(_, s, sid)| (s.as_str(), sid.as_str()) == key)
            .map(|(id, _, _)| *id)
            .or_else(|| {
                existing
                    .get(&(alert.source.clone(), alert.source_alert_id.clone()))
                    .copied()
            })
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "alert {:?} from {:?} was neither stored nor found",
                    alert.source_alert_id, alert.source
                ))
            })?;
        outcomes.push(AcceptOutcome::Duplicate(id));
    }
    if !inserted.is_empty() {
        notify_work(&mut tx).await?;
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(outcomes)
}

/// The decisions recorded about alert `id` (none when it is not stored).
pub(super) async fn decisions(
    store: &PostgresStore,
    id: AlertId,
) -> Result<Vec<crate::RuleDecision>, StoreError> {
    let text: Option<String> = sqlx::query_scalar("SELECT decisions FROM alerts WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(StoreError::db("reading an alert's decisions"))?;
    Ok(text
        .as_deref()
        .map(crate::decision::parse)
        .unwrap_or_default())
}

pub(super) async fn get(store: &PostgresStore, id: AlertId) -> Result<Option<Alert>, StoreError> {
    let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
        .bind(id)
        .fetch_optional(&store.pool)
        .await
        .map_err(StoreError::db("reading an alert"))?;
    row.as_ref().map(decode).transpose()
}

pub(super) async fn get_many(
    store: &PostgresStore,
    ids: &[AlertId],
) -> Result<Vec<Alert>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("reading alerts"))?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        let alert = decode(row)?;
        found.insert(alert.id, alert);
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub(super) async fn list(
    store: &PostgresStore,
    filter: AlertFilter,
    limit: u32,
) -> Result<Vec<Alert>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts \
         WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR client = $2) \
           AND ($3::text IS NULL OR source = $3) AND ($4::int8 IS NULL OR id > $4) \
         ORDER BY id LIMIT $5"
    ))
    .bind(filter.state.map(|state| state.as_str()))
    .bind(filter.client)
    .bind(filter.source)
    .bind(filter.after_id)
    .bind(i64::from(limit))
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("listing alerts"))?;
    rows.iter().map(decode).collect()
}

pub(super) async fn set_state(
    store: &PostgresStore,
    id: AlertId,
    state: AlertState,
) -> Result<(), StoreError> {
    let action = "changing an alert's state";
    let mut tx = store.write(action).await?;
    let current: Option<String> =
        sqlx::query_scalar("SELECT state FROM alerts WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
    let current = current.ok_or_else(|| StoreError::NotFound {
        what: "alert",
        id: id.to_string(),
    })?;
    let from = AlertState::parse(&current)
        .ok_or_else(|| StoreError::Corrupt(format!("alert {id} has unknown state {current:?}")))?;
    if !from.can_become(state) {
        return Err(StoreError::InvalidTransition {
            what: "alert",
            id: id.to_string(),
            from: from.to_string(),
            to: state.to_string(),
        });
    }
    sqlx::query("UPDATE alerts SET state = $1 WHERE id = $2")
        .bind(state.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    if state == AlertState::Queued && from != AlertState::Queued {
        notify_work(&mut tx).await?;
    }
    tx.commit().await.map_err(StoreError::db(action))
}

pub(super) async fn set_client(
    store: &PostgresStore,
    id: AlertId,
    client: Option<String>,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE alerts SET client = $1 WHERE id = $2")
        .bind(client)
        .bind(id)
        .execute(&store.pool)
        .await
        .map_err(StoreError::db("setting an alert's client"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "alert",
            id: id.to_string(),
        });
    }
    Ok(())
}

pub(super) async fn set_payload(
    store: &PostgresStore,
    id: AlertId,
    payload: serde_json::Value,
) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE alerts SET payload = $1 WHERE id = $2")
        .bind(json_text(&payload))
        .bind(id)
        .execute(&store.pool)
        .await
        .map_err(StoreError::db("replacing an alert's payload"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "alert",
            id: id.to_string(),
        });
    }
    Ok(())
}

pub(super) async fn count_by_state(
    store: &PostgresStore,
) -> Result<Vec<(AlertState, u64)>, StoreError> {
    let mut counts = Vec::new();
    for state in [
        AlertState::Queued,
        AlertState::Unrouted,
        AlertState::Processed,
    ] {
        counts.push((state, count_in(store, state).await?));
    }
    Ok(counts)
}

pub(super) async fn count_in(store: &PostgresStore, state: AlertState) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE state = $1")
        .bind(state.as_str())
        .fetch_one(&store.pool)
        .await
        .map_err(StoreError::db("counting alerts"))?;
    Ok(count(n))
}

pub(super) fn decode(row: &PgRow) -> Result<Alert, StoreError> {
    let state: String = col(row, "state")?;
    let payload: String = col(row, "payload")?;
    Ok(Alert {
        id: col(row, "id")?,
        source: col(row, "source")?,
        source_alert_id: col(row, "source_alert_id")?,
        client: col(row, "client")?,
        alert_name: col(row, "alert_name")?,
        occurred_at: from_micros(col(row, "occurred_at")?, "alerts.occurred_at")?,
        received_at: from_micros(col(row, "received_at")?, "alerts.received_at")?,
        state: AlertState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("alert has unknown state {state:?}")))?,
        payload: parse_json(&payload, "alerts.payload")?,
    })
}

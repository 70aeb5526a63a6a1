//! The engine's page commit: everything a page of alerts implies, in one transaction.
//!
//! Taking an alert off the queue means three things together: the alert is marked processed,
//! its incident changes (a buffer grows by a row, a create is pending), and the jobs that carry the
//! change to ConnectWise exist. Written in one transaction they cannot come apart on a crash,
//! and one commit (one fsync) serves a whole page of alerts instead of several per alert. The
//! transaction is the group commit's (see `group.rs`): a page's decisions share it, and its fsync,
//! with the alerts accepted meanwhile.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::SqliteConnection;

use super::alerts::STORED_PAYLOAD;
use super::{incidents, jobs, json_text, records, rollups, rows_text, ClientColumn, SqliteStore};
use crate::decision;
use crate::error::StoreError;
use crate::model::*;
use crate::rollup::Increments;

/// Inside `tx`: everything `batch` writes. On an error the caller rolls back what it wrote.
pub(super) async fn apply_in(
    tx: &mut SqliteConnection,
    batch: &DecisionBatch,
) -> Result<(), StoreError> {
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
    }
    let mut increments = Increments::default();
    for chunk in batch.alerts.chunks(ALERTS_PER_STATEMENT) {
        take_off_queue(tx, chunk, &mut increments).await?;
    }
    rollups::write_in(tx, &increments).await?;
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
    let written = batch.incidents.iter().map(|incident| incident.key.as_str());
    let buffered = incidents::change_buffers_in(tx, &batch.buffer, &written.collect()).await?;
    incidents::write_in(tx, &batch.incidents, &buffered).await?;
    for setting in &batch.settings {
        let written = records::compare_and_put_in(
            tx,
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
        jobs::enqueue_in(tx, job).await?;
    }
    Ok(())
}

/// Once `batch` is committed: its alerts are no longer claimed.
pub(super) async fn left_queue(store: &SqliteStore, batch: &DecisionBatch) {
    store
        .claims
        .lock()
        .await
        .alerts_left_queue(batch.alerts.iter().map(|outcome| outcome.id));
}

/// Alerts taken off the queue by one statement (their outcomes travel as one JSON parameter).
const ALERTS_PER_STATEMENT: usize = 500;

/// Inside `tx`: moves `outcomes`' alerts from `queued` to their new state, appending their rule
/// decisions, stores the payloads the outcomes replace, and adds what the `processed` ones count
/// to `increments`. An alert that is not queued (or does not exist) fails the whole batch.
async fn take_off_queue(
    tx: &mut SqliteConnection,
    outcomes: &[AlertOutcome],
    increments: &mut Increments,
) -> Result<(), StoreError> {
    // Most alerts keep the client they were accepted with (see `ClientColumn`).
    let mut decided = move_alerts(tx, outcomes, ClientColumn::Kept).await?;
    let moved: HashSet<AlertId> = decided.iter().map(|row| row.0).collect();
    let rest = outcomes
        .iter()
        .filter(|outcome| !moved.contains(&outcome.id));
    decided.extend(move_alerts(tx, rest, ClientColumn::Changed).await?);
    replace_payloads(tx, outcomes).await?;
    // The report roll-ups count the alert in the same transaction that decides it, so a report
    // never misses an alert retention forgot nor counts one twice.
    match increments.taken_off_queue(outcomes, decided)? {
        Some(refused) => Err(not_queued(tx, refused).await),
        None => Ok(()),
    }
}

/// A moved alert as the roll-ups read it: id, name, `occurred_at` and, where it counts, the
/// stored payload.
type Moved = (AlertId, String, i64, Option<String>);

/// Inside `tx`: moves the queued alerts among `outcomes` that `which` selects, in one statement
/// (their outcomes travel as one JSON parameter; none when there are none), and returns them. (`+alerts.state` keeps the
/// planner on the id lookup: with the state index it would scan the whole queue per outcome.)
async fn move_alerts<'o>(
    tx: &mut SqliteConnection,
    outcomes: impl IntoIterator<Item = &'o AlertOutcome>,
    which: ClientColumn,
) -> Result<Vec<Moved>, StoreError> {
    // The stored payload comes back only where the roll-ups need it: for an alert processed for
    // a client whose outcome neither replaces its payload nor carries its counts. (A `RETURNING`
    // clause cannot read the outcomes' columns, so the statement reads it for all or none.)
    let mut payload_needed = false;
    let rows: Vec<MoveRow> = outcomes
        .into_iter()
        .inspect(|outcome| {
            payload_needed |= outcome.state == AlertState::Processed
                && outcome.client.is_some()
                && outcome.payload.is_none()
                && outcome.counted.is_none();
        })
        .map(|outcome| MoveRow {
            id: outcome.id,
            state: outcome.state.as_str(),
            client: outcome.client.as_deref(),
            decisions: decision::append_text(&outcome.decisions),
        })
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let (client, matching) = which.sql("alerts", "d.client");
    let payload = if payload_needed {
        STORED_PAYLOAD
    } else {
        "NULL"
    };
    sqlx::query_as(&format!(
        "UPDATE alerts SET state = d.state, {client}decisions = {append} \
         FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.state') AS state, \
                 json_extract(value, '$.client') AS client, \
                 json_extract(value, '$.decisions') AS appended \
               FROM json_each(?)) AS d \
         WHERE alerts.id = d.id AND +alerts.state = 'queued' AND {matching} \
         RETURNING alerts.id, alerts.alert_name, alerts.occurred_at, \
           CASE WHEN alerts.state = 'processed' AND alerts.client IS NOT NULL \
             THEN {payload} END",
        append = decision::APPEND_SQL_SQLITE_COLUMN
    ))
    .bind(rows_text(&rows)?)
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db("writing the engine's decisions"))
}

/// One alert's move as [`move_alerts`]' statement reads it from its JSON parameter (written
/// straight from this struct: no `Value` per alert).
#[derive(Serialize)]
struct MoveRow<'o> {
    id: AlertId,
    state: &'o str,
    client: Option<&'o str>,
    decisions: Option<String>,
}

/// Inside `tx`: stores the payloads `outcomes` replace (an alert enriched with its activity
/// record), in one statement; none when no outcome replaces one.
async fn replace_payloads(
    tx: &mut SqliteConnection,
    outcomes: &[AlertOutcome],
) -> Result<(), StoreError> {
    let replaced: Vec<Value> = outcomes
        .iter()
        .filter_map(|outcome| {
            let payload = outcome.payload.as_ref()?;
            Some(json!({ "id": outcome.id, "payload": json_text(payload) }))
        })
        .collect();
    if replaced.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE alert_payloads SET payload = d.payload \
         FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.payload') AS payload \
               FROM json_each(?)) AS d \
         WHERE alert_payloads.id = d.id",
    )
    .bind(json_text(&Value::Array(replaced)))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db("storing enriched alert payloads"))?;
    Ok(())
}

/// Why `outcome`'s alert could not be taken off the queue.
async fn not_queued(tx: &mut SqliteConnection, outcome: &AlertOutcome) -> StoreError {
    let current = sqlx::query_scalar("SELECT state FROM alerts WHERE id = ?")
        .bind(outcome.id)
        .fetch_optional(&mut *tx)
        .await;
    match current {
        Ok(current) => outcome.refused(current),
        Err(error) => StoreError::db("writing the engine's decisions")(error),
    }
}

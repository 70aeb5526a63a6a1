//! Claims of queued alerts and incident keys on SQLite. One process writes the database, so a
//! write transaction is all the exclusion there is to have; the rules are those of PostgreSQL
//! (see the port), so the same conformance suite holds for both.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::alerts::{decode, ALERT_COLUMNS};
use super::{micros, SqliteStore};
use crate::error::StoreError;
use crate::model::*;

fn until(now: DateTime<Utc>, lease: Duration) -> i64 {
    micros(now).saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
}

pub(super) async fn claim_alert_page(
    store: &SqliteStore,
    owner: &str,
    after: Option<AlertId>,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Alert>, StoreError> {
    let action = "claiming queued alerts";
    let mut tx = store.write(action).await?;
    let rows = sqlx::query(&format!(
        "UPDATE alerts SET claim_owner = ?1, claim_expires_at = ?2 WHERE id IN ( \
           SELECT id FROM alerts WHERE state = 'queued' AND id > ?3 \
           AND (claim_owner IS NULL OR claim_owner = ?1 OR claim_expires_at <= ?4) \
           ORDER BY id LIMIT ?5) \
         RETURNING {ALERT_COLUMNS}"
    ))
    .bind(owner)
    .bind(until(now, lease))
    .bind(after.unwrap_or(0))
    .bind(micros(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    tx.commit().await.map_err(StoreError::db(action))?;
    let mut alerts = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    alerts.sort_by_key(|alert| alert.id);
    Ok(alerts)
}

pub(super) async fn claim_incident_keys(
    store: &SqliteStore,
    owner: &str,
    keys: &[String],
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Vec<String>, StoreError> {
    let mut keys: Vec<&String> = keys.iter().collect();
    keys.sort();
    keys.dedup();
    let action = "claiming incident keys";
    let mut tx = store.write(action).await?;
    let mut held = Vec::with_capacity(keys.len());
    for key in keys {
        let done = sqlx::query(
            "INSERT INTO incident_claims (incident_key, owner, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (incident_key) DO UPDATE SET owner = excluded.owner, \
               expires_at = excluded.expires_at \
             WHERE incident_claims.owner = excluded.owner OR incident_claims.expires_at <= ?4",
        )
        .bind(key)
        .bind(owner)
        .bind(until(now, lease))
        .bind(micros(now))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
        if done.rows_affected() > 0 {
            held.push(key.clone());
        }
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(held)
}

pub(super) async fn release_claims(
    store: &SqliteStore,
    owner: &str,
    alerts: &[AlertId],
    keys: &[String],
) -> Result<(), StoreError> {
    if alerts.is_empty() && keys.is_empty() {
        return Ok(());
    }
    let action = "giving back claims";
    let mut tx = store.write(action).await?;
    for id in alerts {
        sqlx::query(
            "UPDATE alerts SET claim_owner = NULL, claim_expires_at = NULL \
             WHERE id = ? AND claim_owner = ?",
        )
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    }
    for key in keys {
        sqlx::query("DELETE FROM incident_claims WHERE incident_key = ? AND owner = ?")
            .bind(key)
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(action))?;
    }
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(())
}

/// Owners of live alert or incident-key claims, for `lease_owners`.
pub(super) async fn claim_owners(store: &SqliteStore) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT claim_owner FROM alerts WHERE state = 'queued' AND claim_owner IS NOT NULL \
         UNION SELECT owner FROM incident_claims",
    )
    .fetch_all(&store.reader)
    .await
    .map_err(StoreError::db("listing claim owners"))
}

/// Ends every claim of `owner` at `now`, for `expire_leases`; returns how many.
pub(super) async fn expire_claims(
    store: &SqliteStore,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let action = "ending a worker's claims";
    let mut tx = store.write(action).await?;
    let alerts = sqlx::query(
        "UPDATE alerts SET claim_expires_at = ? WHERE state = 'queued' AND claim_owner = ? \
         AND claim_expires_at > ?",
    )
    .bind(micros(now))
    .bind(owner)
    .bind(micros(now))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::db(action))?;
    let keys = sqlx::query("DELETE FROM incident_claims WHERE owner = ?")
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(action))?;
    tx.commit().await.map_err(StoreError::db(action))?;
    Ok(alerts.rows_affected() + keys.rows_affected())
}

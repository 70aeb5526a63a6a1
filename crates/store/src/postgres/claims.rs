//! Claims of queued alerts and incident keys on PostgreSQL, for several processes on one
//! database.
//!
//! * A page is claimed by one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`: rows
//!   another process is claiming at this moment are skipped, never waited for, and the claim
//!   columns are checked again on the locked row, so two processes never hold one alert.
//! * An incident key is claimed by an upsert whose update only happens when the stored claim is
//!   the caller's own or has expired: of two processes, exactly one holds the key.
//! * The engines sharing the queue are rows of `engines`, each renewed by its process until it
//!   runs out; an engine claims only the alerts of its part (`hashtext` of the alert's client and
//!   name, modulo the number of engines), so processes work on different incidents instead of
//!   waiting for each other's incident keys.
//! * A claim is a time, not a connection: when its holder is killed it runs out and the next
//!   claim of any process takes the alerts over. An alert's claim also ends when the alert leaves
//!   `queued` (a trigger clears it), so an alert queued again later is free at once.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::alerts::{decode, ALERT_COLUMNS};
use super::{micros, PostgresStore};
use crate::error::StoreError;
use crate::model::*;

fn until(now: DateTime<Utc>, lease: Duration) -> i64 {
    micros(now).saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
}

pub(super) async fn join_engines(
    store: &PostgresStore,
    owner: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Partition, StoreError> {
    let action = "renewing an engine's part of the queue";
    // Engines whose membership ran out are forgotten here, so the table holds the live ones.
    sqlx::query(
        "WITH gone AS (DELETE FROM engines WHERE expires_at <= $3 AND owner <> $1) \
         INSERT INTO engines (owner, expires_at) VALUES ($1, $2) \
         ON CONFLICT (owner) DO UPDATE SET expires_at = EXCLUDED.expires_at",
    )
    .bind(owner)
    .bind(until(now, ttl))
    .bind(micros(now))
    .execute(&store.pool)
    .await
    .map_err(StoreError::db(action))?;
    let live: Vec<String> = sqlx::query_scalar(
        "SELECT owner FROM engines WHERE expires_at > $1 ORDER BY owner COLLATE \"C\"",
    )
    .bind(micros(now))
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db(action))?;
    Ok(Partition::among(owner, &live))
}

pub(super) async fn leave_engines(store: &PostgresStore, owner: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM engines WHERE owner = $1")
        .bind(owner)
        .execute(&store.pool)
        .await
        .map_err(StoreError::db("ending an engine's part of the queue"))?;
    Ok(())
}

pub(super) async fn claim_alert_page(
    store: &PostgresStore,
    owner: &str,
    partition: Partition,
    after: Option<AlertId>,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Alert>, StoreError> {
    let rows = sqlx::query(&format!(
        "UPDATE alerts SET claim_owner = $1, claim_expires_at = $2 WHERE id IN ( \
           SELECT id FROM alerts WHERE state = 'queued' AND id > $3 \
           AND (claim_owner IS NULL OR claim_owner = $1 OR claim_expires_at <= $4) \
           AND ($6 = 1 OR mod(hashtext(COALESCE(client, '') || '/' || alert_name)::int8 \
                              + 2147483648, $6) = $7) \
           ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED) \
         RETURNING {ALERT_COLUMNS}"
    ))
    .bind(owner)
    .bind(until(now, lease))
    .bind(after.unwrap_or(0))
    .bind(micros(now))
    .bind(i64::from(limit))
    .bind(i64::from(partition.count.max(1)))
    .bind(i64::from(partition.index))
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("claiming queued alerts"))?;
    let mut alerts = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    alerts.sort_by_key(|alert| alert.id);
    Ok(alerts)
}

pub(super) async fn claim_incident_keys(
    store: &PostgresStore,
    owner: &str,
    keys: &[String],
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Vec<String>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // Sorted and distinct, so two processes lock overlapping keys in the same order.
    let mut keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut held: Vec<String> = sqlx::query_scalar(
        "INSERT INTO incident_claims (incident_key, owner, expires_at) \
         SELECT k, $2, $3 FROM UNNEST($1::text[]) AS k ORDER BY k \
         ON CONFLICT (incident_key) DO UPDATE SET owner = EXCLUDED.owner, \
           expires_at = EXCLUDED.expires_at \
         WHERE incident_claims.owner = EXCLUDED.owner OR incident_claims.expires_at <= $4 \
         RETURNING incident_key",
    )
    .bind(&keys)
    .bind(owner)
    .bind(until(now, lease))
    .bind(micros(now))
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("claiming incident keys"))?;
    held.sort();
    Ok(held)
}

pub(super) async fn release_claims(
    store: &PostgresStore,
    owner: &str,
    alerts: &[AlertId],
    keys: &[String],
) -> Result<(), StoreError> {
    let action = "giving back claims";
    if !alerts.is_empty() {
        sqlx::query(
            "UPDATE alerts SET claim_owner = NULL, claim_expires_at = NULL \
             WHERE id = ANY($1) AND claim_owner = $2",
        )
        .bind(alerts)
        .bind(owner)
        .execute(&store.pool)
        .await
        .map_err(StoreError::db(action))?;
    }
    if !keys.is_empty() {
        sqlx::query("DELETE FROM incident_claims WHERE incident_key = ANY($1) AND owner = $2")
            .bind(keys)
            .bind(owner)
            .execute(&store.pool)
            .await
            .map_err(StoreError::db(action))?;
    }
    Ok(())
}

/// Owners of alert or incident-key claims, for `lease_owners`.
pub(super) async fn claim_owners(store: &PostgresStore) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT claim_owner FROM alerts WHERE state = 'queued' AND claim_owner IS NOT NULL \
         UNION SELECT owner FROM incident_claims",
    )
    .fetch_all(&store.pool)
    .await
    .map_err(StoreError::db("listing claim owners"))
}

/// Ends every claim of `owner` at `now`, for `expire_leases`; returns how many.
pub(super) async fn expire_claims(
    store: &PostgresStore,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let action = "ending a worker's claims";
    let alerts = sqlx::query(
        "UPDATE alerts SET claim_expires_at = $1 WHERE state = 'queued' AND claim_owner = $2 \
         AND claim_expires_at > $1",
    )
    .bind(micros(now))
    .bind(owner)
    .execute(&store.pool)
    .await
    .map_err(StoreError::db(action))?;
    let keys = sqlx::query("DELETE FROM incident_claims WHERE owner = $1")
        .bind(owner)
        .execute(&store.pool)
        .await
        .map_err(StoreError::db(action))?;
    leave_engines(store, owner).await?;
    Ok(alerts.rows_affected() + keys.rows_affected())
}

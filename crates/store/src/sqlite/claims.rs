//! Claims of queued alerts and incident keys on SQLite. One process writes a SQLite database, so
//! its claims can only ever be contested by that process's own tasks: they are kept in its
//! memory, under the rules of the port (the same conformance suite holds for PostgreSQL, where
//! claims are rows shared by processes). Nothing is lost with them on a crash: a claim is a lease,
//! and a dead process's leases end with it. Kept out of the database, they cost the engine no
//! write transaction (and no fsync) per page.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::alerts::{decode, ALERT_COLUMNS};
use super::SqliteStore;
use crate::error::StoreError;
use crate::model::*;

/// One live claim: who holds it and until when.
#[derive(Debug)]
struct Claim {
    owner: String,
    until: DateTime<Utc>,
}

impl Claim {
    fn new(owner: &str, now: DateTime<Utc>, lease: Duration) -> Claim {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        Claim {
            owner: owner.to_string(),
            until: now
                .checked_add_signed(lease)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// Whether it keeps `owner` out at `now`.
    fn excludes(&self, owner: &str, now: DateTime<Utc>) -> bool {
        self.owner != owner && self.until > now
    }
}

/// The claims of one store, shared by its clones.
#[derive(Debug, Default)]
pub(super) struct Claims {
    alerts: HashMap<AlertId, Claim>,
    keys: HashMap<String, Claim>,
}

impl Claims {
    /// A claim ends when its alert leaves the queue.
    pub(super) fn alerts_left_queue(&mut self, ids: impl IntoIterator<Item = AlertId>) {
        for id in ids {
            self.alerts.remove(&id);
        }
    }
}

/// Claims `key` for `owner` unless another owner's live claim holds it; an owner renews its own.
fn take<K: Hash + Eq>(
    claims: &mut HashMap<K, Claim>,
    key: K,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> bool {
    if claims
        .get(&key)
        .is_some_and(|claim| claim.excludes(owner, now))
    {
        return false;
    }
    claims.insert(key, Claim::new(owner, now, lease));
    true
}

/// Ends `owner`'s claim on `key` (another owner's is kept).
fn give_back<K: Hash + Eq>(claims: &mut HashMap<K, Claim>, key: &K, owner: &str) {
    if claims.get(key).is_some_and(|claim| claim.owner == owner) {
        claims.remove(key);
    }
}

pub(super) async fn claim_alert_page(
    store: &SqliteStore,
    owner: &str,
    after: Option<AlertId>,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Alert>, StoreError> {
    // Held across the read, so two claimers never pick the same free alerts.
    let mut claims = store.claims.lock().await;
    claims.alerts.retain(|_, claim| claim.until > now);
    let after = after.unwrap_or(0);
    let others = claims
        .alerts
        .iter()
        .filter(|(id, claim)| **id > after && claim.excludes(owner, now))
        .count();
    // Enough rows that, after passing those others hold, `limit` remain if the queue has them.
    let wanted = i64::from(limit) + i64::try_from(others).unwrap_or(i64::MAX);
    let rows = sqlx::query(&format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE state = 'queued' AND id > ? ORDER BY id LIMIT ?"
    ))
    .bind(after)
    .bind(wanted)
    .fetch_all(&store.reader)
    .await
    .map_err(StoreError::db("claiming queued alerts"))?;
    let mut page = Vec::with_capacity(rows.len().min(limit as usize));
    for row in &rows {
        if page.len() == limit as usize {
            break;
        }
        let alert = decode(row)?;
        if take(&mut claims.alerts, alert.id, owner, now, lease) {
            page.push(alert);
        }
    }
    Ok(page)
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
    let mut claims = store.claims.lock().await;
    Ok(keys
        .into_iter()
        .filter(|key| take(&mut claims.keys, key.to_string(), owner, now, lease))
        .cloned()
        .collect())
}

pub(super) async fn release_claims(
    store: &SqliteStore,
    owner: &str,
    alerts: &[AlertId],
    keys: &[String],
) -> Result<(), StoreError> {
    let mut claims = store.claims.lock().await;
    for id in alerts {
        give_back(&mut claims.alerts, id, owner);
    }
    for key in keys {
        give_back(&mut claims.keys, key, owner);
    }
    Ok(())
}

/// Owners of alert or incident-key claims, for `lease_owners`.
pub(super) async fn claim_owners(store: &SqliteStore) -> Vec<String> {
    let claims = store.claims.lock().await;
    claims
        .alerts
        .values()
        .chain(claims.keys.values())
        .map(|claim| claim.owner.clone())
        .collect()
}

/// Ends every claim of `owner`, for `expire_leases`; returns how many were live at `now`.
pub(super) async fn expire_claims(store: &SqliteStore, owner: &str, now: DateTime<Utc>) -> u64 {
    let mut claims = store.claims.lock().await;
    let mut ended = 0;
    claims.alerts.retain(|_, claim| {
        let theirs = claim.owner == owner;
        ended += u64::from(theirs && claim.until > now);
        !theirs
    });
    claims.keys.retain(|_, claim| {
        let theirs = claim.owner == owner;
        ended += u64::from(theirs);
        !theirs
    });
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_of_an_endless_lease_does_not_overflow() {
        let claim = Claim::new("a", Utc::now(), Duration::MAX);
        assert!(claim.excludes("b", Utc::now()));
        assert!(!claim.excludes("a", Utc::now()));
    }
}

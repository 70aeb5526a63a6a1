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
    /// The engines sharing the queue, until when.
    engines: HashMap<String, DateTime<Utc>>,
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

pub(super) async fn join_engines(
    store: &SqliteStore,
    owner: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<Partition, StoreError> {
    let mut claims = store.claims.lock().await;
    claims
        .engines
        .insert(owner.to_string(), Claim::new(owner, now, ttl).until);
    claims.engines.retain(|_, until| *until > now);
    let mut live: Vec<String> = claims.engines.keys().cloned().collect();
    live.sort();
    Ok(Partition::among(owner, &live))
}

pub(super) async fn leave_engines(store: &SqliteStore, owner: &str) -> Result<(), StoreError> {
    store.claims.lock().await.engines.remove(owner);
    Ok(())
}

/// Whether an alert of `client` (as given at intake) named `name` is in `partition`.
fn in_partition(partition: Partition, client: Option<&str>, name: &str) -> bool {
    if partition.count <= 1 {
        return true;
    }
    // FNV-1a: stable, and enough to spread names evenly.
    let bytes = client
        .unwrap_or("")
        .bytes()
        .chain([b'/'])
        .chain(name.bytes());
    let hash = bytes.fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % partition.count == partition.index
}

pub(super) async fn claim_alert_page(
    store: &SqliteStore,
    owner: &str,
    partition: Partition,
    after: Option<AlertId>,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Result<Vec<Alert>, StoreError> {
    // Held across the reads, so two claimers never pick the same free alerts.
    let mut claims = store.claims.lock().await;
    claims.alerts.retain(|_, claim| claim.until > now);
    let limit = limit as usize;
    let mut after = after.unwrap_or(0);
    let mut page = Vec::with_capacity(limit);
    // Rows are read in batches past the alerts another owner holds or another part takes.
    let batch = i64::try_from(limit.max(100)).unwrap_or(i64::MAX);
    while page.len() < limit {
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE state = 'queued' AND id > ? \
             ORDER BY id LIMIT ?"
        ))
        .bind(after)
        .bind(batch)
        .fetch_all(&store.reader)
        .await
        .map_err(StoreError::db("claiming queued alerts"))?;
        let last_batch = rows.len() < usize::try_from(batch).unwrap_or(usize::MAX);
        for row in &rows {
            if page.len() == limit {
                break;
            }
            let alert = decode(row)?;
            after = alert.id;
            if in_partition(partition, alert.client.as_deref(), &alert.alert_name)
                && take(&mut claims.alerts, alert.id, owner, now, lease)
            {
                page.push(alert);
            }
        }
        if last_batch {
            break;
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
    claims.engines.remove(owner);
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

//! Sharing the queue with other processes on the same database: the engines split the queue
//! into parts (each renews its membership every few seconds, and takes the alerts of its own
//! part), a page of queued alerts is claimed (never handed to two processes at once), and so is
//! every incident key the page's alerts belong to, so one incident is decided by one process at a
//! time. Claims are leases
//! (`[jobs] lease`): those of a process that dies run out and another process takes the work
//! over. The optimistic incident versions of `commit_decisions` stay the safety net underneath.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mspbridge_store::{Alert as StoredAlert, AlertId, Partition, StoreError};

use super::pipeline::Pipeline;

/// How soon the engine looks again at alerts it passed because another process held their
/// incident key (that process gives the key back as soon as its page is written).
const KEY_HELD_RETRY: Duration = Duration::from_millis(500);

/// How often an engine renews its membership of the engines sharing the queue, and so how soon
/// it sees one join or leave.
pub(super) const MEMBERSHIP_RENEWAL: Duration = Duration::from_secs(2);

/// How long a membership lasts without renewal: the part of an engine that stopped renewing
/// (killed, cut off from the database) passes to the others after this.
const MEMBERSHIP_TTL: Duration = Duration::from_secs(10);

impl Pipeline {
    /// This engine's part of the queue, as its last renewal found it (the whole queue for an
    /// engine that never renewed: one driven without its background task).
    fn partition(&self) -> Partition {
        *self.membership()
    }

    fn membership(&self) -> std::sync::MutexGuard<'_, Partition> {
        self.membership
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Renews this engine's membership and takes the part it now has; a new part wakes the engine,
    /// since alerts another engine was to take may be waiting in it. A failure keeps the part it
    /// had (the store itself is failing, and the next renewal tries again).
    pub(crate) async fn renew_membership(&self) {
        let joined = self
            .base
            .store
            .join_engines(&self.worker_id, self.base.now(), MEMBERSHIP_TTL)
            .await;
        let partition = match joined {
            Ok(partition) => partition,
            Err(error) => {
                tracing::warn!(%error, "cannot renew this engine's part of the queue");
                return;
            }
        };
        let before = std::mem::replace(&mut *self.membership(), partition);
        if before != partition {
            tracing::info!(
                engines = partition.count,
                part = partition.index,
                "engines sharing the queue changed; this one takes its part"
            );
            self.wake.notify_one();
        }
    }

    /// Gives this engine's part back at once (the engine is stopping).
    pub(crate) async fn leave_membership(&self) {
        if let Err(error) = self.base.store.leave_engines(&self.worker_id).await {
            tracing::warn!(%error, "cannot give back this engine's part of the queue; it runs out");
        }
    }

    /// Claims for this process up to `limit` queued alerts of its part after `cursor`, ascending
    /// id.
    pub(super) async fn claim_queued_page(
        &self,
        cursor: Option<AlertId>,
        limit: u32,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        let partition = self.partition();
        self.base
            .store
            .claim_alert_page(
                &self.worker_id,
                partition,
                cursor,
                self.base.now(),
                self.claim_lease,
                limit,
            )
            .await
    }

    /// Claims the incident keys of a page (alert id → its incident key, `None` for an alert
    /// that opens no incident). Returns the keys now held, to give back with
    /// [`Pipeline::release_incident_keys`] once the page is written, and the alerts to pass: those
    /// whose key another process holds. Their claims are given back at once, for that process to
    /// take them, and this engine looks at the queue again shortly (its pass ends with that page).
    pub(super) async fn hold_incident_keys(
        &self,
        page: &[(AlertId, Option<String>)],
    ) -> Result<(Vec<String>, BTreeSet<AlertId>), StoreError> {
        let mut by_key: BTreeMap<&str, Vec<AlertId>> = BTreeMap::new();
        for (id, key) in page {
            if let Some(key) = key {
                by_key.entry(key.as_str()).or_default().push(*id);
            }
        }
        if by_key.is_empty() {
            return Ok((Vec::new(), BTreeSet::new()));
        }
        let wanted: Vec<String> = by_key.keys().map(|key| key.to_string()).collect();
        let held = self
            .base
            .store
            .claim_incident_keys(&self.worker_id, &wanted, self.base.now(), self.claim_lease)
            .await?;
        let held_set: BTreeSet<&str> = held.iter().map(String::as_str).collect();
        let passed: BTreeSet<AlertId> = by_key
            .iter()
            .filter(|(key, _)| !held_set.contains(*key))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        if !passed.is_empty() {
            tracing::debug!(
                passed = passed.len(),
                "alerts passed: another process holds their incident keys"
            );
            let ids: Vec<AlertId> = passed.iter().copied().collect();
            self.base
                .store
                .release_claims(&self.worker_id, &ids, &[])
                .await?;
            let wake = self.wake.clone();
            tokio::spawn(async move {
                tokio::time::sleep(KEY_HELD_RETRY).await;
                wake.notify_one();
            });
        }
        Ok((held, passed))
    }

    /// Gives back incident keys held for a page; a failure is logged (the claims then run out
    /// with their lease).
    pub(super) async fn release_incident_keys(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        if let Err(error) = self
            .base
            .store
            .release_claims(&self.worker_id, &[], keys)
            .await
        {
            tracing::warn!(%error, "cannot give back incident keys; they expire with their lease");
        }
    }
}

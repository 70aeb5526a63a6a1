//! Sharing the queue with other processes on the same database: a page of queued alerts is
//! claimed (never handed to two processes at once), and so is every incident key the page's
//! alerts belong to, so one incident is decided by one process at a time. Claims are leases
//! (`[jobs] lease`): those of a process that dies run out and another process takes the work
//! over. The optimistic incident versions of `commit_decisions` stay the safety net underneath.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use mspbridge_store::{Alert as StoredAlert, AlertId, StoreError};

use super::pipeline::Pipeline;

/// How soon the engine looks again at alerts it passed because another process held their
/// incident key (that process gives the key back as soon as its page is written).
const KEY_HELD_RETRY: Duration = Duration::from_millis(500);

impl Pipeline {
    /// Claims for this process up to `limit` queued alerts after `cursor`, ascending id.
    pub(super) async fn claim_queued_page(
        &self,
        cursor: Option<AlertId>,
        limit: u32,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        self.base
            .store
            .claim_alert_page(
                &self.worker_id,
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

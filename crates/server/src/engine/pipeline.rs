//! Taking alerts off the queue a page at a time: enrichment (rule 2), routing (rule 3), the
//! machines an alert names learned as systems, then the page's decisions (see [`super::decide`])
//! written in one transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify};

use mspbridge_core::alert::{Alert, AlertKey};
use mspbridge_core::config::{Config, SourceKind};
use mspbridge_core::events;
use mspbridge_core::rules::naming;
use mspbridge_core::rules::routing::{self, Routing};
use mspbridge_core::text;
use mspbridge_store::rollup::{alert_counts, RollupKind};
use mspbridge_store::{
    Alert as StoredAlert, AlertId, AlertState, Partition, RuleDecision, StoreError,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::base::Base;
use super::decide::{Decisions, RouteExtras};
use super::enrich::{Enricher, Enrichment};
use super::error::EngineError;
use super::explain;
use crate::jobs::{new_job, EnrichAlert, Job};
use crate::metrics;

/// How long a system sighting is remembered before the inventory is looked at again. Shorter
/// than the hour the inventory itself lets pass before refreshing `last_seen`, so skipping a
/// remembered sighting never skips a write the inventory would have made.
const SYSTEM_SIGHTING_MEMORY: chrono::Duration = chrono::Duration::minutes(30);

/// Remembered sightings above which the stale ones are forgotten.
const SYSTEM_SIGHTINGS_KEPT: usize = 50_000;

/// Queued alerts taken per page; due jobs run between pages, so a backlog never starves them.
/// A page's fixed cost (its incidents read and written, its commit) is shared by this many
/// alerts, and its alerts are in memory at once: 250 drains a backlog almost as fast as 500 and
/// nearly twice as fast as 100, for 11 MB more peak memory than 100 (BENCHMARKS.md §4, §5).
const ALERT_PAGE: u32 = 250;

/// Times one alert is decided again after other writers changed what it was decided on.
const MAX_CONFLICT_RETRIES: usize = 16;

/// Whether `error` means another writer changed what a decision was based on.
fn is_race(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Conflict { .. }
            | StoreError::SettingChanged { .. }
            | StoreError::InvalidTransition { .. }
    )
}

/// An alert ready for the rules: decoded, enriched and routed.
struct Prepared {
    id: AlertId,
    alert: Alert,
    /// Client and alert key; `None` when unrouted.
    route: Option<(String, AlertKey)>,
    /// What the matched `[[routes]]` entry and severity map set.
    extras: RouteExtras,
    /// The alert with its fetched record, to be stored with the decision.
    payload: Option<Value>,
    /// What a routed alert counts in its client's roll-ups, from the stored payload already
    /// parsed here (the store would otherwise read it back); `None` when `payload` replaces it.
    counted: Option<Vec<(RollupKind, String)>>,
    /// Its record could not be fetched now: it waits (`enriching`) for this job to fetch it.
    wait: Option<EnrichAlert>,
    /// Auditor has no record with its RID (a *Test run*): it leaves the queue with no ticket.
    discard: bool,
    /// The enrichment and routing decisions, stored with the alert's outcome.
    explained: Vec<RuleDecision>,
}

/// The intake pipeline: takes queued alerts a page at a time, enriches, names and routes them,
/// learns the machines they name, decides them (see [`super::decide`]) and writes the page.
pub(crate) struct Pipeline {
    pub(super) base: Base,
    pub(super) enricher: Enricher,
    /// The host name for `%Computer%`.
    pub(super) host_name: String,
    /// Alerts are taken off the queue by one task at a time, in id order.
    pub(super) alerts_lock: Mutex<()>,
    /// This process's name in alert and incident-key claims.
    pub(super) worker_id: String,
    /// How long those claims last (`[jobs] lease`).
    pub(super) claim_lease: Duration,
    /// Wakes the engine's background task.
    pub(super) wake: Arc<Notify>,
    /// Machines lately recorded as systems, by (client, lower-cased name), with when.
    known_systems: StdMutex<HashMap<(String, String), DateTime<Utc>>>,
    /// This engine's part of the queue among the engines sharing the database.
    pub(super) membership: StdMutex<Partition>,
    /// The page taken and prepared while the previous one was written.
    prefetched: StdMutex<Option<Prefetched>>,
}

/// A page taken ahead: what it was taken after, and under which configuration.
struct Prefetched {
    after: Option<AlertId>,
    config: Arc<Config>,
    page: (Vec<Prepared>, AlertId),
}

impl Pipeline {
    pub(super) fn new(
        base: Base,
        enricher: Enricher,
        host_name: String,
        worker_id: String,
        claim_lease: Duration,
        wake: Arc<Notify>,
    ) -> Pipeline {
        Pipeline {
            base,
            enricher,
            host_name,
            alerts_lock: Mutex::new(()),
            worker_id,
            claim_lease,
            wake,
            known_systems: StdMutex::new(HashMap::new()),
            membership: StdMutex::new(Partition::WHOLE),
            prefetched: StdMutex::new(None),
        }
    }

    /// Processes one page of queued alerts (at most `ALERT_PAGE`) with ids above `*cursor`, in id
    /// order, and moves the cursor past them; returns how many were taken off the queue, or
    /// `None` when there was nothing after the cursor. An alert that fails for a reason of its own
    /// stays queued and is passed by the cursor, so one bad alert does not hold the others up.
    ///
    /// While a page is written, the next one is taken and prepared (decoded, enriched, routed),
    /// so the engine's work and the database's overlap; it is decided only after the page before
    /// it is stored, and used by the next call if that call continues from the same cursor under
    /// the same configuration (its claims are the engine's own, so a page not used is simply
    /// taken again).
    pub(crate) async fn process_queued_page(
        &self,
        cursor: &mut Option<AlertId>,
    ) -> Result<Option<usize>, EngineError> {
        let _one_at_a_time = self.alerts_lock.lock().await;
        let config = self.base.config();
        let ahead = self
            .prefetched()
            .take()
            .filter(|ahead| ahead.after == *cursor && Arc::ptr_eq(&ahead.config, &config));
        let taken = match ahead {
            Some(ahead) => Some(ahead.page),
            // Claimed, so processes sharing the database take disjoint pages.
            None => self.take_page(*cursor, &config).await?,
        };
        let Some((mut page, last)) = taken else {
            return Ok(None);
        };
        *cursor = Some(last);
        // One incident key is worked by one process at a time: alerts whose key another
        // process holds are passed (and given back) for it to take.
        let keys: Vec<(AlertId, Option<String>)> = page
            .iter()
            .map(|p| (p.id, p.route.as_ref().map(|(_, key)| key.to_string())))
            .collect();
        let (held, passed) = self.hold_incident_keys(&keys).await?;
        page.retain(|prepared| !passed.contains(&prepared.id));
        self.learn_systems(&page).await;
        if !passed.is_empty() {
            let taken = self.commit_page(&page, &config).await;
            self.release_incident_keys(&held).await;
            // Another process is deciding those incidents: this pass ends here instead of sweeping
            // the rest of the queue; the engine looks again shortly.
            return taken.map(|_| None);
        }
        let (taken, next) = tokio::join!(
            self.commit_page(&page, &config),
            self.take_page(Some(last), &config)
        );
        self.release_incident_keys(&held).await;
        match next {
            Ok(Some(next)) => {
                *self.prefetched() = Some(Prefetched {
                    after: Some(last),
                    config,
                    page: next,
                })
            }
            Ok(None) => {}
            // Taken again by the next call, which reports the failure if it lasts.
            Err(error) => tracing::debug!(%error, "the next page could not be taken ahead"),
        }
        taken.map(Some)
    }

    /// Gives back the claims of a page taken ahead and not used (the engine is stopping), so
    /// another process takes those alerts at once instead of after the claims' lease.
    pub(super) async fn give_back_prefetched(&self) {
        let Some(Prefetched {
            page: (page, _), ..
        }) = self.prefetched().take()
        else {
            return;
        };
        let ids: Vec<AlertId> = page.iter().map(|prepared| prepared.id).collect();
        if let Err(error) = self
            .base
            .store
            .release_claims(&self.worker_id, &ids, &[])
            .await
        {
            tracing::warn!(%error, "cannot give back the alerts taken ahead; their claims run out");
        }
    }

    /// The page taken ahead, if any.
    fn prefetched(&self) -> std::sync::MutexGuard<'_, Option<Prefetched>> {
        self.prefetched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims the page of queued alerts after `cursor` and prepares each of them; `None` when
    /// there is none, else the prepared alerts and the id the cursor moves to.
    async fn take_page(
        &self,
        cursor: Option<AlertId>,
        config: &Config,
    ) -> Result<Option<(Vec<Prepared>, AlertId)>, EngineError> {
        let batch = self.claim_queued_page(cursor, ALERT_PAGE).await?;
        let Some(last) = batch.last().map(|stored| stored.id) else {
            return Ok(None);
        };
        let mut page = Vec::with_capacity(batch.len());
        // Sources whose Auditor failed in this page: their other alerts wait without a call.
        let mut failing = HashSet::new();
        for stored in batch {
            let alert_id = stored.id;
            match self.prepare(stored, config, &mut failing).await {
                Ok(prepared) => page.push(prepared),
                // The store itself failing stops the pass; it is retried at the next wake-up.
                Err(EngineError::Store(error)) => return Err(EngineError::Store(error)),
                // Anything else concerns this alert only: it stays queued, the others go on.
                Err(error) => {
                    tracing::error!(alert_id, %error, "alert left queued; retried at the next run");
                }
            }
        }
        Ok(Some((page, last)))
    }

    /// Decides the whole page against one view of the store and writes it in one transaction;
    /// if something else changed an incident or flood state meanwhile, decides alert by alert.
    async fn commit_page(&self, page: &[Prepared], config: &Config) -> Result<usize, EngineError> {
        let mut decisions = Decisions::new(self.base.store.clone());
        decisions
            .read_incidents(page.iter().filter_map(|prepared| {
                let (_, key) = prepared.route.as_ref()?;
                Some(key.as_str())
            }))
            .await?;
        for prepared in page {
            self.decide_prepared(&mut decisions, prepared, config)
                .await?;
        }
        match self
            .base
            .store
            .commit_decisions(decisions.into_batch())
            .await
        {
            Ok(()) => {
                self.count_taken(page);
                Ok(page.len())
            }
            Err(error) if is_race(&error) => {
                tracing::debug!(%error, "page changed concurrently; deciding alert by alert");
                // Another process sharing the database may have taken (part of) the same page:
                // only the alerts still queued are decided again.
                let ids: Vec<AlertId> = page.iter().map(|prepared| prepared.id).collect();
                let still_queued: BTreeSet<AlertId> = self
                    .base
                    .store
                    .get_alerts(&ids)
                    .await?
                    .into_iter()
                    .filter(|alert| alert.state == AlertState::Queued)
                    .map(|alert| alert.id)
                    .collect();
                let mut done = 0;
                for prepared in page.iter().filter(|p| still_queued.contains(&p.id)) {
                    match self.commit_one(prepared, config).await {
                        Ok(true) => done += 1,
                        Ok(false) => {}
                        Err(EngineError::Store(error)) => return Err(EngineError::Store(error)),
                        Err(error) => tracing::error!(
                            alert_id = prepared.id,
                            %error,
                            "alert left queued; retried at the next run"
                        ),
                    }
                }
                Ok(done)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// One alert's decision in its own transaction, decided again while others keep changing
    /// what it depends on; `false` if the alert had already left the queue.
    async fn commit_one(&self, prepared: &Prepared, config: &Config) -> Result<bool, EngineError> {
        for _ in 0..MAX_CONFLICT_RETRIES {
            let mut decisions = Decisions::new(self.base.store.clone());
            self.decide_prepared(&mut decisions, prepared, config)
                .await?;
            match self
                .base
                .store
                .commit_decisions(decisions.into_batch())
                .await
            {
                Ok(()) => {
                    self.count_taken(std::slice::from_ref(prepared));
                    return Ok(true);
                }
                Err(StoreError::InvalidTransition { .. }) => {
                    tracing::info!(alert_id = prepared.id, "alert already taken off the queue");
                    return Ok(false);
                }
                Err(error) if is_race(&error) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EngineError::Contended {
            key: prepared
                .route
                .as_ref()
                .map_or_else(String::new, |(_, key)| key.to_string()),
        })
    }

    async fn decide_prepared(
        &self,
        decisions: &mut Decisions,
        prepared: &Prepared,
        config: &Config,
    ) -> Result<(), EngineError> {
        for decision in &prepared.explained {
            decisions.explain(decision.clone());
        }
        if let Some(enrich) = &prepared.wait {
            decisions.take(
                prepared.id,
                AlertState::Enriching,
                prepared.alert.client.clone(),
                None,
                None,
            );
            let now = self.base.now();
            decisions.jobs.push(new_job(
                Job::EnrichAlert(enrich.clone()),
                &format!("alert/{}", prepared.id),
                now,
                format!("enrich:{}", prepared.id),
                now,
            ));
            return Ok(());
        }
        if prepared.discard {
            decisions.take(
                prepared.id,
                AlertState::Processed,
                prepared.alert.client.clone(),
                None,
                None,
            );
            return Ok(());
        }
        match &prepared.route {
            Some((client, key)) => {
                self.decide(
                    decisions,
                    prepared.id,
                    &prepared.alert,
                    client,
                    key,
                    &prepared.extras,
                    config,
                )
                .await?;
                decisions.take(
                    prepared.id,
                    AlertState::Processed,
                    Some(client.clone()),
                    prepared.payload.clone(),
                    prepared.counted.clone(),
                );
            }
            None => decisions.take(
                prepared.id,
                AlertState::Unrouted,
                prepared.alert.client.clone(),
                prepared.payload.clone(),
                None,
            ),
        }
        Ok(())
    }

    /// Metrics and events of alerts once their decisions are stored.
    fn count_taken(&self, page: &[Prepared]) {
        for prepared in page.iter().filter(|prepared| {
            prepared.route.is_none() && prepared.wait.is_none() && !prepared.discard
        }) {
            metrics::count(metrics::ALERTS_UNROUTED);
            tracing::warn!(alert_id = prepared.id, "alert unrouted");
        }
    }

    /// Decodes, enriches (rule 2) and routes (rule 3) one alert. An unrouted alert is an event
    /// here; it leaves the queue as `unrouted` with the page's commit.
    async fn prepare(
        &self,
        stored: StoredAlert,
        config: &Config,
        failing: &mut HashSet<String>,
    ) -> Result<Prepared, EngineError> {
        let mut alert = decode_alert(&stored);
        let source = config.source(&alert.source);
        // Enrichment first: an alert still waiting for its record is neither named nor routed.
        let mut explained = Vec::new();
        let enriched = match self
            .enricher
            .enrich_in_page(&mut alert, source, stored.id, failing)
            .await
        {
            Enrichment::NotNeeded => {
                let netwrix =
                    source.is_some_and(|source| source.kind == SourceKind::NetwrixAuditor);
                if let Some(why) = alert.record_unavailable().filter(|_| netwrix) {
                    explained.push(explain::record_given_up(self.base.now(), &alert, why));
                }
                false
            }
            Enrichment::Fetched => {
                explained.push(explain::record_fetched(self.base.now(), &alert));
                true
            }
            Enrichment::Wait(job) => {
                let give_up = source
                    .map(|source| source.enrich_give_up)
                    .unwrap_or_default();
                let explained = vec![explain::record_waits(
                    self.base.now(),
                    &alert,
                    give_up,
                    stored.received_at,
                )];
                return Ok(Prepared {
                    id: stored.id,
                    alert,
                    route: None,
                    extras: RouteExtras::default(),
                    payload: None,
                    counted: None,
                    wait: Some(job),
                    discard: false,
                    explained,
                });
            }
            Enrichment::UnknownRecord => {
                let explained = vec![explain::discarded(self.base.now(), &alert)];
                return Ok(Prepared {
                    id: stored.id,
                    alert,
                    route: None,
                    extras: RouteExtras::default(),
                    payload: None,
                    counted: None,
                    wait: None,
                    discard: true,
                    explained,
                });
            }
        };
        // Enrichment is over here (record fetched, given up or never needed): a Netwrix alert
        // named only by its AlertID gets its mapped name, one from its record, or "not available".
        let renamed = match source.filter(|source| source.kind == SourceKind::NetwrixAuditor) {
            Some(source) => naming::netwrix_alert_name(&alert, &source.alert_names, true)
                .map(|name| alert.alert_name = name)
                .is_some(),
            None => false,
        };
        let decision = routing::decide(&alert, source, config);
        let extras = RouteExtras {
            route: decision.route.as_ref().map(|route| route.name.clone()),
            ticket: decision.ticket.clone(),
        };
        let route = match decision.routing {
            Routing::Routed { client, reason } => {
                tracing::debug!(alert_id = stored.id, %client, %reason, "alert routed");
                alert.client = Some(client.clone());
                let key = AlertKey::for_alert(&alert, &client, decision.alert_key.as_ref());
                explained.push(explain::routed(
                    self.base.now(),
                    &client,
                    key.as_str(),
                    &reason,
                ));
                Some((client, key, reason))
            }
            Routing::Unrouted { reason } => {
                explained.push(explain::unrouted(self.base.now(), &alert, &reason));
                self.base
                    .event(
                        events::ALERT_UNROUTED,
                        None,
                        Some(format!("alert {}", stored.id)),
                        format!(
                            "alert \"{}\" from {} is unrouted: {reason}",
                            text::clean_line(&alert.alert_name),
                            alert.source
                        ),
                        json!({"alert_id": stored.id, "source": alert.source,
                           "route": extras.route}),
                    )
                    .await;
                None
            }
        };
        // The stored alert keeps what routing decided: its record, its name and which route
        // matched (a key the alert shape ignores when it is read back).
        let payload = (enriched || renamed || extras.route.is_some()).then(|| {
            let mut value = serde_json::to_value(&alert).unwrap_or_default();
            if let (Some(object), Some((_, _, reason))) = (value.as_object_mut(), &route) {
                object.insert(
                    "routing".to_string(),
                    json!({"route": extras.route, "reason": reason}),
                );
            }
            value
        });
        let counted = (route.is_some() && payload.is_none())
            .then(|| alert_counts(&stored.alert_name, &stored.payload));
        Ok(Prepared {
            id: stored.id,
            alert,
            route: route.map(|(client, key, _)| (client, key)),
            extras,
            payload,
            counted,
            wait: None,
            discard: false,
            explained,
        })
    }

    /// The machines the page's alerts name become systems of their clients (IT Glue
    /// auto-mapping). Sightings recorded lately are skipped from memory, so a storm costs no
    /// inventory read per alert; a failure is logged and never holds the alerts up.
    async fn learn_systems(&self, page: &[Prepared]) {
        let now = self.base.now();
        let mut by_client: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        {
            let known = self
                .known_systems
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for prepared in page {
                let Some((client, _)) = &prepared.route else {
                    continue;
                };
                for record in &prepared.alert.records {
                    let names = record
                        .workstation
                        .as_deref()
                        .into_iter()
                        .chain([record.where_.as_str()]);
                    for name in names.filter(|name| !name.trim().is_empty()) {
                        let seen = known.get(&(client.clone(), name.to_lowercase()));
                        if seen.is_some_and(|at| now - *at < SYSTEM_SIGHTING_MEMORY) {
                            continue;
                        }
                        by_client.entry(client.as_str()).or_default().insert(name);
                    }
                }
            }
        }
        for (client, names) in by_client {
            let names: Vec<&str> = names.into_iter().collect();
            let learned = crate::itglue::learn_systems_from_alert(
                self.base.store.as_ref(),
                client,
                &names,
                now,
            )
            .await;
            match learned {
                Ok(_) => {
                    let mut known = self
                        .known_systems
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    if known.len() >= SYSTEM_SIGHTINGS_KEPT {
                        // Forget what would be looked up again anyway, so memory stays bounded.
                        known.retain(|_, at| now - *at < SYSTEM_SIGHTING_MEMORY);
                    }
                    for name in names {
                        known.insert((client.to_string(), name.to_lowercase()), now);
                    }
                }
                Err(error) => {
                    tracing::warn!(%client, %error, "could not record the systems alerts named")
                }
            }
        }
    }
}

/// The alert a stored row holds; a payload that is not one (written by hand or by an older
/// version) still yields an alert from the row's columns.
pub(crate) fn decode_alert(stored: &StoredAlert) -> Alert {
    let mut alert: Alert =
        // Read from the stored value in place: no copy of the payload per alert.
        Alert::deserialize(&stored.payload).unwrap_or_else(|_| Alert {
            source: stored.source.clone(),
            source_alert_id: stored.source_alert_id.clone(),
            alert_name: stored.alert_name.clone(),
            client: stored.client.clone(),
            occurred_at: stored.occurred_at,
            received_at: stored.received_at,
            records: Vec::new(),
            fields: BTreeMap::new(),
        });
    alert.received_at = stored.received_at;
    if alert.client.is_none() {
        alert.client = stored.client.clone();
    }
    alert
}

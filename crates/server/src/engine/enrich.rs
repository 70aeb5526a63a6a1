//! Rule 2, enrichment: a Netwrix alert arrives with only its ids and gets its activity record from
//! the Auditor Integration API before any rule sees it.
//!
//! The page of queued alerts tries each fetch once, with no waiting. When Auditor cannot answer
//! (5xx, timeout, refused connection, TLS failure) the alert leaves the queue as `enriching`
//! together with an `alert.enrich` job, in the page's one transaction, and the page goes on: the
//! other alerts of that source wait the same way without a call, every other source and every
//! ConnectWise job carry on. The job retries with the job backoff; once Auditor answers, the alert
//! is queued again with its record and is decided like any other. Only when the source's
//! `enrich_give_up` has passed since the alert was received does it go on without its record,
//! marked so that its ticket says the record could not be fetched and why (never blank fields).
//! A RID Auditor does not know (the *Test run* of a response action sends sample ids) opens no
//! ticket: the alert is recorded as processed with one event naming its source and client.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mspbridge_connectors::netwrix::{self, AuditorClient, AuditorError};
use mspbridge_core::alert::{ActivityRecord, Alert, Detail, FIELD_RECORD_UNAVAILABLE};
use mspbridge_core::config::{SourceConfig, SourceKind};
use mspbridge_core::events;
use mspbridge_core::rules::routing::{self, Routing};
use mspbridge_store::{AlertId, AlertState};
use serde_json::json;
use tokio::sync::Notify;

use super::base::Base;
use super::effects::store_failure;
use super::pipeline::decode_alert;
use crate::jobs::{Claimed, EnrichAlert, JobFailure};

/// How long an alert waits for its record when its source is no longer configured.
const DEFAULT_GIVE_UP: Duration = Duration::from_secs(24 * 3600);

/// What enrichment made of an alert in the page.
pub(super) enum Enrichment {
    /// Not a Netwrix alert waiting for a record.
    NotNeeded,
    /// The record was fetched and is in the alert.
    Fetched,
    /// Auditor could not answer: the alert waits for this job.
    Wait(EnrichAlert),
    /// Auditor has no record with the alert's RID: no ticket.
    UnknownRecord,
}

/// Rule 2: the page's one fetch per alert and the `alert.enrich` job.
#[derive(Clone)]
pub(crate) struct Enricher {
    pub(super) base: Base,
    /// Auditor clients by source name.
    pub(super) auditors: Arc<HashMap<String, AuditorClient>>,
    /// Wakes the engine when an alert is queued again.
    pub(super) wake: Arc<Notify>,
}

impl Enricher {
    /// Rule 2 inside the page: one fetch, no waiting (see the module docs). `failing` holds the
    /// sources whose Auditor already failed in this page.
    pub(super) async fn enrich_in_page(
        &self,
        alert: &mut Alert,
        source: Option<&SourceConfig>,
        alert_id: AlertId,
        failing: &mut HashSet<String>,
    ) -> Enrichment {
        let Some(source) = source.filter(|source| source.kind == SourceKind::NetwrixAuditor) else {
            return Enrichment::NotNeeded;
        };
        if !alert.records.is_empty() || alert.fields.contains_key(FIELD_RECORD_UNAVAILABLE) {
            return Enrichment::NotNeeded;
        }
        let Some(rid) = alert.netwrix_record_id().map(str::to_string) else {
            return Enrichment::NotNeeded;
        };
        let wait = EnrichAlert {
            alert_id,
            source: source.name.clone(),
            rid: rid.clone(),
            client: alert.client.clone(),
        };
        let Some(auditor) = self.auditors.get(&source.name) else {
            return Enrichment::Wait(wait);
        };
        if failing.contains(&source.name) {
            return Enrichment::Wait(wait);
        }
        match auditor.search_by_rid(&rid).await {
            Ok(Some(record)) => {
                apply_record(alert, record);
                Enrichment::Fetched
            }
            Ok(None) => {
                self.unknown_record(alert, source, &rid, alert_id).await;
                Enrichment::UnknownRecord
            }
            Err(error) => {
                tracing::warn!(
                    alert_id,
                    source = %source.name,
                    %error,
                    "activity record not fetched; the alert waits for it"
                );
                failing.insert(source.name.clone());
                Enrichment::Wait(wait)
            }
        }
    }

    /// The `alert.enrich` job: fetch the record of an alert waiting for it, then queue it again.
    pub(super) async fn run_enrich(
        &self,
        claimed: &Claimed,
        job: &EnrichAlert,
    ) -> Result<(), JobFailure> {
        let store = &self.base.store;
        let Some(stored) = store.get_alert(job.alert_id).await.map_err(store_failure)? else {
            return Ok(());
        };
        if stored.state != AlertState::Enriching {
            // An earlier attempt finished its work and was cut off before completing.
            return Ok(());
        }
        let mut alert = decode_alert(&stored);
        if !alert.records.is_empty() || alert.fields.contains_key(FIELD_RECORD_UNAVAILABLE) {
            return self.requeue(job.alert_id).await;
        }
        let config = self.base.config();
        let source = config.source(&job.source);
        let give_up = source.map_or(DEFAULT_GIVE_UP, |source| source.enrich_give_up);
        let give_up_at = mspbridge_core::clock::add(stored.received_at, give_up);
        let (problem, class) = match self.auditors.get(&job.source) {
            None => (
                format!(
                    "no Netwrix Auditor connection is configured for source \"{}\"",
                    job.source
                ),
                mspbridge_connectors::ErrorClass::Retryable,
            ),
            Some(auditor) => match auditor.search_by_rid(&job.rid).await {
                Ok(Some(record)) => {
                    apply_record(&mut alert, record);
                    self.store_alert(job.alert_id, &alert).await?;
                    tracing::info!(
                        alert_id = job.alert_id,
                        attempt = claimed.attempt,
                        "activity record fetched; the alert goes on"
                    );
                    return self.requeue(job.alert_id).await;
                }
                Ok(None) => {
                    if let Some(source) = source {
                        self.unknown_record(&alert, source, &job.rid, job.alert_id)
                            .await;
                    }
                    store
                        .set_alert_state(job.alert_id, AlertState::Processed)
                        .await
                        .map_err(store_failure)?;
                    return Ok(());
                }
                Err(error) => (describe_auditor_error(&job.rid, &error), error.class()),
            },
        };
        let now = self.base.now();
        if now < give_up_at {
            return Err(JobFailure {
                message: format!("alert {}: {problem}", job.alert_id),
                // Whatever Auditor answered, the alert waits for its record until it gives up.
                class: match class {
                    mspbridge_connectors::ErrorClass::Permanent => {
                        mspbridge_connectors::ErrorClass::Retryable
                    }
                    other => other,
                },
                unreachable: true,
                retry_until: Some(give_up_at),
            });
        }
        self.give_up(job, &mut alert, &problem).await
    }

    /// The alert goes on without its record, marked with why.
    pub(super) async fn give_up(
        &self,
        job: &EnrichAlert,
        alert: &mut Alert,
        problem: &str,
    ) -> Result<(), JobFailure> {
        alert
            .fields
            .insert(FIELD_RECORD_UNAVAILABLE.to_string(), problem.to_string());
        self.store_alert(job.alert_id, alert).await?;
        tracing::warn!(alert_id = job.alert_id, %problem, "alert goes on without its activity record");
        let source_client = self
            .base
            .config()
            .source(&job.source)
            .and_then(|source| source.client.clone());
        self.base
            .event(
                events::ENRICHMENT_FAILED,
                alert.client.clone().or(source_client),
                Some(format!("alert {}", job.alert_id)),
                format!(
                "{problem}; the alert goes on without its activity record and its ticket says so"
            ),
                json!({"alert_id": job.alert_id, "rid": job.rid, "source": job.source}),
            )
            .await;
        self.requeue(job.alert_id).await
    }

    /// After the runner gave up an `alert.enrich` job: the alert goes on without its record.
    pub(super) async fn give_up_dead_enrichment(
        &self,
        job: &EnrichAlert,
        failure: &JobFailure,
    ) -> Result<(), JobFailure> {
        let Some(stored) = self
            .base
            .store
            .get_alert(job.alert_id)
            .await
            .map_err(store_failure)?
        else {
            return Ok(());
        };
        if stored.state != AlertState::Enriching {
            return Ok(());
        }
        let mut alert = decode_alert(&stored);
        self.give_up(job, &mut alert, &failure.message).await
    }

    async fn store_alert(&self, alert_id: AlertId, alert: &Alert) -> Result<(), JobFailure> {
        let payload = serde_json::to_value(alert).unwrap_or_default();
        self.base
            .store
            .set_alert_payload(alert_id, payload)
            .await
            .map_err(store_failure)
    }

    async fn requeue(&self, alert_id: AlertId) -> Result<(), JobFailure> {
        self.base
            .store
            .set_alert_state(alert_id, AlertState::Queued)
            .await
            .map_err(store_failure)?;
        self.wake.notify_one();
        Ok(())
    }

    /// An event for a RID Auditor does not know: the source and the client, nothing more.
    async fn unknown_record(
        &self,
        alert: &Alert,
        source: &SourceConfig,
        rid: &str,
        alert_id: AlertId,
    ) {
        let config = self.base.config();
        let client = match routing::route(alert, Some(source), &config) {
            Routing::Routed { client, .. } => Some(client),
            Routing::Unrouted { .. } => alert.client.clone(),
        };
        tracing::info!(alert_id, source = %source.name, "unknown activity record; no ticket");
        self.base
            .event(
                events::ENRICHMENT_FAILED,
                client.clone(),
                Some(format!("alert {alert_id}")),
                format!(
                    "Netwrix Auditor has no activity record with RID {rid} (a Test run of the \
                 response action sends sample ids); no ticket is opened"
                ),
                json!({"source": source.name, "client": client}),
            )
            .await;
    }
}

/// Puts a fetched Auditor record into the alert (and its time, when the alert had none better).
fn apply_record(alert: &mut Alert, record: netwrix::ActivityRecord) {
    if let Ok(when) = record.when_parsed() {
        alert.occurred_at = when.with_timezone(&Utc);
    }
    let monitoring_plan = record.monitoring_plan_name().map(str::to_string);
    alert.records.push(ActivityRecord {
        who: record.who,
        action: record.action,
        object_type: record.object_type,
        what: record.what,
        when: record.when,
        where_: record.where_,
        workstation: record.workstation,
        details: record
            .details
            .into_iter()
            .map(|detail| {
                let after = match (&detail.before, &detail.after) {
                    (None, None) => detail.message.clone(),
                    _ => detail.after.clone(),
                };
                Detail {
                    property: detail.property_name,
                    before: detail.before,
                    after,
                }
            })
            .collect(),
        data_source: record.data_source,
        monitoring_plan,
        item: record.item,
    });
}

fn describe_auditor_error(rid: &str, error: &AuditorError) -> String {
    format!("fetching the activity record {rid} from Netwrix Auditor failed: {error}")
}

//! Taking alerts off the queue: enrichment (rule 2), routing (rule 3), and the repeat and flood
//! decisions (rules 4 and 5) written into the incident together with the jobs they imply.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mspbridge_connectors::netwrix::{self, AuditorError};
use mspbridge_core::alert::{ActivityRecord, Alert, AlertKey, Detail};
use mspbridge_core::clock::{add, sub};
use mspbridge_core::config::{Config, SourceConfig, SourceKind};
use mspbridge_core::events;
use mspbridge_core::rules::content;
use mspbridge_core::rules::correlation::{self, EarlierTicket};
use mspbridge_core::rules::flood::{self, FloodDecision};
use mspbridge_core::rules::repeat::{self, IncidentState, RepeatDecision};
use mspbridge_core::rules::routing::{self, Routing};
use mspbridge_core::template::{truncate_utf16, SUMMARY_MAX_UTF16_UNITS};
use mspbridge_store::{
    Alert as StoredAlert, AlertFilter, AlertId, AlertState, Incident, NewEvent, NewJob, StoreError,
};
use serde_json::json;

use super::error::EngineError;
use super::incident::{
    flood_kv_key, BufferedAlert, FloodState, IncidentDetails, STATUS_PENDING_CREATE,
};
use super::jobs::{self, CreateTicket, Flush};
use super::{metrics, Engine};

/// Queued alerts taken per page; due jobs run between pages, so a backlog never starves them.
const ALERT_PAGE: u32 = 100;

/// Conflicting writers an alert tolerates before it is left queued for the next run.
const MAX_CONFLICT_RETRIES: usize = 16;

/// Outcome of one attempt to write a decision: jobs to enqueue, or "reload and decide again".
enum Written {
    Jobs(Vec<NewJob>),
    Retry,
}

impl Engine {
    /// Processes one page of queued alerts (at most `ALERT_PAGE`) with ids above `*cursor`, in id
    /// order, and moves the cursor past them; returns how many were taken off the queue, or
    /// `None` when there was nothing after the cursor. An alert that fails for a reason of its own
    /// stays queued and is passed by the cursor, so one bad alert does not hold the others up.
    pub(crate) async fn process_queued_page(
        &self,
        cursor: &mut Option<AlertId>,
    ) -> Result<Option<usize>, EngineError> {
        let _one_at_a_time = self.shared.alerts_lock.lock().await;
        let filter = AlertFilter {
            state: Some(AlertState::Queued),
            after_id: *cursor,
            ..AlertFilter::default()
        };
        let batch = self.shared.store.list_alerts(filter, ALERT_PAGE).await?;
        if batch.is_empty() {
            return Ok(None);
        }
        let mut done = 0;
        for stored in batch {
            *cursor = Some(stored.id);
            let alert_id = stored.id;
            match self.process_alert(stored).await {
                Ok(()) => done += 1,
                // The store itself failing stops the pass; it is retried at the next wake-up.
                Err(EngineError::Store(error)) => return Err(EngineError::Store(error)),
                // Anything else concerns this alert only: it stays queued, the others go on.
                Err(error) => {
                    tracing::error!(alert_id, %error, "alert left queued; retried at the next run");
                }
            }
        }
        Ok(Some(done))
    }

    pub(crate) async fn requeue_unrouted(&self) -> Result<usize, EngineError> {
        let _one_at_a_time = self.shared.alerts_lock.lock().await;
        let store = &self.shared.store;
        let mut requeued = 0;
        let mut after_id = None;
        loop {
            let filter = AlertFilter {
                state: Some(AlertState::Unrouted),
                after_id,
                ..AlertFilter::default()
            };
            let batch = store.list_alerts(filter, 100).await?;
            if batch.is_empty() {
                return Ok(requeued);
            }
            for stored in batch {
                after_id = Some(stored.id);
                store.set_alert_state(stored.id, AlertState::Queued).await?;
                requeued += 1;
            }
        }
    }

    async fn process_alert(&self, stored: StoredAlert) -> Result<(), EngineError> {
        let config = self.config();
        let mut alert = decode_alert(&stored);
        let source = config.source(&alert.source);
        self.enrich(&mut alert, source, stored.id).await?;
        let client = match routing::route(&alert, source, &config) {
            Routing::Routed { client, reason } => {
                tracing::debug!(alert_id = stored.id, %client, %reason, "alert routed");
                client
            }
            Routing::Unrouted { reason } => {
                let store = &self.shared.store;
                store
                    .set_alert_state(stored.id, AlertState::Unrouted)
                    .await?;
                metrics::count(metrics::ALERTS_UNROUTED);
                tracing::warn!(alert_id = stored.id, %reason, "alert unrouted");
                self.event(
                    events::ALERT_UNROUTED,
                    None,
                    Some(format!("alert {}", stored.id)),
                    format!(
                        "alert \"{}\" from {} is unrouted: {reason}",
                        alert.alert_name, alert.source
                    ),
                    json!({"alert_id": stored.id, "source": alert.source}),
                )
                .await;
                return Ok(());
            }
        };
        if stored.client.as_deref() != Some(client.as_str()) {
            self.shared
                .store
                .set_alert_client(stored.id, Some(client.clone()))
                .await?;
        }
        alert.client = Some(client.clone());
        // The machines the alert names become systems of the client (IT Glue auto-mapping).
        let machines: Vec<&str> = alert
            .records
            .iter()
            .flat_map(|record| {
                record
                    .workstation
                    .as_deref()
                    .into_iter()
                    .chain([record.where_.as_str()])
            })
            .collect();
        if let Err(error) = crate::itglue::learn_systems_from_alert(
            self.shared.store.as_ref(),
            &client,
            &machines,
            self.now(),
        )
        .await
        {
            tracing::warn!(alert_id = stored.id, %error, "could not record the alert's systems");
        }
        let template = source.and_then(|source| source.alert_key.as_ref());
        let key = AlertKey::for_alert(&alert, &client, template);
        self.apply_rules(stored.id, &alert, &client, &key, &config)
            .await?;
        self.shared
            .store
            .set_alert_state(stored.id, AlertState::Processed)
            .await?;
        Ok(())
    }

    /// Rule 2: fetches the activity record of a Netwrix alert. An unknown RID (Auditor's *Test
    /// run*) or an unreachable Auditor is an event; the alert goes on with what it has.
    async fn enrich(
        &self,
        alert: &mut Alert,
        source: Option<&SourceConfig>,
        alert_id: AlertId,
    ) -> Result<(), EngineError> {
        let Some(source) = source.filter(|source| source.kind == SourceKind::NetwrixAuditor) else {
            return Ok(());
        };
        if !alert.records.is_empty() {
            return Ok(());
        }
        let Some(rid) = alert.netwrix_record_id().map(str::to_string) else {
            return Ok(());
        };
        let problem = match self.shared.auditors.get(&source.name) {
            None => format!(
                "no Netwrix Auditor connection is configured for source \"{}\"",
                source.name
            ),
            Some(auditor) => {
                let policy = self.shared.options.enrichment_retry;
                let fetched = netwrix::with_retries(&policy, || auditor.search_by_rid(&rid)).await;
                match fetched {
                    Ok(Some(record)) => {
                        apply_record(alert, record);
                        // Kept with the alert: a flush reads it from there, a restart does not
                        // fetch it again.
                        let payload = serde_json::to_value(&*alert).unwrap_or_default();
                        self.shared
                            .store
                            .set_alert_payload(alert_id, payload)
                            .await?;
                        return Ok(());
                    }
                    Ok(None) => format!(
                        "Netwrix Auditor has no activity record with RID {rid} (a Test run of the \
                         response action sends sample ids)"
                    ),
                    Err(error) => describe_auditor_error(&rid, &error),
                }
            }
        };
        tracing::warn!(alert_id, %problem, "alert processed without its activity record");
        self.event(
            events::ENRICHMENT_FAILED,
            alert.client.clone(),
            Some(format!("alert {alert_id}")),
            format!("{problem}; the alert is processed with what it has"),
            json!({"alert_id": alert_id, "rid": rid, "source": source.name}),
        )
        .await;
        Ok(())
    }

    async fn apply_rules(
        &self,
        alert_id: AlertId,
        alert: &Alert,
        client: &str,
        key: &AlertKey,
        config: &Config,
    ) -> Result<(), EngineError> {
        let store = &self.shared.store;
        let flood_key = AlertKey::flood(client);
        for _ in 0..MAX_CONFLICT_RETRIES {
            // Processed before a crash? Then only its jobs may be missing.
            for candidate in [key, &flood_key] {
                if let Some(incident) = store.get_incident(candidate.as_str()).await? {
                    let details = IncidentDetails::read(&incident.details);
                    if details.last_alert_id == Some(alert_id) {
                        store.enqueue_jobs(details.outbox).await?;
                        return Ok(());
                    }
                }
            }
            let existing = store.get_incident(key.as_str()).await?;
            let state = existing.as_ref().map(|incident| IncidentState {
                last_alert_at: incident.last_alert_at,
                buffered: incident.buffer.len(),
                flush_scheduled: incident.flush_at.is_some(),
            });
            let at = alert.received_at;
            let written = match repeat::decide(state.as_ref(), at, &config.rules) {
                RepeatDecision::JoinBuffer {
                    schedule_flush_at,
                    reason,
                } => {
                    let incident = existing.expect("a repeat has an incident");
                    self.join_buffer(incident, alert_id, alert, schedule_flush_at, reason)
                        .await?
                }
                RepeatDecision::NewTicket { reason } => {
                    self.new_ticket(existing, alert_id, alert, client, key, reason, config)
                        .await?
                }
            };
            match written {
                Written::Jobs(jobs) => {
                    store.enqueue_jobs(jobs).await?;
                    return Ok(());
                }
                Written::Retry => continue,
            }
        }
        Err(EngineError::Contended {
            key: key.to_string(),
        })
    }

    async fn join_buffer(
        &self,
        mut incident: Incident,
        alert_id: AlertId,
        alert: &Alert,
        schedule_flush_at: Option<DateTime<Utc>>,
        reason: String,
    ) -> Result<Written, EngineError> {
        let now = self.now();
        let at = alert.received_at;
        incident
            .buffer
            .push(BufferedAlert::new(alert_id).to_value());
        incident.last_alert_at = incident.last_alert_at.max(at);
        incident.alert_count += 1;
        let mut outbox = Vec::new();
        if let Some(flush_at) = schedule_flush_at {
            incident.flush_at = Some(flush_at);
            outbox.push(jobs::new_job(
                jobs::KIND_FLUSH,
                &incident.key,
                &Flush {
                    incident_key: incident.key.clone(),
                },
                flush_at,
                format!("flush:{}:{alert_id}", incident.key),
                now,
            ));
        } else if incident.flush_at.is_none() {
            // A buffer always has a flush; schedule one should an older version have left none.
            let flush_at = add(at, self.config().rules.consolidation_interval);
            incident.flush_at = Some(flush_at);
            outbox.push(jobs::new_job(
                jobs::KIND_FLUSH,
                &incident.key,
                &Flush {
                    incident_key: incident.key.clone(),
                },
                flush_at,
                format!("flush:{}:{alert_id}", incident.key),
                now,
            ));
        }
        let mut details = IncidentDetails::read(&incident.details);
        details.last_alert_id = Some(alert_id);
        details.outbox = outbox.clone();
        details.reason = Some(reason.clone());
        incident.details = details.to_value();
        tracing::debug!(alert_id, key = %incident.key, %reason, "alert joins the consolidation buffer");
        match self.shared.store.upsert_incident(incident).await {
            Ok(_) => Ok(Written::Jobs(outbox)),
            Err(StoreError::Conflict { .. }) => Ok(Written::Retry),
            Err(error) => Err(error.into()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn new_ticket(
        &self,
        existing: Option<Incident>,
        alert_id: AlertId,
        alert: &Alert,
        client: &str,
        key: &AlertKey,
        reason: String,
        config: &Config,
    ) -> Result<Written, EngineError> {
        let store = &self.shared.store;
        let rules = &config.rules;
        let at = alert.received_at;
        let kv_key = flood_kv_key(client);
        let stored_state = store.get_kv(&kv_key).await?;
        let mut state: FloodState = stored_state
            .clone()
            .and_then(|value| serde_json::from_value(value).ok())
            .unwrap_or_default();
        state
            .standalone
            .retain(|created| *created >= sub(at, rules.ticket_flood_interval));
        let used =
            flood::standalone_created_in_window(&state.standalone, at, rules.ticket_flood_interval);
        let mut decision = flood::decide(
            used,
            rules.ticket_flood_limit,
            state.flood_opened_at,
            at,
            rules.ticket_flood_interval,
        );
        let flood_key = AlertKey::flood(client);
        let flood_incident = if matches!(decision, FloodDecision::UseFloodTicket { .. }) {
            let incident = store.get_incident(flood_key.as_str()).await?;
            if incident.is_none() {
                decision = FloodDecision::OpenFloodTicket {
                    reason: "flood limit reached; the flood ticket's incident is gone, so a new \
                             one is opened"
                        .to_string(),
                };
            }
            incident
        } else {
            None
        };
        match &decision {
            FloodDecision::Standalone { .. } => state.standalone.push(at),
            FloodDecision::OpenFloodTicket { .. } => state.flood_opened_at = Some(at),
            FloodDecision::UseFloodTicket { .. } => {}
        }
        let new_state = serde_json::to_value(&state).unwrap_or_default();
        if !store
            .compare_and_put_kv(&kv_key, stored_state, new_state)
            .await?
        {
            return Ok(Written::Retry);
        }
        match decision {
            FloodDecision::UseFloodTicket {
                reason: flood_reason,
                ..
            } => {
                let incident = flood_incident.expect("checked above");
                let schedule = if incident.buffer.is_empty() && incident.flush_at.is_none() {
                    Some(add(at, rules.consolidation_interval))
                } else {
                    None
                };
                self.join_buffer(
                    incident,
                    alert_id,
                    alert,
                    schedule,
                    format!("{reason}; {flood_reason}"),
                )
                .await
            }
            FloodDecision::Standalone {
                reason: flood_reason,
            } => {
                let create = self
                    .create_for_alert(alert, client, key, false, config)
                    .await?;
                self.write_pending_create(
                    existing,
                    key,
                    client,
                    alert_id,
                    at,
                    false,
                    create,
                    format!("{reason}; {flood_reason}"),
                )
                .await
            }
            FloodDecision::OpenFloodTicket {
                reason: flood_reason,
            } => {
                let create = self
                    .create_for_alert(alert, client, &flood_key, true, config)
                    .await?;
                let previous = store.get_incident(flood_key.as_str()).await?;
                tracing::info!(%client, reason = %flood_reason, "ticket flood limit reached");
                self.write_pending_create(
                    previous,
                    &flood_key,
                    client,
                    alert_id,
                    at,
                    true,
                    create,
                    format!("{reason}; {flood_reason}"),
                )
                .await
            }
        }
    }

    /// The create job payload for a new ticket opened by `alert`.
    async fn create_for_alert(
        &self,
        alert: &Alert,
        client: &str,
        key: &AlertKey,
        flood: bool,
        config: &Config,
    ) -> Result<CreateTicket, EngineError> {
        let rules = &config.rules;
        let host = &self.shared.host_name;
        let settings = config.effective_ticket_settings(Some(client));
        let lines = self
            .correlation_lines(key, client, alert.received_at, config, |name| {
                alert.placeholder_value(name, host)
            })
            .await?;
        let mut summary = content::summary(&settings, alert, host);
        let mut description = content::description(
            &settings,
            alert,
            host,
            &lines,
            rules.display_only_first_activity_record,
        );
        if flood {
            summary = truncate_utf16(
                &format!("[mspbridge] Ticket flood: {client}"),
                SUMMARY_MAX_UTF16_UNITS,
            )
            .to_string();
            let until = add(alert.received_at, rules.ticket_flood_interval);
            description = content::cap(&format!(
                "The ticket flood limit of {} standalone tickets per {} was reached for {client}. \
                 New alerts for {client} are added to this ticket until {}.\n\nFirst alert: {}\n\n{}",
                rules.ticket_flood_limit,
                mspbridge_core::duration::format_duration(rules.ticket_flood_interval),
                until.to_rfc3339(),
                alert.alert_name,
                description
            ));
        }
        Ok(CreateTicket {
            incident_key: key.to_string(),
            client: client.to_string(),
            external_xref: new_external_xref(),
            summary,
            description,
            flood,
            attachment: content::attachment_for_new_ticket(
                alert,
                rules.display_only_first_activity_record,
            )
            .map(Into::into),
        })
    }

    /// Rule 5's correlation lines for a ticket of `key` opened at `at`.
    pub(crate) async fn correlation_lines(
        &self,
        key: &AlertKey,
        client: &str,
        at: DateTime<Utc>,
        config: &Config,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<String>, EngineError> {
        let rules = &config.rules;
        if !rules.enable_ticket_correlation {
            return Ok(Vec::new());
        }
        let since = sub(at, rules.correlation_interval);
        let history: Vec<EarlierTicket> = self
            .shared
            .store
            .incidents_for_key_since(key.as_str(), since)
            .await?
            .into_iter()
            .map(|entry| EarlierTicket {
                ticket_id: entry.ticket_id,
                opened_at: entry.opened_at,
            })
            .collect();
        let settings = config.effective_ticket_settings(Some(client));
        Ok(correlation::lines(
            &history,
            at,
            rules.correlation_interval,
            &settings.correlation_format,
            lookup,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_pending_create(
        &self,
        existing: Option<Incident>,
        key: &AlertKey,
        client: &str,
        alert_id: AlertId,
        at: DateTime<Utc>,
        flood: bool,
        create: CreateTicket,
        reason: String,
    ) -> Result<Written, EngineError> {
        let now = self.now();
        let job = jobs::new_job(
            jobs::KIND_CREATE_TICKET,
            key.as_str(),
            &create,
            now,
            format!("create:{}", create.external_xref),
            now,
        );
        let details = IncidentDetails {
            pending_xref: Some(create.external_xref.clone()),
            last_alert_id: Some(alert_id),
            outbox: vec![job.clone()],
            reason: Some(reason.clone()),
        };
        // A buffer still waiting for its flush (update_interval shorter than the consolidation
        // interval) is kept: its alerts go into the new ticket's first update.
        let (buffer, flush_at, version) = match existing {
            Some(previous) => (previous.buffer, previous.flush_at, previous.version),
            None => (Vec::new(), None, 0),
        };
        let incident = Incident {
            key: key.to_string(),
            client: Some(client.to_string()),
            ticket_id: None,
            status: STATUS_PENDING_CREATE.to_string(),
            first_alert_at: at,
            last_alert_at: at,
            alert_count: 1,
            buffer,
            flush_at,
            flood,
            details: details.to_value(),
            version,
        };
        tracing::info!(alert_id, %key, %reason, "new ticket decided");
        match self.shared.store.upsert_incident(incident).await {
            Ok(_) => Ok(Written::Jobs(vec![job])),
            Err(StoreError::Conflict { .. }) => Ok(Written::Retry),
            Err(error) => Err(error.into()),
        }
    }

    /// Records an integration event; a failure to record it is logged, never fatal.
    pub(crate) async fn event(
        &self,
        code: u32,
        client: Option<String>,
        subject: Option<String>,
        message: String,
        details: serde_json::Value,
    ) {
        let event = NewEvent {
            code,
            at: self.now(),
            client,
            subject,
            message,
            details,
        };
        if let Err(error) = self.shared.store.append_event(event).await {
            tracing::error!(%error, code, "cannot record an integration event");
        }
    }
}

/// A fresh `externalXRef`: stable once stored in the job, unique across databases.
pub(crate) fn new_external_xref() -> String {
    format!("mspbridge:{}", uuid::Uuid::new_v4().simple())
}

/// The alert a stored row holds; a payload that is not one (written by hand or by an older
/// version) still yields an alert from the row's columns.
pub(crate) fn decode_alert(stored: &StoredAlert) -> Alert {
    let mut alert: Alert =
        serde_json::from_value(stored.payload.clone()).unwrap_or_else(|_| Alert {
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

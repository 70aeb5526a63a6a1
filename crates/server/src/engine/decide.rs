//! The repeat, flood and resolution decisions (rules 4 and 5) for a page of alerts, made against
//! an in-memory view of the incidents and flood states the page touches.
//!
//! [`Decisions`] reads each incident and flood state from the store once, lets every alert of the
//! page decide against the view the alerts before it left, and hands the result to
//! [`mspbridge_store::Store::commit_decisions`] as one transaction. Each incident keeps the
//! version it was read at, so a flush or another worker that changed it in the meantime makes the
//! commit fail whole with `Conflict` and the page is decided again; nothing is half written.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mspbridge_core::alert::{Alert, AlertKey};
use mspbridge_core::clock::sub;
use mspbridge_core::config::{ClientTicketOverrides, Config, StatusRef};
use mspbridge_core::rules::content;
use mspbridge_core::rules::correlation::{self, EarlierTicket};
use mspbridge_core::rules::flood::{self, FloodDecision, FloodState};
use mspbridge_core::rules::repeat::{self, IncidentState, RepeatDecision};
use mspbridge_core::rules::resolution::{self, GroupState, ResolutionDecision, ResolvedIncident};
use mspbridge_store::rollup::RollupKind;
use mspbridge_store::{
    AlertId, AlertOutcome, AlertState, BufferChange, DecisionBatch, Incident, NewJob, RuleDecision,
    SettingWrite, Store, StoreError,
};
use serde_json::Value;

use super::error::EngineError;
use super::explain;
use super::incident::{flood_kv_key, BufferedAlert, IncidentDetails, STATUS_PENDING_CREATE};
use super::pipeline::Pipeline;
use crate::jobs::{new_job, CreateTicket, Flush, Job, ResolutionNote, TicketFields};

/// What an alert's route gives beyond its client and key.
#[derive(Debug, Clone, Default)]
pub(super) struct RouteExtras {
    /// The `[[routes]]` entry that matched.
    pub route: Option<String>,
    /// Ticket settings over the client's (the route's, then its severity map entry).
    pub ticket: ClientTicketOverrides,
}

/// A flood state as read, and as the page leaves it.
struct Setting {
    read: Option<Value>,
    current: Option<Value>,
}

/// The decisions of one page, not yet written.
pub(super) struct Decisions {
    store: Arc<dyn Store>,
    /// Incidents as the page sees them (`None`: none stored), with the version they were read at.
    incidents: HashMap<String, Option<Incident>>,
    /// Keys of incidents the page changed, in the order first changed.
    changed: Vec<String>,
    settings: HashMap<String, Setting>,
    setting_order: Vec<String>,
    pub(super) jobs: Vec<NewJob>,
    /// Entries added to consolidation buffers, in order.
    buffer: Vec<BufferChange>,
    alerts: Vec<AlertOutcome>,
    /// The rule decisions about the alert being decided, written with its outcome.
    explained: Vec<RuleDecision>,
}

impl Decisions {
    pub(super) fn new(store: Arc<dyn Store>) -> Decisions {
        Decisions {
            store,
            incidents: HashMap::new(),
            changed: Vec::new(),
            settings: HashMap::new(),
            setting_order: Vec::new(),
            jobs: Vec::new(),
            buffer: Vec::new(),
            alerts: Vec::new(),
            explained: Vec::new(),
        }
    }

    /// Reads the incident of `key` into the view, once per page; returns it as the page sees it.
    async fn incident(&mut self, key: &str) -> Result<Option<&Incident>, StoreError> {
        if !self.incidents.contains_key(key) {
            let stored = self.store.get_incident(key).await?;
            self.incidents.insert(key.to_string(), stored);
        }
        Ok(self.incidents.get(key).and_then(Option::as_ref))
    }

    /// Reads the incidents of `keys` not yet in the view, all in one store read, so a page pays
    /// one round trip for its incidents instead of one per key.
    pub(super) async fn read_incidents<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<(), StoreError> {
        let mut wanted: Vec<String> = keys
            .into_iter()
            .filter(|key| !self.incidents.contains_key(*key))
            .map(str::to_string)
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        let mut stored: HashMap<String, Incident> = self
            .store
            .get_incidents(&wanted)
            .await?
            .into_iter()
            .map(|incident| (incident.key.clone(), incident))
            .collect();
        for key in wanted {
            let incident = stored.remove(&key);
            self.incidents.insert(key, incident);
        }
        Ok(())
    }

    /// The incident of `key` to change; it is written with the page.
    fn incident_mut(&mut self, key: &str) -> Option<&mut Incident> {
        let incident = self.incidents.get_mut(key)?.as_mut()?;
        if !self.changed.iter().any(|changed| changed == key) {
            self.changed.push(key.to_string());
        }
        Some(incident)
    }

    /// The incident of `key` taken out of the view, to be replaced with [`Decisions::put_incident`].
    fn take_incident(&mut self, key: &str) -> Option<Incident> {
        self.incidents.get_mut(key).and_then(Option::take)
    }

    fn put_incident(&mut self, incident: Incident) {
        if !self.changed.contains(&incident.key) {
            self.changed.push(incident.key.clone());
        }
        self.incidents.insert(incident.key.clone(), Some(incident));
    }

    async fn setting(&mut self, key: &str) -> Result<Option<Value>, StoreError> {
        if let Some(seen) = self.settings.get(key) {
            return Ok(seen.current.clone());
        }
        let read = self.store.get_kv(key).await?;
        self.settings.insert(
            key.to_string(),
            Setting {
                read: read.clone(),
                current: read.clone(),
            },
        );
        Ok(read)
    }

    fn put_setting(&mut self, key: &str, value: Value) {
        if let Some(setting) = self.settings.get_mut(key) {
            setting.current = Some(value);
            if !self.setting_order.iter().any(|known| known == key) {
                self.setting_order.push(key.to_string());
            }
        }
    }

    /// Records a rule decision about the alert being decided; it is stored with the alert's
    /// outcome ([`Decisions::take`]).
    pub(super) fn explain(&mut self, decision: RuleDecision) {
        self.explained.push(decision);
    }

    /// Records that the alert leaves the queue in `state`, with the decisions explained for it
    /// (`counted`: what it counts in the roll-ups, when known; see [`AlertOutcome::counted`]).
    pub(super) fn take(
        &mut self,
        id: AlertId,
        state: AlertState,
        client: Option<String>,
        payload: Option<Value>,
        counted: Option<Vec<(RollupKind, String)>>,
    ) {
        self.alerts.push(AlertOutcome {
            id,
            state,
            client,
            payload,
            counted,
            decisions: std::mem::take(&mut self.explained),
        });
    }

    /// Everything decided, as one store write.
    pub(super) fn into_batch(mut self) -> DecisionBatch {
        let incidents = self
            .changed
            .iter()
            .filter_map(|key| self.incidents.remove(key).flatten())
            .collect();
        let settings = self
            .setting_order
            .iter()
            .filter_map(|key| {
                let setting = self.settings.remove(key)?;
                Some(SettingWrite {
                    key: key.clone(),
                    expected: setting.read,
                    value: setting.current?,
                })
            })
            .collect();
        DecisionBatch {
            alerts: self.alerts,
            incidents,
            settings,
            jobs: self.jobs,
            buffer: self.buffer,
            notes: Vec::new(),
        }
    }
}

impl Pipeline {
    /// Rules 4 and 5 for one routed alert (or the resolution rule for a resolved one), written
    /// into `decisions`.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn decide(
        &self,
        decisions: &mut Decisions,
        alert_id: AlertId,
        alert: &Alert,
        client: &str,
        key: &AlertKey,
        extras: &RouteExtras,
        config: &Config,
    ) -> Result<(), EngineError> {
        let existing = decisions.incident(key.as_str()).await?;
        let known = existing.map(|incident| (incident.ticket_id, incident.last_alert_at));
        if alert.is_resolution() {
            let existing = existing.map(|incident| ResolvedIncident {
                ticket_id: incident.ticket_id,
            });
            self.resolve(decisions, alert_id, alert, client, key, existing, config);
            return Ok(());
        }
        let state = existing.map(incident_state);
        let at = alert.received_at;
        match repeat::decide(state.as_ref(), at, &config.rules) {
            RepeatDecision::JoinBuffer {
                schedule_flush_at,
                reason,
            } => {
                if let Some((ticket_id, last_alert_at)) = known {
                    decisions.explain(explain::merged(
                        self.base.now(),
                        key.as_str(),
                        ticket_id,
                        config.rules.update_interval,
                        last_alert_at,
                        &reason,
                    ));
                }
                self.join_buffer(
                    decisions,
                    key.as_str(),
                    alert_id,
                    alert,
                    schedule_flush_at,
                    reason,
                );
                Ok(())
            }
            RepeatDecision::NewTicket { reason } => {
                decisions.explain(explain::needs_new_ticket(
                    self.base.now(),
                    key.as_str(),
                    &reason,
                ));
                self.new_ticket(
                    decisions, alert_id, alert, client, key, extras, reason, config,
                )
                .await
            }
        }
    }

    /// A resolved alert: takes its instance off the incident's group, and once nothing of the
    /// group fires, one note on the ticket (and the source's `close_on_resolve` status).
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &self,
        decisions: &mut Decisions,
        alert_id: AlertId,
        alert: &Alert,
        client: &str,
        key: &AlertKey,
        existing: Option<ResolvedIncident>,
        config: &Config,
    ) {
        let mut group = GroupState::default();
        let mut details = None;
        if existing.is_some() {
            if let Some(incident) = decisions.incident_mut(key.as_str()) {
                let read = IncidentDetails::read(&incident.details);
                group = read.group.clone();
                details = Some(read);
            }
        }
        let ticket_id = existing.as_ref().and_then(|incident| incident.ticket_id);
        let decision = resolution::decide_group(existing, &mut group, alert);
        let resolved = std::mem::take(&mut group.resolved);
        if !matches!(decision, ResolutionDecision::NoteOnTicket { .. }) {
            group.resolved = resolved.clone();
        }
        if let (Some(mut details), Some(incident)) = (details, decisions.incident_mut(key.as_str()))
        {
            details.group = group;
            incident.details = details.to_value();
        }
        match decision {
            ResolutionDecision::NoteOnTicket { ticket_id, reason } => {
                tracing::info!(alert_id, %key, %reason, "resolution noted");
                decisions.explain(explain::resolution(
                    self.base.now(),
                    "resolution noted",
                    key.as_str(),
                    ticket_id,
                    &reason,
                ));
                let now = self.base.now();
                let close_status = config
                    .source(&alert.source)
                    .and_then(|source| source.close_on_resolve.as_ref())
                    .map(|status| match status {
                        StatusRef::Id(id) => id.to_string(),
                        StatusRef::Name(name) => name.clone(),
                    });
                decisions.jobs.push(new_job(
                    Job::Resolve(ResolutionNote {
                        incident_key: key.to_string(),
                        client: Some(client.to_string()),
                        ticket_id,
                        text: resolution::group_note(alert, &resolved),
                        close_status,
                    }),
                    key.as_str(),
                    now,
                    format!("resolution:{alert_id}"),
                    now,
                ));
            }
            ResolutionDecision::NothingToResolve { reason } => {
                tracing::info!(alert_id, %key, %reason, "nothing to resolve");
                decisions.explain(explain::resolution(
                    self.base.now(),
                    "nothing to resolve",
                    key.as_str(),
                    ticket_id,
                    &reason,
                ));
            }
            ResolutionDecision::StillFiring { reason } => {
                tracing::info!(alert_id, %key, %reason, "nothing to resolve yet");
                decisions.explain(explain::resolution(
                    self.base.now(),
                    "still firing",
                    key.as_str(),
                    ticket_id,
                    &reason,
                ));
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn join_buffer(
        &self,
        decisions: &mut Decisions,
        key: &str,
        alert_id: AlertId,
        alert: &Alert,
        schedule_flush_at: Option<DateTime<Utc>>,
        reason: String,
    ) {
        let now = self.base.now();
        let at = alert.received_at;
        let Some(incident) = decisions.incident_mut(key) else {
            // Callers join only incidents they have read; nothing to join otherwise.
            tracing::error!(alert_id, %key, "no incident to join; the alert opens nothing");
            return;
        };
        incident.buffered += 1;
        incident.last_alert_at = incident.last_alert_at.max(at);
        incident.alert_count += 1;
        let mut details = IncidentDetails::read(&incident.details);
        details.reason = Some(reason.clone());
        details.group.fired(alert);
        incident.details = details.to_value();
        if let Some(flush_at) = schedule_flush_at {
            incident.flush_at = Some(flush_at);
            let job = new_job(
                Job::Flush(Flush {
                    incident_key: incident.key.clone(),
                }),
                &incident.key,
                flush_at,
                format!("flush:{}:{alert_id}", incident.key),
                now,
            );
            decisions.jobs.push(job);
        }
        decisions.buffer.push(BufferChange::Append {
            key: key.to_string(),
            entry: BufferedAlert::new(alert_id).to_value(),
        });
        tracing::debug!(alert_id, %key, %reason, "alert joins the consolidation buffer");
    }

    #[allow(clippy::too_many_arguments)]
    async fn new_ticket(
        &self,
        decisions: &mut Decisions,
        alert_id: AlertId,
        alert: &Alert,
        client: &str,
        key: &AlertKey,
        extras: &RouteExtras,
        reason: String,
        config: &Config,
    ) -> Result<(), EngineError> {
        let rules = &config.rules;
        let at = alert.received_at;
        let kv_key = flood_kv_key(client);
        let state: FloodState = decisions
            .setting(&kv_key)
            .await?
            .and_then(|value| serde_json::from_value(value).ok())
            .unwrap_or_default();
        let flood_key = AlertKey::flood(client);
        let flood_read = decisions
            .incident(flood_key.as_str())
            .await?
            .map(|incident| (incident_state(incident), incident.ticket_id));
        let flood_incident = flood_read.as_ref().map(|(state, _)| *state);
        let flood_ticket = flood_read.and_then(|(_, ticket)| ticket);
        let flood::ClientFlood {
            decision,
            state,
            standalone_in_window: used,
        } = flood::decide_for_client(&state, flood_incident.as_ref(), at, rules);
        decisions.put_setting(&kv_key, serde_json::to_value(&state).unwrap_or_default());
        let (target, flood_reason) = match &decision {
            FloodDecision::Standalone { reason } => (explain::FloodTarget::Standalone, reason),
            FloodDecision::OpenFloodTicket { reason } => {
                (explain::FloodTarget::Opens(flood_key.as_str()), reason)
            }
            FloodDecision::UseFloodTicket { reason, .. } => (
                explain::FloodTarget::Joins(flood_key.as_str(), flood_ticket),
                reason,
            ),
        };
        decisions.explain(explain::flood(
            self.base.now(),
            client,
            (used, rules.ticket_flood_limit, rules.ticket_flood_interval),
            target,
            flood_reason,
        ));
        match decision {
            FloodDecision::UseFloodTicket {
                reason: flood_reason,
                ..
            } => {
                let schedule = flood::flood_ticket_flush_at(flood_incident.as_ref(), at, rules);
                self.join_buffer(
                    decisions,
                    flood_key.as_str(),
                    alert_id,
                    alert,
                    schedule,
                    format!("{reason}; {flood_reason}"),
                );
            }
            FloodDecision::Standalone {
                reason: flood_reason,
            } => {
                let create = self
                    .create_for_alert(decisions, alert, client, key, extras, false, config)
                    .await?;
                self.pending_create(
                    decisions,
                    key,
                    client,
                    alert,
                    alert_id,
                    at,
                    create,
                    format!("{reason}; {flood_reason}"),
                );
            }
            FloodDecision::OpenFloodTicket {
                reason: flood_reason,
            } => {
                let create = self
                    .create_for_alert(decisions, alert, client, &flood_key, extras, true, config)
                    .await?;
                tracing::info!(%client, reason = %flood_reason, "ticket flood limit reached");
                self.pending_create(
                    decisions,
                    &flood_key,
                    client,
                    alert,
                    alert_id,
                    at,
                    create,
                    format!("{reason}; {flood_reason}"),
                );
            }
        }
        Ok(())
    }

    /// The create job payload for a new ticket opened by `alert`.
    #[allow(clippy::too_many_arguments)]
    async fn create_for_alert(
        &self,
        decisions: &mut Decisions,
        alert: &Alert,
        client: &str,
        key: &AlertKey,
        extras: &RouteExtras,
        flood: bool,
        config: &Config,
    ) -> Result<CreateTicket, EngineError> {
        let rules = &config.rules;
        let host = &self.host_name;
        let settings = config.ticket_settings_with(Some(client), &extras.ticket);
        let lines = correlation_lines(
            self.base.store.as_ref(),
            key,
            client,
            alert.received_at,
            config,
            |name| alert.placeholder_value(name, host),
        )
        .await?;
        if !lines.is_empty() {
            decisions.explain(explain::correlated(
                self.base.now(),
                key.as_str(),
                rules.correlation_interval,
                &lines,
            ));
        }
        let mut summary = content::summary(&settings, alert, host);
        let mut description = content::description(
            &settings,
            alert,
            host,
            &lines,
            rules.display_only_first_activity_record,
        );
        if flood {
            summary = content::flood_summary(client);
            description = content::flood_description(rules, client, alert, &description);
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
            ticket: TicketFields::from_overrides(&extras.ticket),
            route: extras.route.clone(),
        })
    }

    /// The incident of `key` waiting for the ticket `create` makes, and its create job.
    #[allow(clippy::too_many_arguments)]
    fn pending_create(
        &self,
        decisions: &mut Decisions,
        key: &AlertKey,
        client: &str,
        alert: &Alert,
        alert_id: AlertId,
        at: DateTime<Utc>,
        create: CreateTicket,
        reason: String,
    ) {
        let now = self.base.now();
        let flood = create.flood;
        let xref = create.external_xref.clone();
        let job = new_job(
            Job::CreateTicket(create),
            key.as_str(),
            now,
            format!("create:{xref}"),
            now,
        );
        let details = IncidentDetails {
            pending_xref: Some(xref),
            reason: Some(reason.clone()),
            group: GroupState::opened_by(alert),
        };
        // A buffer still waiting for its flush (update_interval shorter than the consolidation
        // interval) is kept: its alerts go into the new ticket's first update.
        let (buffered, flush_at, version) = match decisions.take_incident(key.as_str()) {
            Some(previous) => (previous.buffered, previous.flush_at, previous.version),
            None => (0, None, 0),
        };
        tracing::info!(alert_id, %key, %reason, "new ticket decided");
        decisions.jobs.push(job);
        decisions.put_incident(Incident {
            key: key.to_string(),
            client: Some(client.to_string()),
            ticket_id: None,
            status: STATUS_PENDING_CREATE.to_string(),
            first_alert_at: at,
            last_alert_at: at,
            alert_count: 1,
            buffered,
            flush_at,
            flood,
            details: details.to_value(),
            version,
        });
    }
}

/// A fresh `externalXRef`: stable once stored in the job, unique across databases.
pub(crate) fn new_external_xref() -> String {
    format!("mspbridge:{}", uuid::Uuid::new_v4().simple())
}

/// What the repeat and flood rules need to know about a stored incident.
fn incident_state(incident: &Incident) -> IncidentState {
    IncidentState {
        last_alert_at: incident.last_alert_at,
        buffered: usize::try_from(incident.buffered).unwrap_or(usize::MAX),
        flush_scheduled: incident.flush_at.is_some(),
    }
}

/// Rule 5's correlation lines for a ticket of `key` opened at `at`.
pub(crate) async fn correlation_lines(
    store: &dyn Store,
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
    let history: Vec<EarlierTicket> = store
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

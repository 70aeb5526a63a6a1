//! What the management API and the listing commands show: incidents, events, the job queue,
//! alerts, clients and sources, read from the store and the configuration.
//!
//! The same functions serve `GET /api/v1/...` and `mspbridge tickets|events|queue --json`, so a
//! script sees the same JSON whichever way it asks. Views never carry secrets (source passwords,
//! API keys) or job lease tokens.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mspbridge_core::config::Config;
use mspbridge_core::events;
use mspbridge_store::{
    Alert, AlertFilter, AlertState, Event, EventFilter, Incident, IncidentFilter, Job, JobFilter,
    JobState, NewEvent, QueueDepth, RuleDecision, Store,
};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorCode};

/// Default and largest page of every listing.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page a caller may ask for.
pub const MAX_LIMIT: u32 = 1000;

/// A tracked incident and the ticket it owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IncidentView {
    /// Alert key.
    pub key: String,
    /// Client.
    pub client: Option<String>,
    /// ConnectWise ticket id.
    pub ticket_id: Option<i64>,
    /// Rule state (`open`, `pending_create`, …).
    pub state: String,
    /// Alerts seen.
    pub alert_count: u64,
    /// First alert.
    pub first_alert_at: DateTime<Utc>,
    /// Last alert.
    pub last_alert_at: DateTime<Utc>,
    /// Alerts waiting in the consolidation buffer.
    pub pending_alerts: usize,
    /// When the buffer is flushed.
    pub flush_at: Option<DateTime<Utc>>,
    /// Whether this is a client's flood ticket.
    pub flood: bool,
}

impl From<Incident> for IncidentView {
    fn from(incident: Incident) -> Self {
        IncidentView {
            key: incident.key,
            client: incident.client,
            ticket_id: incident.ticket_id,
            state: incident.status,
            alert_count: incident.alert_count,
            first_alert_at: incident.first_alert_at,
            last_alert_at: incident.last_alert_at,
            pending_alerts: usize::try_from(incident.buffered).unwrap_or(usize::MAX),
            flush_at: incident.flush_at,
            flood: incident.flood,
        }
    }
}

/// An integration event with its catalogue name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventView {
    /// Store id.
    pub id: i64,
    /// Event id (DESIGN §7).
    pub code: u32,
    /// Catalogue name, e.g. `ticket_created` (`unknown` for an id the catalogue lacks).
    pub name: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Client.
    pub client: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// Message.
    pub message: String,
    /// Details.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<Event> for EventView {
    fn from(event: Event) -> Self {
        EventView {
            id: event.id,
            code: event.code,
            name: events::describe(event.code)
                .map(|info| info.name.to_string())
                .unwrap_or_else(|| "unknown".to_string()),
            at: event.at,
            client: event.client,
            subject: event.subject,
            message: event.message,
            details: event.details,
        }
    }
}

/// A job as the queue listing shows it (no lease token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// `queued`, `running`, `done` or `dead`.
    #[schema(value_type = JobState)]
    pub state: String,
    /// Incident key it is serialised on.
    pub serial_key: Option<String>,
    /// Times claimed.
    pub attempts: u32,
    /// Next run.
    pub run_at: DateTime<Utc>,
    /// Last failure.
    pub last_error: Option<String>,
    /// Enqueued.
    pub created_at: DateTime<Utc>,
    /// Finished or dead-lettered.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        JobView {
            id: job.id,
            kind: job.kind,
            state: job.state.to_string(),
            serial_key: job.serial_key,
            attempts: job.attempts,
            run_at: job.run_at,
            last_error: job.last_error,
            created_at: job.created_at,
            finished_at: job.finished_at,
        }
    }
}

/// The work queue: counts, then the queued, running and dead jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueView {
    /// Counts per state.
    pub depth: QueueDepth,
    /// Jobs, ascending id.
    pub jobs: Vec<JobView>,
}

/// A stored alert (without its payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertView {
    /// Store id.
    pub id: i64,
    /// Source.
    pub source: String,
    /// Source's alert id.
    pub source_alert_id: String,
    /// Client.
    pub client: Option<String>,
    /// Alert name.
    pub alert_name: String,
    /// Occurred.
    pub occurred_at: DateTime<Utc>,
    /// Received.
    pub received_at: DateTime<Utc>,
    /// `queued`, `processed` or `unrouted`.
    #[schema(value_type = AlertState)]
    pub state: String,
    /// The `[[routes]]` entry that matched the alert, once routed by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
}

impl From<Alert> for AlertView {
    fn from(alert: Alert) -> Self {
        // Processing may name the alert better than its intake could (a Netwrix alert named from
        // its record); the stored alert holds that name.
        let alert_name = alert.payload["alert_name"]
            .as_str()
            .filter(|name| !name.trim().is_empty())
            .map(str::to_string)
            .unwrap_or(alert.alert_name);
        let route = alert.payload["routing"]["route"]
            .as_str()
            .map(str::to_string);
        AlertView {
            id: alert.id,
            source: alert.source,
            source_alert_id: alert.source_alert_id,
            client: alert.client,
            alert_name,
            route,
            occurred_at: alert.occurred_at,
            received_at: alert.received_at,
            state: alert.state.to_string(),
        }
    }
}

/// A configured client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientView {
    /// Name.
    pub name: String,
    /// Customer email.
    pub email: Option<String>,
    /// Effective ConnectWise company.
    pub company_id: Option<i32>,
    /// Effective board.
    pub board_id: Option<i32>,
    /// Effective team.
    pub team_id: Option<i32>,
    /// Effective priority.
    pub priority_id: Option<i32>,
    /// The IT Glue instance this client is enabled for.
    pub itglue: Option<String>,
}

/// A configured source (never its password).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceView {
    /// Name.
    pub name: String,
    /// `netwrix-auditor`, `webhook` or `alertmanager`.
    #[schema(value_type = SourceKindName)]
    pub kind: String,
    /// Integration API URL (netwrix-auditor).
    pub url: Option<String>,
    /// Account name (netwrix-auditor).
    pub username: Option<String>,
    /// Whether the server certificate is pinned.
    pub certificate_pinned: bool,
    /// Default client.
    pub client: Option<String>,
}

/// The kinds of source, as [`SourceView::kind`] spells them.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKindName {
    /// A Netwrix Auditor Integration API.
    NetwrixAuditor,
    /// The native webhook.
    Webhook,
    /// Prometheus Alertmanager.
    Alertmanager,
}

/// Tracked incidents, optionally of one client.
pub async fn incidents(
    store: &Arc<dyn Store>,
    client: Option<String>,
    limit: Option<u32>,
) -> Result<Vec<IncidentView>, ApiError> {
    let filter = IncidentFilter {
        client,
        limit: Some(page(limit)),
        ..IncidentFilter::default()
    };
    let incidents = store
        .list_incidents(filter)
        .await
        .map_err(|error| ApiError::store("listing incidents", &error))?;
    Ok(incidents.into_iter().map(IncidentView::from).collect())
}

/// Filters of the event listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only this event id.
    pub code: Option<u32>,
    /// Only this client.
    pub client: Option<String>,
    /// Only events at or after: a duration back from now (`24h`) or an RFC 3339 time.
    pub since: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Events matching `query`, newest first.
pub async fn events(
    store: &Arc<dyn Store>,
    query: EventQuery,
    now: DateTime<Utc>,
) -> Result<Vec<EventView>, ApiError> {
    let since = query
        .since
        .as_deref()
        .map(|text| parse_since(text, now))
        .transpose()?;
    let filter = EventFilter {
        code: query.code,
        client: query.client,
        since,
        limit: Some(page(query.limit)),
    };
    let events = store
        .list_events(filter)
        .await
        .map_err(|error| ApiError::store("listing events", &error))?;
    Ok(events.into_iter().map(EventView::from).collect())
}

/// Reads `since`: a duration back from `now` (`24h`, `7d`, `90` seconds) or an RFC 3339 time.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(duration) = mspbridge_core::duration::parse_duration(text) {
        let span = chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
        return Ok(now
            .checked_sub_signed(span)
            .unwrap_or(DateTime::<Utc>::MIN_UTC));
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "since: \"{text}\" is neither a duration such as 24h nor an RFC 3339 time such as 2026-01-31T08:00:00Z"
                ),
            )
        })
}

/// Queued, running and dead jobs with their counts.
pub async fn queue(store: &Arc<dyn Store>, limit: Option<u32>) -> Result<QueueView, ApiError> {
    let failed = |error| ApiError::store("listing the job queue", &error);
    let depth = store.queue_depth().await.map_err(failed)?;
    let mut jobs = Vec::new();
    for state in [JobState::Queued, JobState::Running, JobState::Dead] {
        let filter = JobFilter {
            state: Some(state),
            ..JobFilter::default()
        };
        let listed = store.list_jobs(filter, page(limit)).await.map_err(failed)?;
        jobs.extend(listed.into_iter().map(JobView::from));
    }
    jobs.sort_by_key(|job| job.id);
    Ok(QueueView { depth, jobs })
}

/// Puts dead job `id` back in the queue and records event 4202.
pub async fn retry_job(
    store: &Arc<dyn Store>,
    id: i64,
    now: DateTime<Utc>,
) -> Result<JobView, ApiError> {
    let job = store
        .retry_dead_job(id, now)
        .await
        .map_err(|error| match error {
            mspbridge_store::StoreError::InvalidTransition { from, .. } => ApiError::new(
                ErrorCode::Conflict,
                format!("job {id} is {from}; only dead jobs can be retried"),
            ),
            other => ApiError::store("retrying the job", &other),
        })?;
    let event = NewEvent {
        code: events::JOB_RETRIED,
        at: now,
        client: None,
        subject: Some(format!("job {id}")),
        message: format!("dead job {id} ({}) queued again by hand", job.kind),
        details: serde_json::json!({ "job_id": id, "kind": job.kind, "attempts": job.attempts }),
    };
    if let Err(error) = store.append_event(event).await {
        tracing::warn!(job_id = id, %error, "the job was re-queued but its event was not recorded");
    }
    Ok(JobView::from(job))
}

/// Puts every dead-lettered job (of `kind`, when given) back in the queue, oldest first, each
/// with an event as [`retry_job`] records; returns them. An unknown kind is refused, naming the
/// kinds there are.
pub async fn retry_dead_jobs(
    store: &Arc<dyn Store>,
    kind: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<JobView>, ApiError> {
    if let Some(kind) = kind {
        if crate::jobs::JobKind::parse(kind).is_none() {
            let known: Vec<&str> = crate::jobs::JobKind::ALL
                .iter()
                .map(|kind| kind.as_str())
                .collect();
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "there is no job kind {kind:?}; the kinds are {}",
                    known.join(", ")
                ),
            ));
        }
    }
    let mut retried = Vec::new();
    let mut after_id = None;
    loop {
        let filter = JobFilter {
            state: Some(JobState::Dead),
            kind: kind.map(str::to_string),
            after_id,
            ..JobFilter::default()
        };
        let page = store
            .list_jobs(filter, 500)
            .await
            .map_err(|error| ApiError::store("listing dead jobs", &error))?;
        let Some(last) = page.last() else {
            return Ok(retried);
        };
        after_id = Some(last.id);
        for job in page {
            match retry_job(store, job.id, now).await {
                Ok(view) => retried.push(view),
                // Retried meanwhile by someone else: nothing to do.
                Err(error) if error.code == ErrorCode::Conflict => {}
                Err(error) => return Err(error),
            }
        }
    }
}

/// Filters of the alert listing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// `queued`, `processed` or `unrouted`.
    #[param(value_type = Option<AlertState>)]
    pub state: Option<String>,
    /// Only this client.
    pub client: Option<String>,
    /// Only this source.
    pub source: Option<String>,
    /// Only ids greater than this (paging).
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// Alerts matching `query`, ascending id.
pub async fn alerts(store: &Arc<dyn Store>, query: AlertQuery) -> Result<Vec<AlertView>, ApiError> {
    let state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(AlertState::parse(text).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidQuery,
                format!("state: \"{text}\" is not one of queued, processed, unrouted"),
            )
        })?),
    };
    let filter = AlertFilter {
        state,
        client: query.client,
        source: query.source,
        after_id: query.after,
    };
    let alerts = store
        .list_alerts(filter, page(query.limit))
        .await
        .map_err(|error| ApiError::store("listing alerts", &error))?;
    Ok(alerts.into_iter().map(AlertView::from).collect())
}

/// One alert with the rule decisions taken about it and the ticket that carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertDetail {
    /// The alert.
    #[serde(flatten)]
    pub alert: AlertView,
    /// The rule decisions taken about it, oldest first, each with its reason: routing (or
    /// unrouted), enrichment, repeat (merged or new ticket), flood, correlation, resolution,
    /// and what its flush did (consolidated, reopened, left closed). Empty while it is queued.
    pub decisions: Vec<RuleDecision>,
    /// The incident whose ticket carries it: the one its latest decision names.
    pub incident_key: Option<String>,
    /// The ConnectWise ticket that carries it, once known: the latest ticket its decisions
    /// name, else the first ticket that incident opened since the alert arrived.
    pub ticket_id: Option<i64>,
}

/// Alert `id` with its decisions and ticket; `404 not_found` when it is not stored.
pub async fn alert_detail(store: &Arc<dyn Store>, id: i64) -> Result<AlertDetail, ApiError> {
    let alert = store
        .get_alert(id)
        .await
        .map_err(|error| ApiError::store("reading an alert", &error))?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("alert {id} does not exist")))?;
    let decisions = store
        .alert_decisions(id)
        .await
        .map_err(|error| ApiError::store("reading an alert's decisions", &error))?;
    let incident_key = decisions
        .iter()
        .rev()
        .find_map(|decision| decision.incident_key.clone());
    let mut ticket_id = decisions
        .iter()
        .rev()
        .take_while(|decision| {
            // A ticket named before the latest incident changed is not this alert's any more.
            decision.incident_key.is_none() || decision.incident_key == incident_key
        })
        .find_map(|decision| decision.ticket_id);
    if let (None, Some(key)) = (ticket_id, &incident_key) {
        // A ticket opened for the alert is recorded as opened at the time of the incident's
        // latest alert then: this alert's or a later one's.
        ticket_id = store
            .incidents_for_key_since(key, alert.received_at)
            .await
            .map_err(|error| ApiError::store("reading an incident's tickets", &error))?
            .first()
            .map(|entry| entry.ticket_id);
    }
    Ok(AlertDetail {
        alert: AlertView::from(alert),
        decisions,
        incident_key,
        ticket_id,
    })
}

/// The configured clients with their effective ConnectWise routing.
pub fn clients(config: &Config) -> Vec<ClientView> {
    config
        .clients
        .iter()
        .map(|client| {
            let settings = config.effective_ticket_settings(Some(&client.name));
            ClientView {
                name: client.name.clone(),
                email: client.email.clone(),
                company_id: settings.company_id,
                board_id: settings.board_id,
                team_id: settings.team_id,
                priority_id: settings.priority_id,
                itglue: config
                    .itglue_for_client(&client.name)
                    .map(|instance| instance.name.clone()),
            }
        })
        .collect()
}

/// The configured sources, without credentials.
pub fn sources(config: &Config) -> Vec<SourceView> {
    config
        .sources
        .iter()
        .map(|source| SourceView {
            name: source.name.clone(),
            kind: source.kind.as_str().to_string(),
            url: source.url.as_ref().map(|url| url.to_string()),
            username: source.username.clone(),
            certificate_pinned: source.tls_certificate_sha256.is_some(),
            client: source.client.clone(),
        })
        .collect()
}

fn page(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn since_takes_durations_and_times_and_names_the_parameter_otherwise() {
        let now = Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0).unwrap();
        assert_eq!(
            parse_since("24h", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 30, 12, 0, 0).unwrap()
        );
        assert_eq!(
            parse_since("2026-01-01T00:00:00Z", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        );
        let error = parse_since("yesterday", now).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidQuery);
        assert!(error.message.starts_with("since: \"yesterday\""), "{error}");
    }
}

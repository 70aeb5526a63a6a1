//! Publishing reports to IT Glue (DESIGN §4.6) as durable jobs.
//!
//! A publish request is refused up front when the client has no IT Glue instance or no
//! organization mapping: nothing is queued and the report says why. Otherwise a `publish_report`
//! job is queued and a worker claims it with a lease, talks to IT Glue with nothing open in the
//! store, and records the outcome: the flexible asset id and event 4021 on success; event 4022 and
//! a retry with backoff (never before a 429's `Retry-After`) on a transient failure; event 4022 and
//! the dead-letter state on a permanent one or when the attempts run out. The IT Glue calls are
//! safe to repeat (the asset is found by its name, existing links count as done), so a job that
//! ran twice after a crash publishes once.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mspbridge_connectors::itglue::{ItGlueClient, ItGlueError, ItGlueSettings, ReportContent};
use mspbridge_connectors::ErrorClass;
use mspbridge_core::clock::Clock;
use mspbridge_core::config::Config;
use mspbridge_core::events;
use mspbridge_store::{
    JobFilter, JobState, NewEvent, PublishState, PublishUpdate, Report, ReportId, ReportMeta,
    ReportSource, Store, StoreError, PUBLISH_REPORT_JOB,
};
use serde_json::json;

use super::mapping::{configurations_for_systems, organization_for_client};
use super::ReportError;
use crate::events::EventError;
use crate::jobs::{
    Claimed, Job, JobFailure, JobHandler, JobKind, JobPolicy, JobRunner, Lane, PublishReport,
};

/// One IT Glue client per configured instance, by instance name.
#[derive(Clone, Default)]
pub struct ItGlueClients {
    by_instance: HashMap<String, ItGlueClient>,
}

impl std::fmt::Debug for ItGlueClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut instances: Vec<&String> = self.by_instance.keys().collect();
        instances.sort();
        f.debug_struct("ItGlueClients")
            .field("instances", &instances)
            .finish()
    }
}

impl ItGlueClients {
    /// Clients for every `[[itglue]]` instance of `config`, with product defaults.
    pub fn from_config(config: &Config) -> Result<ItGlueClients, ItGlueError> {
        let mut clients = ItGlueClients::default();
        for instance in &config.itglue {
            let client = ItGlueClient::with_budget(
                ItGlueSettings::from_config(instance),
                crate::itglue::budget_for(instance),
            )?;
            clients.insert(&instance.name, client);
        }
        Ok(clients)
    }

    /// Uses `client` for `instance` (tests pass clients with their own retry settings).
    pub fn insert(&mut self, instance: &str, client: ItGlueClient) {
        self.by_instance.insert(instance.to_string(), client);
    }

    /// The client of `instance`.
    pub fn get(&self, instance: &str) -> Option<&ItGlueClient> {
        self.by_instance.get(instance)
    }

    /// Whether no instance has a client.
    pub fn is_empty(&self) -> bool {
        self.by_instance.is_empty()
    }
}

/// What the publish worker needs.
#[derive(Clone)]
pub struct PublishDeps {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The configuration (IT Glue instances and their clients).
    pub config: Arc<Config>,
    /// IT Glue clients by instance.
    pub clients: ItGlueClients,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Lease owner name of this worker.
    pub worker_id: String,
    /// Retry and dead-letter policy of the publish jobs.
    pub policy: JobPolicy,
}

impl std::fmt::Debug for PublishDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishDeps")
            .field("clients", &self.clients)
            .field("worker_id", &self.worker_id)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The answer to a publish request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishRequest {
    /// A publish job is queued (or was already).
    Queued {
        /// The job.
        job_id: i64,
    },
    /// Publishing was refused; the report's state is `refused` with this reason.
    Refused {
        /// Why, and what to do about it.
        reason: String,
    },
}

/// Why publishing `report` cannot even be attempted, if it cannot.
pub async fn refusal_reason(
    store: &dyn Store,
    config: &Config,
    report: &ReportMeta,
) -> Result<Option<String>, StoreError> {
    let Some(instance) = config.itglue_for_client(&report.client) else {
        return Ok(Some(format!(
            "client {:?} is not enabled for any [[itglue]] instance; add it to an instance's \
             `clients` list",
            report.client
        )));
    };
    if organization_for_client(store, &instance.name, &report.client)
        .await?
        .is_none()
    {
        return Ok(Some(format!(
            "client {:?} has no IT Glue organization mapping in instance {:?}; run \
             `mspbridge itglue automap` or map it with `mspbridge itglue map --client ...`",
            report.client, instance.name
        )));
    }
    Ok(None)
}

/// Asks for report `report_id` to be published: refused up front when its client cannot be
/// published to, otherwise a durable `publish_report` job (one live job per report).
pub async fn request_publish(
    store: &Arc<dyn Store>,
    config: &Config,
    report_id: ReportId,
    now: DateTime<Utc>,
) -> Result<PublishRequest, ReportError> {
    let report = store
        .get_report(report_id)
        .await?
        .ok_or(ReportError::NotFound(report_id))?;
    if let Some(reason) = refusal_reason(store.as_ref(), config, &report.meta).await? {
        record_refusal(store, config, &report.meta, &reason, now).await?;
        return Ok(PublishRequest::Refused { reason });
    }
    let serial_key = format!("report/{report_id}");
    let live = store
        .list_jobs(
            JobFilter {
                kind: Some(PUBLISH_REPORT_JOB.to_string()),
                serial_key: Some(serial_key.clone()),
                ..JobFilter::default()
            },
            1000,
        )
        .await?
        .into_iter()
        .find(|job| matches!(job.state, JobState::Queued | JobState::Running));
    let job_id = match live {
        Some(job) => job.id,
        None => {
            store
                .enqueue_job(Job::PublishReport(PublishReport { report_id }).to_new(
                    &serial_key,
                    now,
                    None,
                    now,
                ))
                .await?
                .id
        }
    };
    store
        .set_report_publish_state(
            report_id,
            PublishUpdate {
                state: PublishState::Pending,
                itglue_asset_id: None,
                error: None,
                at: now,
            },
        )
        .await?;
    tracing::info!(report_id, job_id, "report publish queued");
    Ok(PublishRequest::Queued { job_id })
}

async fn record_refusal(
    store: &Arc<dyn Store>,
    config: &Config,
    report: &ReportMeta,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), ReportError> {
    store
        .set_report_publish_state(
            report.id,
            PublishUpdate {
                state: PublishState::Refused,
                itglue_asset_id: None,
                error: Some(reason.to_string()),
                at: now,
            },
        )
        .await?;
    tracing::warn!(report_id = report.id, client = %report.client, reason, "report publish refused");
    publish_failed_event(store, config, report, reason, json!({"refused": true}), now).await
}

async fn publish_failed_event(
    store: &Arc<dyn Store>,
    config: &Config,
    report: &ReportMeta,
    reason: &str,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), ReportError> {
    let mut details = details;
    details["report_id"] = json!(report.id);
    let event = NewEvent {
        code: events::REPORT_PUBLISH_FAILED,
        at: now,
        client: Some(report.client.clone()),
        subject: Some(format!("report {}", report.id)),
        message: format!(
            "publishing report {:?} to IT Glue failed: {reason}",
            report.name
        ),
        details,
    };
    crate::events::record_event(store, config, event)
        .await
        .map(|_| ())
        .map_err(|error| match error {
            EventError::Store(error) => ReportError::Store(error),
            EventError::RaiseAlert { code, detail } => ReportError::RaiseAlert { code, detail },
        })
}

/// What one pass over the due publish jobs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishPass {
    /// Reports published.
    pub published: u32,
    /// Failures that will be retried.
    pub retrying: u32,
    /// Jobs dead-lettered.
    pub dead: u32,
    /// Jobs that found publishing no longer possible (mapping removed).
    pub refused: u32,
}

impl PublishPass {
    /// Jobs handled in the pass.
    pub fn handled(&self) -> u32 {
        self.published + self.retrying + self.dead + self.refused
    }
}

/// A handler that runs publish jobs and counts what became of them.
#[derive(Clone)]
struct CountingPublisher {
    deps: Arc<PublishDeps>,
    pass: Arc<std::sync::Mutex<PublishPass>>,
}

impl CountingPublisher {
    fn tally(&self, count: impl FnOnce(&mut PublishPass)) {
        count(
            &mut self
                .pass
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }
}

impl JobHandler for CountingPublisher {
    async fn run(&self, claimed: &Claimed) -> Result<(), JobFailure> {
        let Job::PublishReport(publish) = &claimed.job else {
            return Err(JobFailure::permanent(format!(
                "job {} is not a report publish",
                claimed.id
            )));
        };
        let outcome = publish_attempt(&self.deps, claimed, publish).await;
        match &outcome {
            Ok(PublishEnd::Published) => self.tally(|pass| pass.published += 1),
            Ok(PublishEnd::Refused) => self.tally(|pass| pass.refused += 1),
            Err(_) => {}
        }
        outcome.map(|_| ())
    }

    async fn failed(
        &self,
        claimed: &Claimed,
        failure: &JobFailure,
        retry_at: Option<DateTime<Utc>>,
    ) {
        if let Job::PublishReport(publish) = &claimed.job {
            publish_failed(&self.deps, claimed, publish, failure, retry_at).await;
        }
        match retry_at {
            Some(_) => self.tally(|pass| pass.retrying += 1),
            None => self.tally(|pass| pass.dead += 1),
        }
    }
}

/// Runs every publish job due now (the report lane of the job runner alone, for the command
/// line and tests; `serve` runs it beside the other lanes in the engine) and returns what
/// happened.
pub async fn run_due_publish_jobs(deps: &PublishDeps) -> Result<PublishPass, ReportError> {
    let runner = JobRunner::new(
        deps.store.clone(),
        deps.clock.clone(),
        deps.worker_id.clone(),
        deps.policy,
        vec![Lane {
            kind: JobKind::PublishReport,
            slots: 1,
        }],
    );
    let handler = CountingPublisher {
        deps: Arc::new(deps.clone()),
        pass: Arc::default(),
    };
    runner
        .run_due(&handler, &std::sync::atomic::AtomicBool::new(false))
        .await?;
    let pass = *handler
        .pass
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Ok(pass)
}

/// How a publish attempt that did not fail ended.
enum PublishEnd {
    Published,
    Refused,
}

enum Attempt {
    Published {
        asset_id: i64,
        organization_id: i64,
        linked: Vec<i64>,
        created: bool,
    },
    Refused(String),
    Failed {
        error: String,
        class: ErrorClass,
    },
}

/// One attempt of a publish job (the runner records its outcome).
pub(crate) async fn run_publish(
    deps: &PublishDeps,
    claimed: &Claimed,
    publish: &PublishReport,
) -> Result<(), JobFailure> {
    publish_attempt(deps, claimed, publish).await.map(|_| ())
}

async fn publish_attempt(
    deps: &PublishDeps,
    claimed: &Claimed,
    publish: &PublishReport,
) -> Result<PublishEnd, JobFailure> {
    let store = &deps.store;
    let store_failure = |error: StoreError| {
        JobFailure::retryable(format!(
            "recording report {}'s publish failed: {error}",
            publish.report_id
        ))
    };
    let report_failure = |error: ReportError| {
        JobFailure::retryable(format!(
            "recording report {}'s publish failed: {error}",
            publish.report_id
        ))
    };
    let Some(report) = store
        .get_report(publish.report_id)
        .await
        .map_err(store_failure)?
    else {
        return Err(JobFailure::permanent(format!(
            "report {} no longer exists",
            publish.report_id
        )));
    };
    let attempt = attempt_publish(deps, &report).await;
    let now = deps.clock.now();
    let meta = &report.meta;
    match attempt {
        Attempt::Published {
            asset_id,
            organization_id,
            linked,
            created,
        } => {
            store
                .set_report_publish_state(
                    meta.id,
                    PublishUpdate {
                        state: PublishState::Published,
                        itglue_asset_id: Some(asset_id),
                        error: None,
                        at: now,
                    },
                )
                .await
                .map_err(store_failure)?;
            store
                .append_event(NewEvent {
                    code: events::REPORT_PUBLISHED,
                    at: now,
                    client: Some(meta.client.clone()),
                    subject: Some(format!("report {}", meta.id)),
                    message: format!(
                        "report {:?} published to IT Glue as flexible asset {asset_id}",
                        meta.name
                    ),
                    details: json!({
                        "report_id": meta.id,
                        "asset_id": asset_id,
                        "organization_id": organization_id,
                        "configurations": linked,
                        "created": created,
                        "job_id": claimed.id,
                    }),
                })
                .await
                .map_err(store_failure)?;
            tracing::info!(report_id = meta.id, asset_id, "report published to IT Glue");
            Ok(PublishEnd::Published)
        }
        Attempt::Refused(reason) => {
            record_refusal(store, &deps.config, meta, &reason, now)
                .await
                .map_err(report_failure)?;
            Ok(PublishEnd::Refused)
        }
        Attempt::Failed { error, class } => Err(JobFailure {
            message: error,
            class,
            unreachable: false,
            retry_until: None,
        }),
    }
}

/// After a failed publish attempt was recorded: the report shows the failure and event 4022
/// says when it is tried again (or that it was given up).
pub(crate) async fn publish_failed(
    deps: &PublishDeps,
    claimed: &Claimed,
    publish: &PublishReport,
    failure: &JobFailure,
    retry_at: Option<DateTime<Utc>>,
) {
    let store = &deps.store;
    let now = deps.clock.now();
    let error = &failure.message;
    let meta = match store.get_report(publish.report_id).await {
        Ok(Some(report)) => report.meta,
        Ok(None) => return,
        Err(store_error) => {
            tracing::error!(%store_error, "cannot read the report of a failed publish");
            return;
        }
    };
    let state_error = match retry_at {
        Some(at) => format!("{error} (attempt {}; retrying at {at})", claimed.attempt),
        None => format!("{error} (attempt {}; gave up)", claimed.attempt),
    };
    let recorded = async {
        store
            .set_report_publish_state(
                meta.id,
                PublishUpdate {
                    state: PublishState::Failed,
                    itglue_asset_id: None,
                    error: Some(state_error),
                    at: now,
                },
            )
            .await?;
        publish_failed_event(
            store,
            &deps.config,
            &meta,
            error,
            json!({"attempt": claimed.attempt, "retry_at": retry_at, "job_id": claimed.id}),
            now,
        )
        .await
    }
    .await;
    if let Err(record_error) = recorded {
        tracing::error!(report_id = meta.id, %record_error, "cannot record a failed publish");
    }
    match retry_at {
        Some(_) => tracing::warn!(report_id = meta.id, %error, "report publish failed; will retry"),
        None => tracing::error!(report_id = meta.id, %error, "report publish dead-lettered"),
    }
}

async fn attempt_publish(deps: &PublishDeps, report: &Report) -> Attempt {
    let store = deps.store.as_ref();
    let meta = &report.meta;
    let Some(instance) = deps.config.itglue_for_client(&meta.client) else {
        return Attempt::Refused(format!(
            "client {:?} is no longer enabled for any [[itglue]] instance",
            meta.client
        ));
    };
    let Some(client) = deps.clients.get(&instance.name) else {
        return Attempt::Failed {
            error: format!(
                "no IT Glue client is set up for instance {:?}",
                instance.name
            ),
            class: ErrorClass::Permanent,
        };
    };
    let store_failure = |error: StoreError| Attempt::Failed {
        error: format!("reading the IT Glue mappings failed: {error}"),
        class: ErrorClass::Retryable,
    };
    let organization_id = match organization_for_client(store, &instance.name, &meta.client).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Attempt::Refused(format!(
                "client {:?} has no IT Glue organization mapping in instance {:?} any more",
                meta.client, instance.name
            ))
        }
        Err(error) => return store_failure(error),
    };
    let configurations = match configurations_for_systems(
        store,
        &instance.name,
        &meta.client,
        &meta.systems,
    )
    .await
    {
        Ok(ids) => ids,
        Err(error) => return store_failure(error),
    };
    let outcome = async {
        let asset_type = client
            .ensure_report_asset_type(&instance.report_asset_type)
            .await?;
        client
            .publish_report(
                &asset_type,
                organization_id,
                &report_content(report),
                &configurations,
            )
            .await
    }
    .await;
    match outcome {
        Ok(published) => Attempt::Published {
            asset_id: published.asset.id,
            organization_id,
            linked: configurations,
            created: published.created,
        },
        Err(error) => Attempt::Failed {
            error: error.to_string(),
            class: error.class(),
        },
    }
}

/// The asset IT Glue gets for `report`. Its Report Name is unique per report (it carries the
/// report id), so every report becomes its own flexible asset and publishing it again updates
/// that asset instead of adding another.
pub fn report_content(report: &Report) -> ReportContent {
    let meta = &report.meta;
    ReportContent {
        name: asset_name(meta),
        generated_on: meta.generated_at.date_naive(),
        expires_on: meta.expires_at.map(|at| at.date_naive()),
        file_name: file_name(meta),
        file: report.html.as_bytes().to_vec(),
    }
}

/// The Report Name written on the asset.
pub fn asset_name(meta: &ReportMeta) -> String {
    match meta.source {
        ReportSource::Generated => {
            let last_day = meta.period_end - chrono::Duration::microseconds(1);
            format!(
                "{} {} to {} (report {})",
                meta.name,
                meta.period_start.format("%Y-%m-%d"),
                last_day.format("%Y-%m-%d"),
                meta.id
            )
        }
        ReportSource::External => format!(
            "{} {} (report {})",
            meta.name,
            meta.generated_at.format("%Y-%m-%d"),
            meta.id
        ),
    }
}

/// A safe file name for the uploaded HTML: letters, digits and dashes, then the report id.
pub fn file_name(meta: &ReportMeta) -> String {
    let mut slug = String::new();
    for c in meta.name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "report" } else { slug };
    format!("{slug}-{}.html", meta.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn file_names_are_safe() {
        let at = Utc.with_ymd_and_hms(2026, 1, 8, 0, 0, 0).unwrap();
        let mut meta = ReportMeta {
            id: 7,
            client: "Acme".into(),
            name: "Weekly Security Summary / <Acme>".into(),
            period_start: at - chrono::Duration::days(7),
            period_end: at,
            generated_at: at,
            source: ReportSource::Generated,
            systems: Vec::new(),
            publish_state: PublishState::Unpublished,
            itglue_asset_id: None,
            last_error: None,
            expires_at: None,
            state_changed_at: at,
            html_bytes: 0,
        };
        assert_eq!(file_name(&meta), "weekly-security-summary-acme-7.html");
        assert_eq!(
            asset_name(&meta),
            "Weekly Security Summary / <Acme> 2026-01-01 to 2026-01-07 (report 7)"
        );
        meta.name = "../..".into();
        assert_eq!(file_name(&meta), "report-7.html");
    }
}

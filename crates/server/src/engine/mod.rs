//! The engine: turns accepted alerts into ConnectWise tickets, notes, reopenings and attachments
//! by the rules of DESIGN §3, through durable jobs.
//!
//! Why it is shaped this way:
//!
//! * **Event-driven.** The intake calls [`EngineHandle::wake`] right after an alert is durably
//!   stored; the engine's task otherwise sleeps until the next job is due (a flush at the end of its
//!   consolidation interval, a retry after its backoff). There is no polling loop; a long safety
//!   timer only picks up leases abandoned by a crashed worker.
//! * **Nothing lost, nothing doubled.** An alert stays `queued` until the incident update and the
//!   jobs it implies are stored; on start the engine resumes queued alerts and due jobs. Every
//!   ConnectWise effect is a job with a lease, retries and a dead-letter state; a ticket create
//!   carries an `externalXRef` recorded before the call and resolved by search after an unknown
//!   outcome. The jobs of one incident share its key as serial key, so one incident is worked by
//!   one worker at a time, in order. No store transaction is open during a network call.
//! * **Deterministic under test.** All time comes from the injected [`Clock`];
//!   [`Engine::run_until_idle`] does everything due at the clock's current time and returns, so
//!   tests drive the engine step by step over a manual clock.
//!
//! Events it records (ids in `mspbridge_core::events`): ticket created (4100), updated (4101),
//! reopened (4102), flood ticket opened (4103), alert unrouted (4104), attachment dumped (4105) or
//! upload failed and retried (4106), enrichment failed (4107), ConnectWise unreachable (4200, at
//! most once per `connection_event_every`), job dead-lettered (4201). Metrics:
//! see [`metrics`].
//!
//! Jobs (see [`crate::jobs`]): `alert.enrich` (keyed by the alert), `ticket.create`,
//! `ticket.flush`, `ticket.note`, `ticket.resolution`, `ticket.attachment` (each keyed by the
//! incident) and `publish_report` (keyed by the report), run by one [`JobRunner`] with a lane
//! per kind.

mod base;
mod claims;
mod decide;
mod effects;
mod enrich;
pub mod error;
mod explain;
mod flush;
mod incident;
mod pipeline;
pub mod reroute;
mod runner;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mspbridge_connectors::connectwise::ConnectWiseClient;
use mspbridge_connectors::netwrix::AuditorClient;
use mspbridge_core::clock::Clock;
use mspbridge_core::config::Config;
use mspbridge_store::Store;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use crate::intake::accept;
pub use effects::dump_missing_attachment;
pub use error::EngineError;
pub(crate) use pipeline::decode_alert;
pub use reroute::{reroute_unrouted_alerts, RerouteOutcome};

use crate::jobs::{JobPolicy, JobRunner, Lane};
use crate::metrics;
use crate::reports::{ItGlueClients, PublishDeps};
use base::{Base, Cw};
use effects::Tickets;
use enrich::Enricher;
use flush::Flusher;
use pipeline::Pipeline;
use runner::{Handlers, OutageEvents};

/// How soon the background task tries again after a step failed (e.g. the store was busy).
const STEP_RETRY: Duration = Duration::from_secs(1);

/// What the engine works with.
pub struct EngineDeps {
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// The configuration (replaced by [`Engine::reroute_unrouted`] after a change).
    pub config: Arc<Config>,
    /// Where time comes from.
    pub clock: Arc<dyn Clock>,
    /// ConnectWise; `None` when ticketing is not configured (ticket jobs then dead-letter with a
    /// message saying so).
    pub connectwise: Option<Arc<ConnectWiseClient>>,
    /// Auditor clients by source name, for enrichment of Netwrix alerts.
    pub auditors: HashMap<String, AuditorClient>,
    /// The host name for `%Computer%`.
    pub host_name: String,
    /// This worker's name in job leases.
    pub worker_id: String,
    /// IT Glue clients by instance, for the report publish jobs (empty: publish jobs wait for a
    /// process that has them).
    pub itglue: ItGlueClients,
}

impl fmt::Debug for EngineDeps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineDeps")
            .field("connectwise", &self.connectwise.is_some())
            .field("auditors", &self.auditors.keys().collect::<Vec<_>>())
            .field("host_name", &self.host_name)
            .field("worker_id", &self.worker_id)
            .finish_non_exhaustive()
    }
}

/// Tuning of the job runner.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Backoff, dead-lettering and lease of the jobs; `None` takes `[jobs]` of the config.
    pub jobs: Option<JobPolicy>,
    /// Jobs of one kind run at the same time (each of a different incident or subject).
    pub slots_per_lane: u32,
    /// Longest sleep of the background task, after which it looks for abandoned leases.
    pub safety_wakeup: Duration,
    /// Shortest time between two "connection failed" events.
    pub connection_event_every: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            jobs: None,
            slots_per_lane: 8,
            safety_wakeup: Duration::from_secs(60),
            connection_event_every: Duration::from_secs(300),
        }
    }
}

/// The engine's parts, each holding only what it needs (see `base.rs`): the intake pipeline
/// (enrichment, routing, decisions, one page at a time), and the job handlers (ticket effects,
/// flush, enrichment, report publishing) run by the one job runner.
pub(crate) struct Shared {
    base: Base,
    pipeline: Pipeline,
    handlers: Handlers,
    /// Runs the due jobs, a lane per kind.
    runner: JobRunner,
    worker_id: String,
    options: EngineOptions,
    notify: Arc<Notify>,
    /// Set by [`EngineHandle::shutdown`]: the current step ends after its page of alerts.
    stopping: AtomicBool,
}

/// The alert pipeline and job runner. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("worker_id", &self.shared.worker_id)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// What one [`Engine::run_until_idle`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdleReport {
    /// Alerts taken off the queue (processed or unrouted).
    pub alerts: usize,
    /// Job attempts made (successful or not).
    pub jobs: usize,
}

/// Returns when another process sharing the database signalled new work; never for a store
/// without such a signal (or once the signal is gone).
async fn work_from_other_processes(signal: &mut Option<watch::Receiver<u64>>) {
    if let Some(receiver) = signal {
        if receiver.changed().await.is_ok() {
            return;
        }
        *signal = None;
    }
    std::future::pending::<()>().await
}

impl Engine {
    /// An engine with default options; nothing runs until [`Engine::run_until_idle`] or
    /// [`Engine::spawn`].
    pub fn new(deps: EngineDeps) -> Engine {
        Engine::with_options(deps, EngineOptions::default())
    }

    /// An engine with explicit options.
    pub fn with_options(deps: EngineDeps, options: EngineOptions) -> Engine {
        let policy = options
            .jobs
            .unwrap_or_else(|| JobPolicy::from_config(&deps.config.jobs));
        let runner = JobRunner::new(
            deps.store.clone(),
            deps.clock.clone(),
            deps.worker_id.clone(),
            policy,
            Lane::every_kind(options.slots_per_lane),
        );
        let publish = (!deps.itglue.is_empty()).then(|| PublishDeps {
            store: deps.store.clone(),
            config: deps.config.clone(),
            clients: deps.itglue.clone(),
            clock: deps.clock.clone(),
            worker_id: deps.worker_id.clone(),
            policy,
        });
        let base = Base::new(deps.store, deps.config, deps.clock);
        let notify = Arc::new(Notify::new());
        let cw = Cw::new(deps.connectwise);
        let enricher = Enricher {
            base: base.clone(),
            auditors: Arc::new(deps.auditors),
            wake: notify.clone(),
        };
        let handlers = Handlers {
            tickets: Tickets {
                base: base.clone(),
                cw: cw.clone(),
            },
            flusher: Flusher {
                base: base.clone(),
                cw,
                host_name: deps.host_name.clone(),
            },
            enricher: enricher.clone(),
            publish,
            outages: OutageEvents::new(base.clone(), options.connection_event_every),
        };
        Engine {
            shared: Arc::new(Shared {
                pipeline: Pipeline::new(
                    base.clone(),
                    enricher,
                    deps.host_name,
                    deps.worker_id.clone(),
                    policy.lease,
                    notify.clone(),
                ),
                handlers,
                runner,
                base,
                worker_id: deps.worker_id,
                options,
                notify,
                stopping: AtomicBool::new(false),
            }),
        }
    }

    /// Starts the background task on the current tokio runtime.
    pub fn spawn(deps: EngineDeps) -> EngineHandle {
        Engine::new(deps).start()
    }

    /// Starts the background task of this engine.
    pub fn start(self) -> EngineHandle {
        let (stop, stopped) = watch::channel(false);
        let engine = self.clone();
        let task = tokio::spawn(async move { engine.background(stopped).await });
        EngineHandle {
            engine: self,
            stop,
            task: Some(task),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.shared.base.config()
    }

    /// Processes every queued alert and every job due at the clock's current time, repeating
    /// until nothing more is due now. Jobs scheduled later (flushes, backoffs) are left for a
    /// later call. Alerts are taken a page at a time with the due jobs run after each page, so a
    /// new alert type behind a backlog still reaches ConnectWise; a stop request (see
    /// [`EngineHandle::shutdown`]) ends the call after the page in progress.
    pub async fn run_until_idle(&self) -> Result<IdleReport, EngineError> {
        let mut report = IdleReport::default();
        let mut cursor = None;
        loop {
            let page = self
                .shared
                .pipeline
                .process_queued_page(&mut cursor)
                .await?;
            let jobs = self.run_due_jobs().await?;
            report.alerts += page.unwrap_or(0);
            report.jobs += jobs;
            if self.shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            if page.is_none() {
                if jobs == 0 {
                    break;
                }
                // Jobs may have queued alerts again (none do today) or made more jobs due:
                // look at the whole queue once more.
                cursor = None;
            }
        }
        if let Ok(depth) = self.shared.base.store.queue_depth().await {
            metrics::queue_depth(depth.queued + depth.running);
        }
        Ok(report)
    }

    /// Replaces the configuration and routes every unrouted alert again under it (see
    /// [`reroute`]); those that found a client are queued and the engine woken.
    pub async fn reroute_unrouted(
        &self,
        config: Arc<Config>,
    ) -> Result<RerouteOutcome, EngineError> {
        self.shared.base.set_config(config.clone());
        let outcome = {
            let _one_at_a_time = self.shared.pipeline.alerts_lock.lock().await;
            let now = self.shared.base.now();
            reroute_unrouted_alerts(self.shared.base.store.as_ref(), &config, now).await?
        };
        self.wake();
        Ok(outcome)
    }

    /// Runs every job due now in every lane; returns how many attempts were made.
    async fn run_due_jobs(&self) -> Result<usize, EngineError> {
        let shared = &self.shared;
        Ok(shared
            .runner
            .run_due(&shared.handlers, &shared.stopping)
            .await?)
    }

    /// Asks the background task (if started) to look at the queue now.
    pub fn wake(&self) {
        self.shared.notify.notify_one();
    }

    /// Renews this engine's part of the queue every [`claims::MEMBERSHIP_RENEWAL`] until
    /// `stopped`, then gives it back.
    async fn keep_membership(self, mut stopped: watch::Receiver<bool>) {
        let pipeline = &self.shared.pipeline;
        while !*stopped.borrow() {
            tokio::select! {
                _ = tokio::time::sleep(claims::MEMBERSHIP_RENEWAL) => {
                    pipeline.renew_membership().await;
                }
                changed = stopped.changed() => if changed.is_err() { break },
            }
        }
        pipeline.leave_membership().await;
    }

    async fn background(self, mut stopped: watch::Receiver<bool>) {
        tracing::info!(worker_id = %self.shared.worker_id, "engine started");
        // Its part of the queue first, so the first page is taken from it.
        self.shared.pipeline.renew_membership().await;
        let membership = tokio::spawn(self.clone().keep_membership(stopped.clone()));
        // Other processes on the same database (PostgreSQL) announce their intake through this.
        let mut others = self.shared.base.store.work_signal();
        loop {
            if *stopped.borrow() {
                break;
            }
            let sleep = match self.run_until_idle().await {
                Ok(_) => self.time_to_next_job().await,
                Err(error) => {
                    // Alerts may still be queued with no wake-up to come: try again soon.
                    tracing::error!(%error, "engine step failed; retrying shortly");
                    self.time_to_next_job().await.min(STEP_RETRY)
                }
            };
            tokio::select! {
                _ = self.shared.notify.notified() => {}
                _ = work_from_other_processes(&mut others) => {}
                _ = tokio::time::sleep(sleep) => {}
                _ = stopped.changed() => {}
            }
        }
        self.shared.pipeline.give_back_prefetched().await;
        if let Err(error) = membership.await {
            tracing::warn!(%error, "the engine's membership task ended abnormally");
        }
        tracing::info!(worker_id = %self.shared.worker_id, "engine stopped");
    }

    async fn time_to_next_job(&self) -> Duration {
        let safety = self.shared.options.safety_wakeup;
        match self.shared.base.store.next_job_run_at().await {
            Ok(Some(at)) => (at - self.shared.base.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(safety),
            Ok(None) => safety,
            Err(error) => {
                tracing::warn!(%error, "cannot read the next job time");
                safety
            }
        }
    }
}

/// A running engine.
#[derive(Debug)]
pub struct EngineHandle {
    engine: Engine,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl EngineHandle {
    /// Tells the engine an alert was accepted (or a job re-queued): work starts at once.
    pub fn wake(&self) {
        self.engine.wake();
    }

    /// The engine, e.g. for [`Engine::reroute_unrouted`] or a synchronous [`Engine::run_until_idle`].
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Does everything due now and returns (alongside the background task; alerts are taken by one
    /// task at a time and jobs are leased, so nothing runs twice).
    pub async fn run_until_idle(&self) -> Result<IdleReport, EngineError> {
        self.engine.run_until_idle().await
    }

    /// Stops gracefully: the page of alerts in progress finishes and the jobs in flight complete
    /// and record their outcome, then the task ends. Work not started stays durably queued for
    /// the next start.
    pub async fn shutdown(mut self) {
        self.engine.shared.stopping.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        self.engine.wake();
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                tracing::error!(%error, "engine task ended abnormally");
            }
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.engine.shared.stopping.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            // Dropped without shutdown: stop at once. Leased jobs are taken over after their lease.
            task.abort();
        }
    }
}

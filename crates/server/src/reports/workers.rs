//! The report tasks `serve` runs: the publish worker and the `[[reports]]` scheduler, started and
//! stopped together.

use std::sync::Arc;
use std::time::Duration;

use mspbridge_core::clock::Clock;
use mspbridge_core::config::Config;
use mspbridge_store::Store;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::publish::{run_publish_jobs, ItGlueClients, PublishDeps, PublishRetryPolicy};
use super::schedule::run_report_scheduler;

/// How often the publish worker looks for jobs queued where it cannot be woken (the API, the
/// CLI, another `serve`): one small indexed query, so a publish asked for there starts within
/// seconds.
pub const PUBLISH_RECHECK: Duration = Duration::from_secs(10);
/// How often the scheduler checks its periods when nothing else woke it (a changed clock).
pub const SCHEDULE_RECHECK: Duration = Duration::from_secs(60);

/// The running report tasks.
#[derive(Debug)]
pub struct ReportWorkers {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ReportWorkers {
    /// Starts the publish worker and the scheduler with IT Glue clients for every configured
    /// instance. An instance whose client cannot be built is logged and left out: its publish
    /// jobs then fail with a 4022 event naming the instance, while the rest of the service runs.
    pub fn spawn(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        worker_id: String,
    ) -> ReportWorkers {
        let mut clients = ItGlueClients::default();
        for instance in &config.itglue {
            match crate::itglue::client_for(instance) {
                Ok(client) => clients.insert(&instance.name, client),
                Err(error) => tracing::error!(
                    instance = %instance.name,
                    %error,
                    "cannot set up the IT Glue client; reports of this instance will not publish"
                ),
            }
        }
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let deps = PublishDeps {
            store: store.clone(),
            config: config.clone(),
            clients,
            clock: clock.clone(),
            worker_id,
            retry: PublishRetryPolicy::default(),
        };
        let publisher = tokio::spawn(run_publish_jobs(
            deps,
            wake.clone(),
            stopped.clone(),
            PUBLISH_RECHECK,
        ));
        let scheduler = tokio::spawn(run_report_scheduler(
            store,
            config,
            clock,
            wake.clone(),
            stopped,
            SCHEDULE_RECHECK,
        ));
        ReportWorkers {
            wake,
            stop,
            tasks: vec![publisher, scheduler],
        }
    }

    /// Tells the publish worker that a publish was requested in this process.
    pub fn wake_publisher(&self) {
        self.wake.notify_one();
    }

    /// A handle that wakes the publish worker, for the API.
    pub fn publisher_waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Stops both tasks after the work they are doing now.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a report task failed");
            }
        }
    }
}

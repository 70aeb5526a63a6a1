//! The report task `serve` runs: the `[[reports]]` scheduler. (Publish jobs run in the engine's
//! job runner, in a lane of their own.)

use std::sync::Arc;
use std::time::Duration;

use mspbridge_core::clock::Clock;
use mspbridge_core::config::Config;
use mspbridge_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::schedule::run_report_scheduler;

/// How often the scheduler checks its periods when nothing else woke it (a changed clock).
pub const SCHEDULE_RECHECK: Duration = Duration::from_secs(60);

/// The running report scheduler.
#[derive(Debug)]
pub struct ReportWorkers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl ReportWorkers {
    /// Starts the scheduler; `wake_jobs` is called when it queued publish jobs.
    pub fn spawn(
        store: Arc<dyn Store>,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        wake_jobs: Arc<dyn Fn() + Send + Sync>,
    ) -> ReportWorkers {
        let (stop, stopped) = watch::channel(false);
        let scheduler = tokio::spawn(run_report_scheduler(
            store,
            config,
            clock,
            wake_jobs,
            stopped,
            SCHEDULE_RECHECK,
        ));
        ReportWorkers {
            stop,
            tasks: vec![scheduler],
        }
    }

    /// Stops the scheduler after the work it is doing now.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a report task failed");
            }
        }
    }
}

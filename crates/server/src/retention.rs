//! The retention task: keeps the store bounded while `serve` runs (DESIGN §3 rule 8).
//!
//! What to forget is decided in core ([`mspbridge_core::rules::retention`]) from the configuration
//! and the clock; the store executes it in short chunks. A pass runs as soon as the service starts
//! and then every `min(keep / 4, 1m)` (or `[retention] every`), so no table outgrows its `limit`
//! by more than about one pass's intake however often the service restarts. A pass removes at most
//! [`MAX_ROWS_PER_PASS`] rows per table; when it had to stop there, the next one follows shortly
//! instead of a full interval later, so a backlog (a first start on a large database) drains in
//! steps that never hold intake up.
//!
//! Several processes sharing one database (PostgreSQL) run the pass once per cluster: before a
//! pass, a process takes the cluster's turn with `compare_and_put_kv` on [`TURN_KEY`], and passes
//! when another process started one less than three quarters of the interval ago (or, after an
//! incomplete pass, less than the catch-up pause ago).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mspbridge_core::clock::Clock;
use mspbridge_core::config::Config;
use mspbridge_core::rules::retention::{store_plan, PassTimer, StorePlan};
use mspbridge_store::{KeepLimit, PruneReport, RetentionPolicy, Store, StoreError};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Most rows one pass removes from one table.
pub const MAX_ROWS_PER_PASS: u64 = 50_000;
/// Pause before the next pass when a pass stopped at [`MAX_ROWS_PER_PASS`].
const CATCH_UP_PAUSE: Duration = Duration::from_millis(200);
/// Pause before trying again after a failed pass (the database may be away).
const FAILURE_PAUSE: Duration = Duration::from_secs(5);

/// The setting holding when the cluster's last retention pass started, and whether it was
/// incomplete.
pub const TURN_KEY: &str = "retention/last_pass";

/// Rows removed by retention, label `table`.
pub const RETENTION_ROWS_REMOVED: &str = "mspbridge_retention_rows_removed_total";
/// Gauge: bytes the database occupies.
pub const DATABASE_BYTES: &str = "mspbridge_database_bytes";
/// Gauge: bytes in free database pages (reused for new rows, or given back by vacuum).
pub const DATABASE_FREE_BYTES: &str = "mspbridge_database_free_bytes";
/// Gauge: rows per table, label `table`.
pub const TABLE_ROWS: &str = "mspbridge_table_rows";

/// The store policy of a plan.
pub fn policy(plan: &StorePlan) -> RetentionPolicy {
    RetentionPolicy {
        alerts: KeepLimit {
            keep: Some(plan.rules.alerts.keep),
            limit: Some(u64::from(plan.rules.alerts.limit)),
        },
        ticket_requests: KeepLimit {
            keep: Some(plan.rules.ticket_requests.keep),
            limit: Some(u64::from(plan.rules.ticket_requests.limit)),
        },
        incidents: Some(plan.rules.incidents),
        events: Some(plan.events.keep),
        events_limit: Some(u64::from(plan.events.limit)),
        done_jobs: Some(plan.done_jobs),
        rollups: Some(plan.rollups),
        expired_reports: true,
        max_rows_per_table: Some(MAX_ROWS_PER_PASS),
    }
}

/// One retention pass over every table at `now`.
pub async fn run_pass(
    store: &dyn Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<PruneReport, StoreError> {
    let report = store.prune(now, &policy(&store_plan(config))).await?;
    for (table, removed) in [
        ("alerts", report.alerts),
        ("ticket_requests", report.ticket_requests),
        ("incidents", report.incidents),
        ("incident_history", report.incident_history),
        ("incident_buffer", report.buffer_entries),
        ("events", report.events),
        ("jobs", report.done_jobs),
        ("report_rollups", report.rollups),
        ("reports", report.reports),
    ] {
        if removed > 0 {
            metrics::counter!(RETENTION_ROWS_REMOVED, "table" => table).increment(removed);
        }
    }
    Ok(report)
}

/// Takes the cluster's retention turn at `now` for a pass due every `every`: `false` when another
/// process (sharing the database) started a pass recently enough.
pub async fn take_turn(
    store: &dyn Store,
    every: Duration,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let current = store.get_kv(TURN_KEY).await?;
    let last = current.as_ref().and_then(|value| {
        let at = value.get("at").and_then(Value::as_i64)?;
        let incomplete = value.get("incomplete").and_then(Value::as_bool) == Some(true);
        Some((at, incomplete))
    });
    let now_micros = now.timestamp_micros();
    if let Some((at, incomplete)) = last {
        let gap = if incomplete {
            CATCH_UP_PAUSE
        } else {
            every.mul_f64(0.75)
        };
        let gap = i64::try_from(gap.as_micros()).unwrap_or(i64::MAX);
        if at <= now_micros && now_micros < at.saturating_add(gap) {
            return Ok(false);
        }
    }
    store
        .compare_and_put_kv(
            TURN_KEY,
            current,
            json!({"at": now_micros, "incomplete": false}),
        )
        .await
}

/// A retention pass at `now` if this process takes the cluster's turn (see [`take_turn`]);
/// `None` when another process has it.
pub async fn run_pass_once_per_cluster(
    store: &dyn Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Option<PruneReport>, StoreError> {
    if !take_turn(store, store_plan(config).every, now).await? {
        return Ok(None);
    }
    let report = run_pass(store, config, now).await?;
    if report.incomplete {
        // The rest is due shortly, for whichever process looks first.
        store
            .put_kv(
                TURN_KEY,
                json!({"at": now.timestamp_micros(), "incomplete": true}),
            )
            .await?;
    }
    Ok(Some(report))
}

/// Sets the storage gauges from the store now (called at each `/metrics` scrape).
pub async fn export_storage_stats(store: &dyn Store) -> Result<(), StoreError> {
    let stats = store.storage_stats().await?;
    metrics::gauge!(DATABASE_BYTES).set(stats.database_bytes as f64);
    metrics::gauge!(DATABASE_FREE_BYTES).set(stats.free_bytes as f64);
    for (table, rows) in stats.rows {
        metrics::gauge!(TABLE_ROWS, "table" => table).set(rows as f64);
    }
    Ok(())
}

/// The running retention task.
#[derive(Debug)]
pub struct RetentionHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RetentionHandle {
    /// Stops the task after the chunk in progress and waits for it.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the retention task: a pass now, then one whenever [`PassTimer`] says so.
pub fn spawn(store: Arc<dyn Store>, config: Arc<Config>, clock: Arc<dyn Clock>) -> RetentionHandle {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let plan = store_plan(&config);
        let mut timer = PassTimer::new(plan.every);
        tracing::info!(every = ?plan.every, "retention started");
        loop {
            let now = clock.now();
            let mut pause = timer.wait(now);
            if timer.start_if_due(now) {
                match run_pass_once_per_cluster(store.as_ref(), &config, now).await {
                    Ok(None) => {
                        tracing::debug!("retention pass left to another process");
                        pause = timer.wait(clock.now());
                    }
                    Ok(Some(report)) => {
                        if report.total() > 0 {
                            tracing::debug!(?report, "retention pass");
                        }
                        pause = if report.incomplete {
                            CATCH_UP_PAUSE
                        } else {
                            timer.wait(clock.now())
                        };
                        if report.incomplete {
                            // The rest is due at once, not a whole interval later.
                            timer = PassTimer::new(plan.every);
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "retention pass failed; trying again shortly");
                        timer = PassTimer::new(plan.every);
                        pause = FAILURE_PAUSE;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stopped.changed() => {}
            }
            if *stopped.borrow() {
                break;
            }
        }
        tracing::info!("retention stopped");
    });
    RetentionHandle { stop, task }
}

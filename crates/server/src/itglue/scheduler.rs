//! The auto-map schedule (DESIGN §4.5): every `automap_interval`, once per cluster.
//!
//! Several `serve` processes may share one database (§6), yet each run must happen once. The
//! next due time of each instance is kept in the store's kv table under
//! `itglue.automap.<instance>`; a process that finds it due claims the run by moving the due time
//! forward with `compare_and_put_kv`, and only the process whose compare-and-put succeeded runs
//! it. Time comes from the injected clock, so tests drive the schedule without waiting.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mspbridge_core::clock::Clock;
use mspbridge_core::config::{Config, ItGlueConfig};
use mspbridge_store::Store;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::automap::{refresh_and_raise, AutomapSummary};
use super::client_for;
use super::error::ItGlueSyncError;

/// Prefix of the kv keys holding each instance's next due time.
pub const AUTOMAP_KV_PREFIX: &str = "itglue.automap.";

/// Longest the scheduler sleeps between looks at the store, so a run claimed by a process that
/// then died is picked up again within this delay after it falls due.
const MAX_NAP: Duration = Duration::from_secs(60);

fn key(instance: &ItGlueConfig) -> String {
    format!("{AUTOMAP_KV_PREFIX}{}", instance.name)
}

fn due_of(value: &Option<Value>) -> Option<DateTime<Utc>> {
    value
        .as_ref()
        .and_then(|v| v.get("next_due_micros"))
        .and_then(Value::as_i64)
        .and_then(DateTime::from_timestamp_micros)
}

fn after(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(interval)
        .ok()
        .and_then(|span| now.checked_add_signed(span))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Runs every instance whose auto-map is due at `now` and that this process wins the claim for
/// (import, then auto-map). Returns what ran; instances not due or claimed elsewhere are absent.
pub async fn run_due_automaps(
    store: &Arc<dyn Store>,
    config: &Config,
    now: DateTime<Utc>,
) -> Vec<(String, Result<AutomapSummary, ItGlueSyncError>)> {
    let mut ran = Vec::new();
    for instance in &config.itglue {
        let key = key(instance);
        let current = match store.get_kv(&key).await {
            Ok(current) => current,
            Err(error) => {
                ran.push((instance.name.clone(), Err(error.into())));
                continue;
            }
        };
        if due_of(&current).is_some_and(|due| due > now) {
            continue;
        }
        let next = json!({
            "next_due_micros": after(now, instance.automap_interval).timestamp_micros(),
            "claimed_at_micros": now.timestamp_micros(),
        });
        match store.compare_and_put_kv(&key, current, next).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                ran.push((instance.name.clone(), Err(error.into())));
                continue;
            }
        }
        let outcome = match client_for(instance) {
            Ok(client) => refresh_and_raise(store, config, instance, &client, now)
                .await
                .map(|(_, mapped)| mapped),
            Err(error) => Err(error),
        };
        if let Err(error) = &outcome {
            tracing::warn!(instance = %instance.name, %error, "scheduled IT Glue auto-map failed");
        }
        ran.push((instance.name.clone(), outcome));
    }
    ran
}

/// Starts the schedule in the background; abort the handle to stop it.
pub fn spawn_automap_scheduler(
    store: Arc<dyn Store>,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = clock.now();
            run_due_automaps(&store, &config, now).await;
            let mut nap = MAX_NAP;
            for instance in &config.itglue {
                if let Ok(value) = store.get_kv(&key(instance)).await {
                    if let Some(due) = due_of(&value) {
                        let wait = (due - now).to_std().unwrap_or(Duration::ZERO);
                        nap = nap.min(wait.max(Duration::from_secs(1)));
                    }
                }
            }
            tokio::time::sleep(nap).await;
        }
    })
}

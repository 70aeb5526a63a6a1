//! The behaviour every [`Store`] implementation must show, as executable checks.
//!
//! DESIGN §6 promises that the SQLite and PostgreSQL stores pass the same tests; this
//! module is those tests. Each check takes a fresh, empty store and panics with a message
//! naming the broken promise. An implementation's test file calls [`run_all`] (or each
//! check as its own `#[tokio::test]`) plus [`durable_across_reopen`].
//!
//! Checks use fixed times from [`at`], never the system clock, and never sleep: lease
//! expiry is simulated by passing a later `now`.

mod alerts;
mod incidents;
mod inventory;
mod jobs;
mod model_check;
mod records;
mod reports;
mod retention;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use crate::model::*;
use crate::port::Store;

pub use alerts::{accept_batch, accept_dedups_on_source_and_id, alert_lifecycle_and_routing};
pub use incidents::{
    buffer_changes_with_its_incident, correlation_history_window, decisions_commit_all_or_nothing,
    incident_optimistic_conflict, ticket_requests_are_idempotent,
};
pub use inventory::{
    itglue_directory_import_scopes, manual_mappings_survive_auto_replacement,
    systems_upsert_and_remove,
};
pub use jobs::{
    backoff_run_at_respected, concurrent_claims_never_overlap, dead_letter_and_retry,
    enqueue_batch_like_one_by_one, expired_lease_is_reclaimed, fifo_per_serial_key,
    idempotency_key_returns_existing, lease_exclusive_per_serial_key, lease_lost_after_expiry,
    leases_of_a_gone_worker_are_expired_at_once, queue_depth_counts,
    retried_dead_job_respects_running_key,
};
pub use model_check::job_queue_matches_reference_model;
pub use records::{
    durable_across_reopen, events_filter_and_count, kv_round_trip_and_compare,
    lifecycle_ping_and_schema_version, retention_prunes_oldest_first,
};
pub use reports::{report_jobs_claimed_apart, report_publish_states, reports_round_trip_and_list};
pub use retention::retention_bounds_every_table;

/// Runs every check except [`durable_across_reopen`], each on a store from `fresh`
/// (which must return a new, empty store on every call).
pub async fn run_all<F, Fut>(fresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    lifecycle_ping_and_schema_version(fresh().await).await;
    accept_dedups_on_source_and_id(fresh().await).await;
    accept_batch(fresh().await).await;
    alert_lifecycle_and_routing(fresh().await).await;
    backoff_run_at_respected(fresh().await).await;
    lease_exclusive_per_serial_key(fresh().await).await;
    expired_lease_is_reclaimed(fresh().await).await;
    lease_lost_after_expiry(fresh().await).await;
    leases_of_a_gone_worker_are_expired_at_once(fresh().await).await;
    dead_letter_and_retry(fresh().await).await;
    retried_dead_job_respects_running_key(fresh().await).await;
    idempotency_key_returns_existing(fresh().await).await;
    fifo_per_serial_key(fresh().await).await;
    enqueue_batch_like_one_by_one(fresh().await).await;
    queue_depth_counts(fresh().await).await;
    concurrent_claims_never_overlap(fresh().await).await;
    incident_optimistic_conflict(fresh().await).await;
    decisions_commit_all_or_nothing(fresh().await).await;
    buffer_changes_with_its_incident(fresh().await).await;
    correlation_history_window(fresh().await).await;
    ticket_requests_are_idempotent(fresh().await).await;
    retention_prunes_oldest_first(fresh().await).await;
    retention_bounds_every_table(fresh().await).await;
    events_filter_and_count(fresh().await).await;
    kv_round_trip_and_compare(fresh().await).await;
    systems_upsert_and_remove(fresh().await).await;
    itglue_directory_import_scopes(fresh().await).await;
    manual_mappings_survive_auto_replacement(fresh().await).await;
    reports_round_trip_and_list(fresh().await).await;
    report_publish_states(fresh().await).await;
    report_jobs_claimed_apart(fresh().await).await;
    job_queue_matches_reference_model(&fresh).await;
}

/// A fixed instant `seconds` after 2026-01-01T00:00:00Z.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

pub(crate) fn new_alert(source: &str, source_alert_id: &str, received: i64) -> NewAlert {
    NewAlert {
        source: source.to_string(),
        source_alert_id: source_alert_id.to_string(),
        client: None,
        alert_name: "Account locked out".to_string(),
        occurred_at: at(received - 1),
        received_at: at(received),
        payload: json!({"records": [{"Who": "CORP\\alice", "Action": "Modified"}], "id": source_alert_id}).into(),
    }
}

pub(crate) fn new_job(kind: &str, serial_key: Option<&str>, run_at: i64) -> NewJob {
    NewJob {
        kind: kind.to_string(),
        serial_key: serial_key.map(str::to_string),
        payload: json!({"kind": kind}),
        run_at: at(run_at),
        idempotency_key: None,
        created_at: at(0),
    }
}

pub(crate) fn new_incident(key: &str, last_alert: i64) -> Incident {
    Incident {
        key: key.to_string(),
        client: Some("acme".to_string()),
        ticket_id: None,
        status: "open".to_string(),
        first_alert_at: at(last_alert),
        last_alert_at: at(last_alert),
        alert_count: 1,
        buffered: 0,
        flush_at: None,
        flood: false,
        details: Value::Null,
        version: 0,
    }
}

pub(crate) fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|job| job.id).collect()
}

pub(crate) fn token(job: &Job) -> String {
    job.lease_token
        .clone()
        .expect("a claimed job must carry a lease token")
}

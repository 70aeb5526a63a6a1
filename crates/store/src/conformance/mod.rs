//! The behaviour every [`Store`] implementation must show, as executable checks.
//!
//! DESIGN §6 promises that the SQLite and PostgreSQL stores pass the same tests; this
//! module is those tests. Each check takes a fresh, empty store and panics with a message
//! naming the broken promise. A backend's test file instantiates the whole suite with
//! [`conformance_suite!`](crate::conformance_suite), one `#[tokio::test]` per check, so the list
//! of checks lives here once and every backend runs all of it; it adds
//! [`durable_across_reopen`] with its own way of reopening.
//!
//! Checks use fixed times from [`at`], never the system clock, and never sleep: lease
//! expiry is simulated by passing a later `now`.

mod alerts;
mod claims;
mod decisions;
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
pub use claims::{
    alert_pages_are_claimed_apart, concurrent_alert_claims_never_overlap,
    incident_keys_are_held_by_one_owner, queue_is_split_among_live_engines,
};
pub use decisions::{
    decisions_keep_or_change_the_client, outcome_counts_stand_for_the_stored_payload,
    rule_decisions_recorded_with_the_alert,
};
pub use incidents::{
    buffer_changes_with_its_incident, correlation_history_window, decisions_commit_all_or_nothing,
    incident_optimistic_conflict, ticket_requests_are_idempotent,
    waiting_alert_leaves_the_queue_as_enriching,
};
pub use inventory::{
    itglue_directory_import_scopes, itglue_import_stages_pages,
    manual_mappings_survive_auto_replacement, systems_upsert_and_remove,
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

/// Instantiates every conformance check as its own `#[tokio::test]`, each on a fresh store from
/// `$fresh`: an async function returning `Some((Arc<dyn Store>, guard))`, where the guard keeps
/// the store's database alive (a temporary directory, a schema) until the test ends, or `None`
/// when the backend is not available here (the check then returns at once; `$fresh` decides
/// whether that is allowed, and panics where it is not, e.g. in CI).
/// A backend's test file writes `mspbridge_store::conformance_suite!(fresh_store);` at its top
/// level (see `tests/sqlite.rs` and `tests/postgres.rs`).
#[macro_export]
macro_rules! conformance_suite {
    ($fresh:path) => {
        $crate::conformance_suite!(@each $fresh;
            lifecycle_ping_and_schema_version,
            accept_dedups_on_source_and_id,
            accept_batch,
            alert_lifecycle_and_routing,
            alert_pages_are_claimed_apart,
            concurrent_alert_claims_never_overlap,
            incident_keys_are_held_by_one_owner,
            queue_is_split_among_live_engines,
            backoff_run_at_respected,
            lease_exclusive_per_serial_key,
            expired_lease_is_reclaimed,
            lease_lost_after_expiry,
            leases_of_a_gone_worker_are_expired_at_once,
            dead_letter_and_retry,
            retried_dead_job_respects_running_key,
            idempotency_key_returns_existing,
            fifo_per_serial_key,
            enqueue_batch_like_one_by_one,
            queue_depth_counts,
            concurrent_claims_never_overlap,
            incident_optimistic_conflict,
            decisions_commit_all_or_nothing,
            waiting_alert_leaves_the_queue_as_enriching,
            rule_decisions_recorded_with_the_alert,
            decisions_keep_or_change_the_client,
            outcome_counts_stand_for_the_stored_payload,
            buffer_changes_with_its_incident,
            correlation_history_window,
            ticket_requests_are_idempotent,
            retention_prunes_oldest_first,
            retention_bounds_every_table,
            events_filter_and_count,
            kv_round_trip_and_compare,
            systems_upsert_and_remove,
            itglue_directory_import_scopes,
            itglue_import_stages_pages,
            manual_mappings_survive_auto_replacement,
            reports_round_trip_and_list,
            report_publish_states,
            report_jobs_claimed_apart,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn job_queue_matches_reference_model() {
            let Some((first, guard)) = $fresh().await else {
                return;
            };
            let guards = ::std::sync::Mutex::new(::std::vec![guard]);
            let first = ::std::sync::Mutex::new(::std::option::Option::Some(first));
            $crate::conformance::job_queue_matches_reference_model(|| async {
                if let ::std::option::Option::Some(store) = first.lock().unwrap().take() {
                    return store;
                }
                let (store, guard) = $fresh().await.expect("the backend was there a moment ago");
                guards.lock().unwrap().push(guard);
                store
            })
            .await;
        }
    };
    (@each $fresh:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let ::std::option::Option::Some((store, _guard)) = $fresh().await else {
                    return;
                };
                $crate::conformance::$check(store.clone()).await;
                store.close().await;
            }
        )*
    };
}

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
    alert_pages_are_claimed_apart(fresh().await).await;
    concurrent_alert_claims_never_overlap(fresh().await).await;
    incident_keys_are_held_by_one_owner(fresh().await).await;
    queue_is_split_among_live_engines(fresh().await).await;
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
    rule_decisions_recorded_with_the_alert(fresh().await).await;
    decisions_keep_or_change_the_client(fresh().await).await;
    outcome_counts_stand_for_the_stored_payload(fresh().await).await;
    buffer_changes_with_its_incident(fresh().await).await;
    correlation_history_window(fresh().await).await;
    ticket_requests_are_idempotent(fresh().await).await;
    retention_prunes_oldest_first(fresh().await).await;
    retention_bounds_every_table(fresh().await).await;
    events_filter_and_count(fresh().await).await;
    kv_round_trip_and_compare(fresh().await).await;
    systems_upsert_and_remove(fresh().await).await;
    itglue_directory_import_scopes(fresh().await).await;
    itglue_import_stages_pages(fresh().await).await;
    manual_mappings_survive_auto_replacement(fresh().await).await;
    reports_round_trip_and_list(fresh().await).await;
    report_publish_states(fresh().await).await;
    report_jobs_claimed_apart(fresh().await).await;
    job_queue_matches_reference_model(&fresh).await;
}

/// The environment variable naming the PostgreSQL server tests run against
/// (`postgres://user@host:port/database`); `scripts/test` starts a throw-away cluster and sets it.
pub const POSTGRES_URL_VAR: &str = "MSPBRIDGE_TEST_POSTGRES_URL";

/// A URL for a new, empty schema of the test PostgreSQL database, so tests run side by side.
/// `None`, with a note on stderr, when [`POSTGRES_URL_VAR`] is not set; under CI (`CI` set) that
/// panics instead, so PostgreSQL tests never pass there without having run.
pub async fn fresh_postgres_url() -> Option<String> {
    let url = match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ if std::env::var_os("CI").is_some() => panic!(
            "{POSTGRES_URL_VAR} is not set under CI: the PostgreSQL tests must run \
             (scripts/test starts a cluster and sets it)"
        ),
        _ => {
            eprintln!("skipped: set {POSTGRES_URL_VAR}=postgres://… to run the PostgreSQL tests");
            return None;
        }
    };
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("create a test schema");
    admin.close().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{separator}options[search_path]={schema}"))
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

/// Alert `id` taken off the queue as processed for "acme", with no decision recorded.
pub(crate) fn decided(id: AlertId) -> AlertOutcome {
    AlertOutcome {
        id,
        state: AlertState::Processed,
        client: Some("acme".to_string()),
        payload: None,
        counted: None,
        decisions: Vec::new(),
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

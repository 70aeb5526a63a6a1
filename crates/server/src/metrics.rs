//! The engine's Prometheus metric names and the helpers that record them.
//!
//! The names are the product's contract with dashboards (the API installs the recorder and serves
//! `/metrics`); keeping them in one place means a rename is one edit and the console, the docs and
//! the code cannot drift apart. Labels only take bounded values.

use std::time::Duration;

use mspbridge_connectors::ErrorClass;

/// Alerts accepted by the intake (new ones, not retries).
pub const ALERTS_RECEIVED: &str = "mspbridge_alerts_received_total";
/// Alerts acknowledged as repeats of an already accepted one.
pub const ALERTS_DEDUPLICATED: &str = "mspbridge_alerts_deduplicated_total";
/// Alerts no client could be found for.
pub const ALERTS_UNROUTED: &str = "mspbridge_alerts_unrouted_total";
/// ConnectWise tickets created (standalone and flood).
pub const TICKETS_CREATED: &str = "mspbridge_tickets_created_total";
/// Consolidated updates written to tickets.
pub const TICKETS_UPDATED: &str = "mspbridge_tickets_updated_total";
/// Closed tickets reopened.
pub const TICKETS_REOPENED: &str = "mspbridge_tickets_reopened_total";
/// Flood tickets opened.
pub const FLOOD_TICKETS: &str = "mspbridge_flood_tickets_total";
/// Job attempts that failed and were scheduled again.
pub const JOB_RETRIES: &str = "mspbridge_job_retries_total";
/// Jobs that gave up.
pub const JOBS_DEAD_LETTERED: &str = "mspbridge_jobs_dead_lettered_total";
/// Gauge: accepted alerts waiting for the engine.
pub const ALERTS_QUEUED: &str = "mspbridge_alerts_queued";
/// Queued plus running jobs.
pub const QUEUE_DEPTH: &str = "mspbridge_queue_depth";
/// Duration of ConnectWise calls, label `operation`.
pub const CONNECTWISE_REQUEST_DURATION: &str = "mspbridge_connectwise_request_duration_seconds";
/// Failed ConnectWise calls, label `class`.
pub const CONNECTWISE_ERRORS: &str = "mspbridge_connectwise_errors_total";

/// Adds one to a plain counter.
pub fn count(name: &'static str) {
    metrics::counter!(name).increment(1);
}

/// Records one ConnectWise call.
pub fn connectwise_call(operation: &'static str, took: Duration, failure: Option<ErrorClass>) {
    metrics::histogram!(CONNECTWISE_REQUEST_DURATION, "operation" => operation)
        .record(took.as_secs_f64());
    if let Some(class) = failure {
        metrics::counter!(CONNECTWISE_ERRORS, "class" => class_label(class)).increment(1);
    }
}

/// Sets the alert backlog gauge: accepted alerts the engine has not taken yet.
pub fn alerts_queued(queued: u64) {
    metrics::gauge!(ALERTS_QUEUED).set(queued as f64);
}

/// Sets the queue depth gauge.
pub fn queue_depth(depth: u64) {
    metrics::gauge!(QUEUE_DEPTH).set(depth as f64);
}

/// The bounded label of an error class.
pub fn class_label(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::Retryable => "retryable",
        ErrorClass::RateLimited { .. } => "rate_limited",
        ErrorClass::Permanent => "permanent",
    }
}

//! The Prometheus recorder, the descriptions of every metric mspbridge exports, and the HTTP
//! request metrics.
//!
//! `metrics` has one global recorder per process, so it is installed once ([`install_recorder`])
//! and every `Service` started in the process (tests start several) renders from the same handle.
//! Metric names end in `_total` or `_seconds`; labels take bounded values only (the matched route,
//! never the raw path; the status code; the method).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{describe_counter, describe_gauge, describe_histogram, Counter, Histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use mspbridge_core::config::Config;
use tracing::Instrument;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once) and returns its handle; `None` when
/// another recorder was installed first by someone else.
pub fn install_recorder() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => {
                describe_metrics();
                Some(handle)
            }
            Err(error) => {
                tracing::warn!(%error, "metrics recorder not installed; /metrics will answer 503");
                None
            }
        })
        .clone()
}

/// Registers the description of every metric mspbridge records.
fn describe_metrics() {
    let counters = [
        (
            "mspbridge_alerts_received_total",
            "New alerts accepted by the intake (retries of an accepted alert are not counted here).",
        ),
        (
            "mspbridge_alerts_deduplicated_total",
            "Alerts acknowledged as repeats of an already accepted alert.",
        ),
        (
            "mspbridge_alerts_unrouted_total",
            "Alerts no client could be found for, kept as unrouted.",
        ),
        (
            "mspbridge_tickets_created_total",
            "ConnectWise tickets created.",
        ),
        (
            "mspbridge_tickets_updated_total",
            "ConnectWise tickets updated with consolidated alerts.",
        ),
        (
            "mspbridge_tickets_reopened_total",
            "Closed ConnectWise tickets reopened by repeated alerts.",
        ),
        (
            "mspbridge_flood_tickets_total",
            "Flood tickets opened because a client reached its ticket flood limit.",
        ),
        (
            "mspbridge_job_retries_total",
            "Job attempts that failed and were scheduled again.",
        ),
        (
            "mspbridge_jobs_dead_lettered_total",
            "Jobs that exhausted their retries.",
        ),
        (
            "mspbridge_connectwise_errors_total",
            "Failed ConnectWise requests, by error class.",
        ),
        (
            "mspbridge_http_requests_total",
            "HTTP requests served, by method, route and status.",
        ),
        (
            "mspbridge_intake_rate_limited_total",
            "Intake requests refused with 429 over the configured rate.",
        ),
        (
            ITGLUE_REQUESTS,
            "Requests sent to IT Glue, by configured instance.",
        ),
        (
            ITGLUE_RATE_LIMITED,
            "429 answers from IT Glue, by configured instance.",
        ),
    ];
    for (name, help) in counters {
        describe_counter!(name, Unit::Count, help);
    }
    describe_gauge!(
        "mspbridge_queue_depth",
        Unit::Count,
        "Jobs waiting or running in the durable queue."
    );
    describe_gauge!(
        crate::metrics::ALERTS_QUEUED,
        Unit::Count,
        "Accepted alerts waiting for the engine (the alert backlog)."
    );
    describe_gauge!(
        "mspbridge_dead_jobs",
        Unit::Count,
        "Dead-lettered jobs waiting for a retry from the console or `mspbridge queue retry`."
    );
    describe_gauge!(
        ITGLUE_BUDGET_REMAINING,
        Unit::Count,
        "Requests that may still be sent to the IT Glue instance in the current budget window (0 while a 429 holds it)."
    );
    describe_histogram!(
        "mspbridge_connectwise_request_duration_seconds",
        Unit::Seconds,
        "Duration of ConnectWise API requests."
    );
    describe_histogram!(
        "mspbridge_http_request_duration_seconds",
        Unit::Seconds,
        "Duration of HTTP requests served, by method and route."
    );
}

/// IT Glue requests sent, label `instance`.
pub const ITGLUE_REQUESTS: &str = "mspbridge_itglue_requests_total";
/// IT Glue 429 answers, label `instance`.
pub const ITGLUE_RATE_LIMITED: &str = "mspbridge_itglue_rate_limited_total";
/// Requests left in the current budget window, label `instance`.
pub const ITGLUE_BUDGET_REMAINING: &str = "mspbridge_itglue_request_budget_remaining";

/// Every unlabelled counter of the product, and the labelled ones whose label values are known up
/// front, registered at 0: a dashboard or an alert rule sees the series from the first scrape, not
/// only after the first event.
pub fn register_at_zero(config: &Config) {
    use crate::metrics as engine;
    for name in [
        engine::ALERTS_RECEIVED,
        engine::ALERTS_DEDUPLICATED,
        engine::ALERTS_UNROUTED,
        engine::TICKETS_CREATED,
        engine::TICKETS_UPDATED,
        engine::TICKETS_REOPENED,
        engine::FLOOD_TICKETS,
        engine::JOB_RETRIES,
        engine::JOBS_DEAD_LETTERED,
        "mspbridge_intake_rate_limited_total",
    ] {
        metrics::counter!(name).increment(0);
    }
    for class in ["retryable", "rate_limited", "permanent"] {
        metrics::counter!(engine::CONNECTWISE_ERRORS, "class" => class).increment(0);
    }
    engine::alerts_queued(0);
    engine::queue_depth(0);
    metrics::gauge!("mspbridge_dead_jobs").set(0.0);
    record_itglue_budgets(config);
}

/// Sets the IT Glue series of every configured instance from its shared request budget: requests
/// sent and 429s received by this process, and the requests left in the current window.
pub fn record_itglue_budgets(config: &Config) {
    for instance in &config.itglue {
        let budget = crate::itglue::budget_for(instance);
        let (requests, rate_limited) = budget.totals();
        let label = instance.name.clone();
        metrics::counter!(ITGLUE_REQUESTS, "instance" => label.clone()).absolute(requests);
        metrics::counter!(ITGLUE_RATE_LIMITED, "instance" => label.clone()).absolute(rate_limited);
        metrics::gauge!(ITGLUE_BUDGET_REMAINING, "instance" => label)
            .set(f64::from(budget.remaining()));
    }
}

/// Middleware: counts and times every request by method, matched route and status, and runs it
/// in a `request` span carrying the method and route, so every log line it writes says which
/// request it belongs to.
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!("request", method = %method, route = %route);
    let response = next.run(request).instrument(span).await;
    let (requests, duration) = http_handles(&method, route, response.status().as_u16());
    requests.increment(1);
    duration.record(started.elapsed().as_secs_f64());
    response
}

/// Request counter and duration histogram per route, then (method, status).
type HttpHandles = HashMap<String, HashMap<(Method, u16), (Counter, Histogram)>>;

/// The handles of one request's metrics. Looking a metric up in the recorder hashes and copies its
/// labels, a noticeable share of a small intake request, so once the recorder is installed the
/// handles are looked up once per (route, method, status) and kept.
fn http_handles(method: &Method, route: &str, status: u16) -> (Counter, Histogram) {
    static CACHE: LazyLock<Mutex<HttpHandles>> = LazyLock::new(Mutex::default);
    let register = || {
        let requests = metrics::counter!(
            "mspbridge_http_requests_total",
            "method" => method.as_str().to_string(),
            "route" => route.to_string(),
            "status" => status.to_string()
        );
        let duration = metrics::histogram!(
            "mspbridge_http_request_duration_seconds",
            "method" => method.as_str().to_string(),
            "route" => route.to_string()
        );
        (requests, duration)
    };
    // Handles taken before the recorder is installed would stay no-ops for good.
    if !HANDLE.get().is_some_and(Option::is_some) {
        return register();
    }
    let mut cache = CACHE.lock().unwrap_or_else(|poison| poison.into_inner());
    if let Some(handles) = cache
        .get(route)
        .and_then(|by_method| by_method.get(&(method.clone(), status)))
    {
        return handles.clone();
    }
    let handles = register();
    cache
        .entry(route.to_string())
        .or_default()
        .insert((method.clone(), status), handles.clone());
    handles
}

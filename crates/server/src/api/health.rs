//! Probes for orchestrators and scrapers: `/healthz` (the process answers), `/readyz` (the store
//! answers and has its schema) and `/metrics` (Prometheus text).
//!
//! They need no token: a load balancer or Prometheus must reach them without the intake secret,
//! and they reveal nothing beyond counts and readiness.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mspbridge_store::AlertState;
use serde_json::json;

use super::error::{ApiError, ErrorCode};
use super::state::ApiState;

/// `GET /healthz`: 200 while the process serves requests.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 when the store answers and its migrations are applied, else 503.
pub async fn readyz(State(state): State<ApiState>) -> Result<Json<serde_json::Value>, ApiError> {
    let not_ready = |what: &str, error: &dyn std::fmt::Display| {
        ApiError::new(ErrorCode::NotReady, format!("{what}: {error}"))
    };
    state
        .store()
        .ping()
        .await
        .map_err(|error| not_ready("the store does not answer", &error))?;
    let version = state
        .store()
        .schema_version()
        .await
        .map_err(|error| not_ready("the schema version cannot be read", &error))?;
    if version <= 0 {
        return Err(ApiError::new(
            ErrorCode::NotReady,
            "the store has no schema yet; run `mspbridge migrate`",
        ));
    }
    Ok(Json(
        json!({ "status": "ready", "schema_version": version }),
    ))
}

/// `GET /metrics`: the Prometheus text format, with the job queue depth, the alert backlog, the
/// database size and the rows per table read from the store now.
pub async fn metrics(State(state): State<ApiState>) -> Response {
    let Some(handle) = state.metrics() else {
        return ApiError::new(
            ErrorCode::NotReady,
            "no metrics recorder is installed in this process",
        )
        .into_response();
    };
    match state.store().queue_depth().await {
        Ok(depth) => {
            crate::engine::metrics::queue_depth(depth.queued + depth.running);
            metrics::gauge!("mspbridge_dead_jobs").set(depth.dead as f64);
        }
        Err(error) => tracing::warn!(%error, "queue depth not available for /metrics"),
    }
    super::metrics::record_itglue_budgets(state.config());
    match state.store().count_alerts(AlertState::Queued).await {
        Ok(queued) => crate::engine::metrics::alerts_queued(queued),
        Err(error) => tracing::warn!(%error, "alert backlog not available for /metrics"),
    }
    if let Err(error) = crate::retention::export_storage_stats(state.store().as_ref()).await {
        tracing::warn!(%error, "storage statistics not available for /metrics");
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

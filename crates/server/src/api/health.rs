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
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorCode};
use super::openapi::Unavailable;
use super::state::ApiState;

/// `{"status": "ok"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
}

/// `{"status": "ready", "schema_version": N}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(value_type = String, example = "ready")]
    pub status: &'static str,
    /// The applied schema migration.
    pub schema_version: i64,
}

/// `GET /healthz`: 200 while the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "service", security(()),
    responses((status = 200, description = "The process is up.", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /readyz`: 200 when the store answers and its migrations are applied, else 503.
#[utoipa::path(get, path = "/readyz", tag = "service", security(()),
    responses((status = 200, description = "The store answers and its migrations are applied.", body = Ready), Unavailable))]
pub async fn readyz(State(state): State<ApiState>) -> Result<Json<Ready>, ApiError> {
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
    Ok(Json(Ready {
        status: "ready",
        schema_version: version,
    }))
}

/// `GET /metrics`: the Prometheus text format, with the job queue depth, the alert backlog, the
/// database size and the rows per table read from the store now.
#[utoipa::path(get, path = "/metrics", tag = "service", security(()),
    responses((status = 200, description = "Prometheus metrics (text format 0.0.4).", body = String, content_type = "text/plain"), Unavailable))]
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
            crate::metrics::queue_depth(depth.queued + depth.running);
            metrics::gauge!("mspbridge_dead_jobs").set(depth.dead as f64);
        }
        Err(error) => tracing::warn!(%error, "queue depth not available for /metrics"),
    }
    super::metrics::record_itglue_budgets(state.config());
    match state.store().count_alerts(AlertState::Queued).await {
        Ok(queued) => crate::metrics::alerts_queued(queued),
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

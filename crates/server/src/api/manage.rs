//! Handlers of the management API under `/api/v1`: incidents, events, queue (and retry), alerts,
//! clients and sources. Each is a thin layer over [`super::views`]; query strings are checked here so
//! a bad parameter is a `400 invalid_query` that names it.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{check_limit, ApiPath, ApiQuery};
use super::state::ApiState;
use super::views::{
    self, AlertQuery, AlertView, ClientView, EventQuery, EventView, IncidentView, JobView,
    QueueView, SourceView,
};

/// Query of `GET /incidents`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    /// Only this client.
    pub client: Option<String>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// `GET /api/v1/incidents`.
pub async fn get_incidents(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<IncidentQuery>,
) -> Result<Json<Vec<IncidentView>>, ApiError> {
    check_limit(params.limit)?;
    Ok(Json(
        views::incidents(state.store(), params.client, params.limit).await?,
    ))
}

/// `GET /api/v1/events`.
pub async fn get_events(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<EventQuery>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    check_limit(params.limit)?;
    Ok(Json(
        views::events(state.store(), params, state.now()).await?,
    ))
}

/// Query of `GET /queue`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// At most this many jobs per state.
    pub limit: Option<u32>,
}

/// `GET /api/v1/queue`.
pub async fn get_queue(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<QueueQuery>,
) -> Result<Json<QueueView>, ApiError> {
    check_limit(params.limit)?;
    Ok(Json(views::queue(state.store(), params.limit).await?))
}

/// `POST /api/v1/queue/{id}/retry`.
pub async fn post_retry(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<JobView>, ApiError> {
    let job = views::retry_job(state.store(), id, state.now()).await?;
    state.wake();
    Ok(Json(job))
}

/// `GET /api/v1/alerts`.
pub async fn get_alerts(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<AlertQuery>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    check_limit(params.limit)?;
    Ok(Json(views::alerts(state.store(), params).await?))
}

/// `GET /api/v1/clients`.
pub async fn get_clients(State(state): State<ApiState>) -> Json<Vec<ClientView>> {
    Json(views::clients(state.config()))
}

/// `GET /api/v1/sources`.
pub async fn get_sources(State(state): State<ApiState>) -> Json<Vec<SourceView>> {
    Json(views::sources(state.config()))
}

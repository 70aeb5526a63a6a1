//! Handlers of the management API under `/api/v1`: incidents, events, queue (and retry), alerts,
//! clients and sources. Each is a thin layer over [`super::views`]; query strings are checked here so
//! a bad parameter is a `400 invalid_query` that names it.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::{ApiError, ErrorCode};
use super::state::ApiState;
use super::views::{
    self, AlertQuery, AlertView, ClientView, EventQuery, EventView, IncidentView, JobView,
    QueueView, SourceView,
};

fn query<T: DeserializeOwned>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query
        .map(|Query(value)| value)
        .map_err(|rejection| ApiError::new(ErrorCode::InvalidQuery, rejection.body_text()))
}

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
    params: Result<Query<IncidentQuery>, QueryRejection>,
) -> Result<Json<Vec<IncidentView>>, ApiError> {
    let params = query(params)?;
    Ok(Json(
        views::incidents(state.store(), params.client, params.limit).await?,
    ))
}

/// `GET /api/v1/events`.
pub async fn get_events(
    State(state): State<ApiState>,
    params: Result<Query<EventQuery>, QueryRejection>,
) -> Result<Json<Vec<EventView>>, ApiError> {
    let params = query(params)?;
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
    params: Result<Query<QueueQuery>, QueryRejection>,
) -> Result<Json<QueueView>, ApiError> {
    let params = query(params)?;
    Ok(Json(views::queue(state.store(), params.limit).await?))
}

/// `POST /api/v1/queue/{id}/retry`.
pub async fn post_retry(
    State(state): State<ApiState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let Path(id) = id.map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidQuery,
            "the job id in the path must be a number",
        )
    })?;
    let job = views::retry_job(state.store(), id, state.now()).await?;
    state.wake();
    Ok(Json(job))
}

/// `POST /api/v1/alerts/reroute`: every unrouted alert routed again under the configuration in
/// force; those that found a client are queued again at once.
pub async fn post_reroute(
    State(state): State<ApiState>,
) -> Result<Json<crate::engine::RerouteOutcome>, ApiError> {
    let outcome =
        crate::engine::reroute_unrouted_alerts(state.store().as_ref(), state.config(), state.now())
            .await
            .map_err(|error| ApiError::store("routing the unrouted alerts again", &error))?;
    if outcome.routed > 0 {
        state.wake();
    }
    Ok(Json(outcome))
}

/// `GET /api/v1/alerts`.
pub async fn get_alerts(
    State(state): State<ApiState>,
    params: Result<Query<AlertQuery>, QueryRejection>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    let params = query(params)?;
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

//! Handlers of the management API under `/api/v1`: incidents, events, queue (and retry), alerts,
//! clients and sources. Each is a thin layer over [`super::views`]; query strings are checked here so
//! a bad parameter is a `400 invalid_query` that names it.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use super::extract::{check_limit, ApiPath, ApiQuery};
use super::openapi::{BadRequest, Conflict, NotFound, Unauthorized, Unavailable};
use super::state::ApiState;
use super::views::{
    self, AlertDetail, AlertQuery, AlertView, ClientView, EventQuery, EventView, IncidentView,
    JobView, QueueView, SourceView,
};

/// Query of `GET /incidents`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Only this client.
    pub client: Option<String>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// `GET /api/v1/incidents`.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "manage", params(IncidentQuery),
    responses((status = 200, description = "Tracked incidents and their tickets.", body = [IncidentView]), BadRequest, Unauthorized, Unavailable))]
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
#[utoipa::path(get, path = "/api/v1/events", tag = "manage", params(EventQuery),
    responses((status = 200, description = "Integration events, newest first.", body = [EventView]), BadRequest, Unauthorized, Unavailable))]
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
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// At most this many jobs per state (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// `GET /api/v1/queue`.
#[utoipa::path(get, path = "/api/v1/queue", tag = "manage", params(QueueQuery),
    responses((status = 200, description = "Queued, running and dead-lettered jobs with their last error.", body = QueueView), BadRequest, Unauthorized, Unavailable))]
pub async fn get_queue(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<QueueQuery>,
) -> Result<Json<QueueView>, ApiError> {
    check_limit(params.limit)?;
    Ok(Json(views::queue(state.store(), params.limit).await?))
}

/// `POST /api/v1/queue/{id}/retry`.
#[utoipa::path(post, path = "/api/v1/queue/{id}/retry", tag = "manage", params(("id" = i64, Path, description = "job id")),
    responses((status = 200, description = "The dead job, queued again.", body = JobView), BadRequest, Unauthorized, NotFound, Conflict, Unavailable))]
pub async fn post_retry(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<JobView>, ApiError> {
    let job = views::retry_job(state.store(), id, state.now()).await?;
    state.wake();
    Ok(Json(job))
}

/// `POST /api/v1/alerts/reroute`: every unrouted alert routed again under the configuration in
/// force; those that found a client are queued again at once.
#[utoipa::path(post, path = "/api/v1/alerts/reroute", tag = "manage",
    responses((status = 200, description = "How many unrouted alerts were looked at, and how many found a client and were queued again.", body = crate::engine::RerouteOutcome), Unauthorized, Unavailable))]
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
#[utoipa::path(get, path = "/api/v1/alerts", tag = "manage", params(AlertQuery),
    responses((status = 200, description = "Stored alerts, ascending id.", body = [AlertView]), BadRequest, Unauthorized, Unavailable))]
pub async fn get_alerts(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<AlertQuery>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    check_limit(params.limit)?;
    Ok(Json(views::alerts(state.store(), params).await?))
}

/// `GET /api/v1/alerts/{id}`: one alert with the rule decisions taken about it (with their
/// reasons) and its ticket.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "manage", params(("id" = i64, Path, description = "alert id")),
    responses((status = 200, description = "The alert, its rule decisions with their reasons, oldest first, and its ticket.", body = AlertDetail), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn get_alert(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AlertDetail>, ApiError> {
    Ok(Json(views::alert_detail(state.store(), id).await?))
}

/// `GET /api/v1/clients`.
#[utoipa::path(get, path = "/api/v1/clients", tag = "manage",
    responses((status = 200, description = "Configured clients with their effective ConnectWise routing.", body = [ClientView]), Unauthorized))]
pub async fn get_clients(State(state): State<ApiState>) -> Json<Vec<ClientView>> {
    Json(views::clients(state.config()))
}

/// `GET /api/v1/sources`.
#[utoipa::path(get, path = "/api/v1/sources", tag = "manage",
    responses((status = 200, description = "Configured alert sources (never their credentials).", body = [SourceView]), Unauthorized))]
pub async fn get_sources(State(state): State<ApiState>) -> Json<Vec<SourceView>> {
    Json(views::sources(state.config()))
}

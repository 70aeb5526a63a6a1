//! Reports under `/api/v1/reports` (DESIGN §2.3): list them, generate one, upload an external
//! HTML report, publish one to IT Glue, and download a report's HTML.
//!
//! The handlers are thin: making, checking and publishing reports live in [`crate::reports`], so
//! the API, the CLI and the scheduler behave the same. Downloads are served as attachments in a
//! sandbox: an uploaded report is someone else's HTML and must never run script in the origin of
//! the console.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mspbridge_store::{PublishState, ReportFilter, ReportId, ReportMeta};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::JsonBody;
use super::error::{ApiError, ErrorCode};
use super::extract::{check_limit, ApiPath, ApiQuery};
use super::openapi::{BadRequest, Conflict, NotFound, PayloadTooLarge, Unauthorized, Unavailable};
use super::state::ApiState;
use crate::reports::{
    self, GenerateRequest, PublishRequest, ReportError, ReportPeriod, DEFAULT_EXPIRES_AFTER,
    DEFAULT_REPORT_NAME, MAX_EXTERNAL_REPORT_BYTES,
};

/// The routes of this module, merged into the protected part of the router.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(get_reports))
        .routes(routes!(post_generate))
        .routes(routes!(post_upload))
        .routes(routes!(get_report))
        .routes(routes!(post_publish))
        .routes(routes!(get_download))
}

fn report_error(error: ReportError) -> ApiError {
    match &error {
        ReportError::Store(store) => ApiError::store("working on reports", store),
        ReportError::UnknownClient { .. } => {
            ApiError::new(ErrorCode::UnknownClient, error.to_string())
        }
        ReportError::InvalidHtml(_) | ReportError::InvalidRequest(_) => {
            ApiError::new(ErrorCode::InvalidField, error.to_string())
        }
        ReportError::NotFound(_) => ApiError::new(ErrorCode::NotFound, error.to_string()),
        ReportError::RaiseAlert { .. } => ApiError::new(ErrorCode::StoreFailed, error.to_string()),
    }
}

/// Query of `GET /reports`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// Only this client.
    pub client: Option<String>,
    /// Only this publish state.
    #[param(value_type = Option<PublishState>)]
    pub state: Option<String>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// `GET /api/v1/reports`: newest first, without their HTML.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportsQuery),
    responses((status = 200, description = "Reports, newest first, without their HTML.", body = [ReportMeta]), BadRequest, Unauthorized, Unavailable))]
pub async fn get_reports(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<ReportsQuery>,
) -> Result<Json<Vec<ReportMeta>>, ApiError> {
    check_limit(query.limit)?;
    Ok(Json(list(&state, query).await?))
}

/// Reports matching `query`, newest first, without their HTML.
pub async fn list(state: &ApiState, query: ReportsQuery) -> Result<Vec<ReportMeta>, ApiError> {
    let publish_state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(PublishState::parse(text).ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "state {text:?} is not one of unpublished, pending, published, failed, refused"
                ),
            )
        })?),
    };
    state
        .store()
        .list_reports(ReportFilter {
            client: query.client,
            publish_state,
            limit: query.limit,
        })
        .await
        .map_err(|e| ApiError::store("listing reports", &e))
}

/// Body of `POST /reports/generate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateBody {
    /// Client.
    #[schema(min_length = 1)]
    pub client: String,
    /// Report name (default "Security Summary").
    #[serde(default)]
    pub name: Option<String>,
    /// Days covered, ending now (default 7, at most 366).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 366)]
    pub days: Option<u32>,
    /// Also publish it to IT Glue.
    #[serde(default)]
    pub publish: bool,
}

/// `POST /api/v1/reports/generate`: 201 with the report (and the publish outcome when asked).
#[utoipa::path(post, path = "/api/v1/reports/generate", tag = "reports", request_body = GenerateBody,
    responses((status = 201, description = "The generated report (and the publish outcome when asked).", body = ReportCreated), BadRequest, Unauthorized, NotFound, PayloadTooLarge, Unavailable))]
pub async fn post_generate(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<GenerateBody>,
) -> Result<(StatusCode, Json<ReportCreated>), ApiError> {
    Ok((StatusCode::CREATED, Json(generate(&state, body).await?)))
}

/// Generates a report (and requests its publishing when asked).
pub async fn generate(state: &ApiState, body: GenerateBody) -> Result<ReportCreated, ApiError> {
    let days = body.days.unwrap_or(7);
    if !(1..=366).contains(&days) {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("days: {days} is outside 1..=366"),
        ));
    }
    let now = state.now();
    let name = body.name.unwrap_or_else(|| DEFAULT_REPORT_NAME.to_string());
    let expires_after = state
        .config()
        .reports
        .iter()
        .find(|entry| entry.name == name)
        .map_or(DEFAULT_EXPIRES_AFTER, |entry| entry.expires_after);
    let request = GenerateRequest {
        client: body.client,
        name,
        period: ReportPeriod::days_before(now, days),
        expires_after: Some(expires_after),
    };
    let report = reports::generate_report(state.store().as_ref(), state.config(), &request, now)
        .await
        .map_err(report_error)?;
    let publish = match body.publish {
        true => Some(publish_answer(state, report.id).await?),
        false => None,
    };
    Ok(ReportCreated { report, publish })
}

/// Query of `POST /reports/upload`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// Client.
    #[param(min_length = 1)]
    pub client: String,
    /// Report name (default "Security Summary").
    pub name: Option<String>,
    /// Also publish it to IT Glue.
    #[serde(default)]
    pub publish: bool,
}

/// `POST /api/v1/reports/upload?client=C[&name=N][&publish=true]` with the HTML as the body.
#[utoipa::path(post, path = "/api/v1/reports/upload", tag = "reports", params(UploadQuery),
    request_body(content = String, content_type = "text/html", description = "A self-contained HTML report."),
    responses((status = 201, description = "The stored report (and the publish outcome when asked).", body = ReportCreated), BadRequest, Unauthorized, NotFound, PayloadTooLarge, Unavailable))]
pub async fn post_upload(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, Json<ReportCreated>), ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("a report may have at most {MAX_EXTERNAL_REPORT_BYTES} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_EXTERNAL_REPORT_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(request.into_body(), MAX_EXTERNAL_REPORT_BYTES)
        .await
        .map_err(|_| too_large())?;
    let report = reports::store_external_report(
        state.store().as_ref(),
        state.config(),
        &query.client,
        query.name.as_deref().unwrap_or(DEFAULT_REPORT_NAME),
        &bytes,
        Some(DEFAULT_EXPIRES_AFTER),
        state.now(),
    )
    .await
    .map_err(report_error)?;
    let publish = match query.publish {
        true => Some(publish_answer(&state, report.id).await?),
        false => None,
    };
    Ok((StatusCode::CREATED, Json(ReportCreated { report, publish })))
}

/// `GET /api/v1/reports/{id}`: the report without its HTML.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports", params(("id" = i64, Path, description = "report id")),
    responses((status = 200, description = "The report's metadata and publish state.", body = ReportMeta), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn get_report(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<ReportId>,
) -> Result<Json<ReportMeta>, ApiError> {
    let report = state
        .store()
        .get_report(id)
        .await
        .map_err(|e| ApiError::store("reading a report", &e))?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("report {id} does not exist")))?;
    Ok(Json(report.meta))
}

/// `POST /api/v1/reports/{id}/publish`: 202 with the job, or 409 with the reason it was refused.
#[utoipa::path(post, path = "/api/v1/reports/{id}/publish", tag = "reports", params(("id" = i64, Path, description = "report id")),
    responses((status = 202, description = "Publishing is queued.", body = PublishAnswer), BadRequest, Unauthorized, NotFound, Conflict, Unavailable))]
pub async fn post_publish(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<ReportId>,
) -> Result<(StatusCode, Json<PublishAnswer>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(publish(&state, id).await?)))
}

/// *Publish to IT Glue*: the queued job, or a 409 error with the reason it was refused.
pub async fn publish(state: &ApiState, id: ReportId) -> Result<PublishAnswer, ApiError> {
    let answer = publish_answer(state, id).await?;
    if let Some(reason) = &answer.refused {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("publishing report {id} refused: {reason}"),
        ));
    }
    Ok(answer)
}

/// What a stored report answers: the report, and the publish outcome when publishing was asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCreated {
    /// The report (without its HTML).
    pub report: ReportMeta,
    /// The publish outcome; only when `publish` was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishAnswer>,
}

/// The outcome of asking to publish: `pending` with the job, or `refused` with the reason.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishAnswer {
    /// `pending` (a publish job is queued) or `refused`.
    #[schema(value_type = PublishState)]
    pub state: &'static str,
    /// The queued publish job (when `pending`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
    /// Why publishing was refused (when `refused`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

async fn publish_answer(state: &ApiState, id: ReportId) -> Result<PublishAnswer, ApiError> {
    let outcome = reports::request_publish(state.store(), state.config(), id, state.now())
        .await
        .map_err(report_error)?;
    Ok(match outcome {
        PublishRequest::Queued { job_id } => {
            // The job runner publishes it now rather than at its next look at the queue.
            state.wake();
            PublishAnswer {
                state: "pending",
                job_id: Some(job_id),
                refused: None,
            }
        }
        PublishRequest::Refused { reason } => PublishAnswer {
            state: "refused",
            job_id: None,
            refused: Some(reason),
        },
    })
}

/// `GET /api/v1/reports/{id}/download`: the HTML as an attachment, in a script-free sandbox.
#[utoipa::path(get, path = "/api/v1/reports/{id}/download", tag = "reports", params(("id" = i64, Path, description = "report id")),
    responses((status = 200, description = "The report's HTML as an attachment, in a script-free sandbox.", body = String, content_type = "text/html"), BadRequest, Unauthorized, NotFound, Unavailable))]
pub async fn get_download(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<ReportId>,
) -> Result<Response, ApiError> {
    report_response(&state, id, true).await
}

/// Report `id` with its HTML, or a 404 error.
pub async fn read(state: &ApiState, id: ReportId) -> Result<mspbridge_store::Report, ApiError> {
    state
        .store()
        .get_report(id)
        .await
        .map_err(|e| ApiError::store("reading a report", &e))?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("report {id} does not exist")))
}

/// Report `id`'s HTML in a script-free sandbox: as a download, or inline for the console's
/// preview frame (which only this origin may frame).
pub async fn report_response(
    state: &ApiState,
    id: ReportId,
    attachment: bool,
) -> Result<Response, ApiError> {
    let report = read(state, id).await?;
    let file_name = reports::publish::file_name(&report.meta);
    let (disposition, frame) = if attachment {
        (format!("attachment; filename=\"{file_name}\""), "'none'")
    } else {
        (format!("inline; filename=\"{file_name}\""), "'self'")
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CONTENT_SECURITY_POLICY,
                format!("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors {frame}"),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        report.html,
    )
        .into_response())
}

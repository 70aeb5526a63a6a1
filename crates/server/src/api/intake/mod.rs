//! The alert intake: `POST /api/v1/alerts`, `/alerts/netwrix` and `/alerts/alertmanager`.
//!
//! Each endpoint maps its input onto the one [`Alert`] shape (DESIGN §1), checks it completely
//! (every id, the source, the client) and only then hands it to [`accept`], which returns once the
//! store has it durably. The answer is `202 {"id", "duplicate"}` after that and never before: a
//! sender that gets no 202 must retry, and the `(source, source alert id)` dedup makes the retry
//! harmless. Nothing is stored when any check fails.
//!
//! [`accept_netwrix`] is also what `mspbridge alert` calls when the service is not running, so the
//! Auditor response action writes exactly what the HTTP intake would.

mod alertmanager;
mod native;
mod netwrix;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use mspbridge_core::alert::Alert;
use mspbridge_core::config::{Config, SourceConfig, SourceKind};
use mspbridge_store::Store;
use serde::{Deserialize, Serialize};

pub use alertmanager::{AlertStatus, AlertmanagerAlert, AlertmanagerPayload, PayloadVersion};
pub use native::{NativeAlert, NativeDetail, NativeRecord};
pub use netwrix::{accept_netwrix, NetwrixAlertRequest};

use super::body::JsonBody;
use super::error::{ApiError, ErrorCode};
use super::extract::ApiQuery;
use super::openapi::{BadRequest, PayloadTooLarge, RateLimited, Unauthorized, Unavailable};
use super::rate::IntakePermit;
use super::state::ApiState;
use crate::intake::{self, IntakeError};

/// Longest id or name the intake takes (Netwrix RIDs are 49 characters).
pub const MAX_ID_CHARS: usize = 255;

/// The answer to an accepted alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The alert's store id (the existing one for a duplicate).
    pub id: i64,
    /// True when the alert was already stored; nothing changed.
    pub duplicate: bool,
}

/// The answer to an Alertmanager notification: one entry per alert, in payload order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcceptedBatch {
    /// Outcome per alert.
    pub alerts: Vec<Accepted>,
}

/// Stores `alert` durably unless its `(source, source_alert_id)` is already stored, through the
/// engine's one door for accepted alerts; `now` becomes its `received_at`.
pub async fn accept(
    store: &Arc<dyn Store>,
    alert: Alert,
    now: DateTime<Utc>,
) -> Result<Accepted, ApiError> {
    let outcome = intake::accept(store, alert, now)
        .await
        .map_err(|error| match error {
            IntakeError::Store(error) => ApiError::store("storing the alert", &error),
            IntakeError::InvalidAlert { detail, .. } => {
                ApiError::new(ErrorCode::InvalidField, detail)
            }
        })?;
    Ok(Accepted {
        id: outcome.alert_id(),
        duplicate: !outcome.is_new(),
    })
}

/// The source an alert is for: the named one, or without a name the only source of `kind`.
/// `field` is the name of the request field (or CLI flag) the name came from, for messages.
pub fn resolve_source<'c>(
    config: &'c Config,
    requested: Option<&str>,
    kind: Option<SourceKind>,
    field: &str,
) -> Result<&'c SourceConfig, ApiError> {
    let names = |kind: Option<SourceKind>| {
        let names: Vec<&str> = config
            .sources
            .iter()
            .filter(|source| kind.is_none_or(|kind| source.kind == kind))
            .map(|source| source.name.as_str())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let kind_text = kind.map(SourceKind::as_str).unwrap_or("any");
    match requested {
        Some(name) => {
            let source = config.source(name).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownSource,
                    format!(
                        "{field}: unknown source \"{name}\"; configured {kind_text} sources: {}",
                        names(kind)
                    ),
                )
            })?;
            match kind {
                Some(kind) if source.kind != kind => Err(ApiError::new(
                    ErrorCode::UnknownSource,
                    format!(
                        "{field}: source \"{name}\" is a {} source, this intake takes {} sources ({})",
                        source.kind.as_str(),
                        kind.as_str(),
                        names(Some(kind))
                    ),
                )),
                _ => Ok(source),
            }
        }
        None => {
            let mut matching = config
                .sources
                .iter()
                .filter(|source| kind.is_none_or(|kind| source.kind == kind));
            match (matching.next(), matching.next()) {
                (Some(only), None) => Ok(only),
                (None, _) => Err(ApiError::new(
                    ErrorCode::UnknownSource,
                    format!("{field}: no {kind_text} source is configured ([[sources]])"),
                )),
                (Some(_), Some(_)) => Err(ApiError::new(
                    ErrorCode::InvalidField,
                    format!(
                        "{field} is required: several {kind_text} sources are configured: {}",
                        names(kind)
                    ),
                )),
            }
        }
    }
}

/// Checks that an id or name is usable: not blank, at most [`MAX_ID_CHARS`], no control characters.
pub fn check_id(field: &str, value: &str) -> Result<(), ApiError> {
    let problem = if value.trim().is_empty() {
        Some("must not be empty".to_string())
    } else if mspbridge_core::text::is_blank(value) {
        Some("must not consist of invisible characters only".to_string())
    } else if value.chars().count() > MAX_ID_CHARS {
        Some(format!("is longer than {MAX_ID_CHARS} characters"))
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters".to_string())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("{field} {problem}"),
        )),
        None => Ok(()),
    }
}

/// Checks a free field's or label's value: it may be empty, but not text that shows nothing
/// (only spaces, zero-width or bidirectional characters), and it holds no control characters
/// other than line breaks and tabs.
pub fn check_value(field: &str, value: &str) -> Result<(), ApiError> {
    let problem = if !value.is_empty() && mspbridge_core::text::is_blank(value) {
        Some("must not consist of invisible characters only")
    } else if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Some("must not contain control characters other than line breaks and tabs")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(ApiError::new(
            ErrorCode::InvalidField,
            format!("{field} {problem}"),
        )),
        None => Ok(()),
    }
}

/// Checks that `client` names a configured client.
pub fn check_client(config: &Config, field: &str, client: &str) -> Result<(), ApiError> {
    if config.client(client).is_some() {
        return Ok(());
    }
    let names: Vec<&str> = config.clients.iter().map(|c| c.name.as_str()).collect();
    Err(ApiError::new(
        ErrorCode::UnknownClient,
        format!(
            "{field}: unknown client \"{client}\"; configured clients: {}",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ),
    ))
}

fn accepted_response<T: Serialize>(body: T) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// `POST /api/v1/alerts`.
#[utoipa::path(post, path = "/api/v1/alerts", tag = "intake", request_body = NativeAlert,
    responses((status = 202, description = "Stored durably (or already stored: duplicate = true).", body = Accepted), BadRequest, Unauthorized, PayloadTooLarge, RateLimited, Unavailable))]
pub async fn post_native(
    _: IntakePermit,
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<NativeAlert>,
) -> Result<Response, ApiError> {
    let alert = body.into_alert(state.config(), state.now())?;
    let accepted = accept(state.store(), alert, state.now()).await?;
    state.wake();
    Ok(accepted_response(accepted))
}

/// `POST /api/v1/alerts/netwrix`.
#[utoipa::path(post, path = "/api/v1/alerts/netwrix", tag = "intake", request_body = NetwrixAlertRequest,
    responses((status = 202, description = "Stored durably (or already stored); the activity record is fetched later.", body = Accepted), BadRequest, Unauthorized, PayloadTooLarge, RateLimited, Unavailable))]
pub async fn post_netwrix(
    _: IntakePermit,
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<NetwrixAlertRequest>,
) -> Result<Response, ApiError> {
    let accepted = accept_netwrix(state.store(), state.config(), body, state.now()).await?;
    state.wake();
    Ok(accepted_response(accepted))
}

/// Query of `POST /api/v1/alerts/alertmanager`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertmanagerQuery {
    /// The alertmanager source; optional when only one is configured.
    pub source: Option<String>,
}

/// `POST /api/v1/alerts/alertmanager[?source=NAME]`.
///
/// Over the intake rate limit the answer is `503` with `Retry-After`, not the other intakes'
/// `429`: Alertmanager retries a 5xx with backoff, but takes a 429 as a permanent failure and
/// drops the notification until the group's next interval.
#[utoipa::path(post, path = "/api/v1/alerts/alertmanager", tag = "intake", params(AlertmanagerQuery), request_body = AlertmanagerPayload,
    responses((status = 202, description = "Every alert of the notification stored (or already stored).", body = AcceptedBatch), BadRequest, Unauthorized, PayloadTooLarge, Unavailable))]
pub async fn post_alertmanager(
    permit: Result<IntakePermit, ApiError>,
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<AlertmanagerQuery>,
    JsonBody(body): JsonBody<AlertmanagerPayload>,
) -> Result<Response, ApiError> {
    if let Err(error) = permit {
        let mut response = error.into_response();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        }
        return Ok(response);
    }
    let source = resolve_source(
        state.config(),
        query.source.as_deref(),
        Some(SourceKind::Alertmanager),
        "source",
    )?;
    let alerts = body.into_alerts(&source.name, state.now())?;
    let mut outcomes = Vec::with_capacity(alerts.len());
    for alert in alerts {
        outcomes.push(accept(state.store(), alert, state.now()).await?);
    }
    state.wake();
    Ok(accepted_response(AcceptedBatch { alerts: outcomes }))
}

/// Parses an RFC 3339 time for a field, naming the field on failure.
pub(crate) fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| {
            ApiError::new(
                ErrorCode::InvalidField,
                format!("{field}: \"{text}\" is not an RFC 3339 time such as 2026-01-31T08:00:00Z ({error})"),
            )
        })
}

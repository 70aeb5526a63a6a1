//! The one error shape of the HTTP API and the one table that maps error codes to statuses.
//!
//! Every failure an API client can see goes through [`ApiError`]: a stable machine-readable
//! [`ErrorCode`] and a human message that names the problem (the field, the source, the job). The
//! status of each code is decided in [`ErrorCode::status`] and nowhere else, so the intake, the
//! management API and the health probes cannot drift apart. Messages never carry secrets: tokens are
//! only ever compared, and store errors never include connection strings.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mspbridge_store::StoreError;
use serde::Serialize;

/// What went wrong, as API clients branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No bearer token, or not one of `server.api_tokens`.
    Unauthorized,
    /// The body is larger than `server.max_body_bytes`.
    PayloadTooLarge,
    /// The body is not JSON at all.
    MalformedJson,
    /// A field is missing, of the wrong type or has an invalid value.
    InvalidField,
    /// The alert names a source the configuration does not have.
    UnknownSource,
    /// The alert names a client the configuration does not have.
    UnknownClient,
    /// A query parameter is invalid.
    InvalidQuery,
    /// A path parameter does not parse (e.g. a report id that is not a number).
    InvalidPath,
    /// The request is malformed in a way no other code describes.
    BadRequest,
    /// The body has a content type the route does not take.
    UnsupportedMediaType,
    /// The intake is over its configured rate.
    RateLimited,
    /// The record does not exist.
    NotFound,
    /// The record is not in a state that allows the operation.
    Conflict,
    /// The path does not exist.
    NoSuchRoute,
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// The store is unreachable or has no schema.
    NotReady,
    /// The store failed while handling the request.
    StoreFailed,
    /// The server failed while handling the request (a bug).
    Internal,
}

impl ErrorCode {
    /// The mapping table: HTTP status and stable spelling of every code.
    pub fn status(self) -> (StatusCode, &'static str) {
        match self {
            ErrorCode::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ErrorCode::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ErrorCode::MalformedJson => (StatusCode::BAD_REQUEST, "malformed_json"),
            ErrorCode::InvalidField => (StatusCode::BAD_REQUEST, "invalid_field"),
            ErrorCode::UnknownSource => (StatusCode::BAD_REQUEST, "unknown_source"),
            ErrorCode::UnknownClient => (StatusCode::BAD_REQUEST, "unknown_client"),
            ErrorCode::InvalidQuery => (StatusCode::BAD_REQUEST, "invalid_query"),
            ErrorCode::InvalidPath => (StatusCode::BAD_REQUEST, "invalid_path"),
            ErrorCode::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
            ErrorCode::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ErrorCode::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ErrorCode::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorCode::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorCode::NoSuchRoute => (StatusCode::NOT_FOUND, "no_such_route"),
            ErrorCode::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ErrorCode::NotReady => (StatusCode::SERVICE_UNAVAILABLE, "not_ready"),
            ErrorCode::StoreFailed => (StatusCode::SERVICE_UNAVAILABLE, "store_failed"),
            ErrorCode::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The stable spelling, e.g. `invalid_field`.
    pub fn as_str(self) -> &'static str {
        self.status().1
    }
}

/// An API failure: a code from the table and a message that names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What exactly, for a human.
    pub message: String,
    /// For [`ErrorCode::RateLimited`]: when to try again.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.code.status().0
    }

    /// A store failure while `action` (e.g. "storing the alert").
    pub fn store(action: &str, error: &StoreError) -> ApiError {
        match error {
            StoreError::NotFound { what, id } => {
                ApiError::new(ErrorCode::NotFound, format!("{what} {id} not found"))
            }
            StoreError::InvalidTransition { .. } | StoreError::Conflict { .. } => {
                ApiError::new(ErrorCode::Conflict, error.to_string())
            }
            _ => ApiError::new(ErrorCode::StoreFailed, format!("{action}: {error}")),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}

impl std::error::Error for ApiError {}

/// The JSON body of every error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Inside [`ErrorBody`].
#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable code, e.g. `invalid_field`.
    #[schema(example = "invalid_field")]
    pub code: String,
    /// Human message naming the problem.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.code.status();
        if status.is_server_error() {
            tracing::warn!(code, message = %self.message, "API request failed");
        } else {
            tracing::debug!(code, message = %self.message, "API request refused");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: self.message,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mspbridge\""),
            );
        }
        if let Some(delay) = self.retry_after {
            let seconds = delay.as_secs().max(1);
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_client_or_server_error_status_and_a_unique_spelling() {
        let codes = [
            ErrorCode::Unauthorized,
            ErrorCode::PayloadTooLarge,
            ErrorCode::MalformedJson,
            ErrorCode::InvalidField,
            ErrorCode::UnknownSource,
            ErrorCode::UnknownClient,
            ErrorCode::InvalidQuery,
            ErrorCode::InvalidPath,
            ErrorCode::BadRequest,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::RateLimited,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::NoSuchRoute,
            ErrorCode::MethodNotAllowed,
            ErrorCode::NotReady,
            ErrorCode::StoreFailed,
            ErrorCode::Internal,
        ];
        let mut names: Vec<&str> = codes.iter().map(|code| code.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), codes.len());
        for code in codes {
            let status = code.status().0;
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code:?}"
            );
        }
    }

    #[test]
    fn store_errors_map_to_not_found_conflict_or_unavailable() {
        let missing = StoreError::NotFound {
            what: "job",
            id: "7".into(),
        };
        assert_eq!(
            ApiError::store("retrying", &missing).code,
            ErrorCode::NotFound
        );
        let transition = StoreError::InvalidTransition {
            what: "job",
            id: "7".into(),
            from: "queued".into(),
            to: "queued".into(),
        };
        assert_eq!(
            ApiError::store("retrying", &transition).code,
            ErrorCode::Conflict
        );
        let other = StoreError::Corrupt("x".into());
        let error = ApiError::store("listing jobs", &other);
        assert_eq!(error.code, ErrorCode::StoreFailed);
        assert!(error.message.starts_with("listing jobs: "), "{error}");
    }
}

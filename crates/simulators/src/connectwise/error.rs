//! ConnectWise-shaped error responses.
//!
//! The real service answers errors with `{"code","message","errors"}` bodies whose codes clients branch
//! on (`NotFound`, `InvalidObject`, `ConnectWiseApi`, …). Every handler returns `ApiError`, so each
//! failure leaves the simulator in exactly that shape, with a message that names the problem.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// One entry of `errors[]` in an `InvalidObject` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
    pub field: String,
}

impl FieldError {
    pub fn missing(field: &str) -> FieldError {
        FieldError {
            code: "MissingRequiredField",
            message: format!("{field} is required."),
            field: field.into(),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> FieldError {
        FieldError {
            code: "InvalidField",
            message: message.into(),
            field: field.into(),
        }
    }
}

/// An error answer: status, body and any extra headers.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({"code": code, "message": message.into()}),
            retry_after: None,
        }
    }

    /// `404 {"code":"NotFound","message":"<what> <id> not found"}`.
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{what} {id} not found"),
        )
    }

    /// The generic `ConnectWiseApi` error the service uses for bad bodies and server faults.
    pub fn connectwise(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: json!({"code": "ConnectWiseApi", "message": message.into(), "errors": null}),
            retry_after: None,
        }
    }

    /// `400 InvalidObject` listing every field problem.
    pub fn invalid_object(resource: &str, errors: Vec<FieldError>) -> ApiError {
        let errors: Vec<Value> = errors
            .into_iter()
            .map(|e| json!({"code": e.code, "message": e.message, "resource": resource, "field": e.field}))
            .collect();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "code": "InvalidObject",
                "message": format!("{resource} object is invalid"),
                "errors": errors,
            }),
            retry_after: None,
        }
    }

    /// `Could not find member 'x' on object of type 'T'. Path 'x', line L, position P.`
    pub fn unknown_member(type_name: &str, member: &str, line: usize, position: usize) -> ApiError {
        ApiError::connectwise(
            StatusCode::BAD_REQUEST,
            format!(
                "Could not find member '{member}' on object of type '{type_name}'. Path '{member}', line {line}, position {position}."
            ),
        )
    }

    /// A body that is not JSON, or not the JSON shape the operation takes.
    pub fn bad_body(message: impl Into<String>) -> ApiError {
        ApiError::connectwise(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.body);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}

/// A JSON answer with the service's content type.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

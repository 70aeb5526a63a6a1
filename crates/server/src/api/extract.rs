//! Path and query extractors that fail with the one JSON error shape.
//!
//! axum's own `Path` and `Query` reject with `text/plain` and their own wording. Every handler of
//! the API takes [`ApiPath`] and [`ApiQuery`] instead, so a path segment that does not parse
//! (`/api/v1/reports/abc`) is a `400 invalid_path` and a bad query string a `400 invalid_query`,
//! both naming the parameter. [`json_errors`] is the safety net for anything else that answers an
//! error without the shape (a layer, an extractor a future handler adds).

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode};

/// Path parameters deserialised into `T`, or `400 invalid_path` naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| path_error(&rejection))
    }
}

/// The query string deserialised into `T`, or `400 invalid_query` naming the parameter.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| query_error(&rejection))
    }
}

/// `400 invalid_path` for a path rejection, without axum's "Invalid URL: " prefix.
pub fn path_error(rejection: &PathRejection) -> ApiError {
    let text = rejection.body_text();
    let text = text.strip_prefix("Invalid URL: ").unwrap_or(&text);
    ApiError::new(
        ErrorCode::InvalidPath,
        format!("path parameter: {}", plain(text)),
    )
}

/// `400 invalid_query` for a query rejection, without axum's prefix.
pub fn query_error(rejection: &QueryRejection) -> ApiError {
    let text = rejection.body_text();
    let text = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    ApiError::new(
        ErrorCode::InvalidQuery,
        format!("query string: {}", plain(text)),
    )
}

/// Rust type names in serde's words (`u32`, `i64`) say little to an API client.
fn plain(text: &str) -> String {
    let mut text = text.to_string();
    for (rust, word) in [
        ("to a `u32`", "as a whole number from 0 to 4294967295"),
        ("to a `u64`", "as a whole number of 0 or more"),
        ("to a `i64`", "as a whole number"),
        ("to a `i32`", "as a whole number"),
        ("to a `bool`", "as true or false"),
        ("`u32`", "a whole number from 0 to 4294967295"),
        ("`i64`", "a whole number"),
        ("`bool`", "true or false"),
    ] {
        text = text.replace(rust, word);
    }
    text
}

/// Middleware: a 4xx/5xx answer that is not JSON is rewritten into the one error shape, so no
/// route, layer or extractor can answer an error in another form.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let code = code_for(parts.status);
    let message = if text.is_empty() {
        parts
            .status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_lowercase()
    } else {
        text
    };
    let mut rewritten = ApiError::new(code, message).into_response();
    *rewritten.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

fn code_for(status: StatusCode) -> ErrorCode {
    match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::NOT_FOUND => ErrorCode::NoSuchRoute,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::NotReady,
        status if status.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    }
}

/// The answer to a handler that panicked: `500 internal` in the error shape, no detail.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("an API handler panicked");
    ApiError::new(
        ErrorCode::Internal,
        "the server failed while handling the request",
    )
    .into_response()
}

/// A listing's `limit` must be within `1..=MAX_LIMIT`; anything else is a `400 invalid_query`
/// rather than silently another page size.
pub fn check_limit(limit: Option<u32>) -> Result<(), ApiError> {
    match limit {
        Some(limit) if !(1..=super::views::MAX_LIMIT).contains(&limit) => Err(ApiError::new(
            ErrorCode::InvalidQuery,
            format!("limit: {limit} is outside 1..={}", super::views::MAX_LIMIT),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;
    use tower_http::catch_panic::CatchPanicLayer;

    use super::*;
    use crate::api::ErrorBody;

    async fn call(router: Router, path: &str) -> (StatusCode, Option<String>, ErrorBody) {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|value| value.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_plain_text_error_is_rewritten_into_the_shape_keeping_status_and_headers() {
        let router = Router::new()
            .route(
                "/plain",
                get(|| async { (StatusCode::BAD_REQUEST, "the thing is wrong") }),
            )
            .route(
                "/busy",
                get(|| async {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "7")],
                        "",
                    )
                }),
            )
            .layer(axum::middleware::from_fn(json_errors));
        let (status, _, body) = call(router.clone(), "/plain").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body.error.code, "bad_request");
        assert_eq!(body.error.message, "the thing is wrong");
        let (status, retry, body) = call(router, "/busy").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("7"));
        assert_eq!(body.error.code, "rate_limited");
        assert_eq!(body.error.message, "too many requests");
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_internal_without_detail() {
        async fn boom() -> &'static str {
            panic!("secret detail")
        }
        let router = Router::new()
            .route("/boom", get(boom))
            .layer(CatchPanicLayer::custom(panic_response));
        let (status, _, body) = call(router, "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body.error.code, "internal");
        assert!(!body.error.message.contains("secret"));
    }

    #[test]
    fn limits_outside_one_to_the_maximum_are_refused() {
        assert!(check_limit(None).is_ok());
        assert!(check_limit(Some(1)).is_ok());
        assert!(check_limit(Some(super::super::views::MAX_LIMIT)).is_ok());
        assert_eq!(
            check_limit(Some(0)).unwrap_err().code,
            ErrorCode::InvalidQuery
        );
        assert!(check_limit(Some(super::super::views::MAX_LIMIT + 1)).is_err());
    }
}

//! Reading JSON request bodies with a size limit and errors that name the bad field.
//!
//! axum's own `Json` extractor answers in plain text with its own wording; the intake promises one
//! JSON error shape and a message that points at the field (`records[0].when: invalid type…`). So
//! bodies are read here: the declared length is checked before anything is read, the body is read
//! up to `server.max_body_bytes` (chunked uploads included), and serde errors are reported with
//! their path through `serde_path_to_error`.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ErrorCode};
use super::state::ApiState;

/// A JSON body deserialised into `T`, or an [`ApiError`] naming what is wrong.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T> FromRequest<ApiState> for JsonBody<T>
where
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &ApiState) -> Result<Self, Self::Rejection> {
        let limit = state.max_body_bytes();
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if let Some(length) = declared {
            if length > limit as u64 {
                return Err(too_large(limit));
            }
        }
        let bytes = read_limited(request.into_body(), limit).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "the request body is larger than the limit of {limit} bytes (server.max_body_bytes)"
        ),
    )
}

async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|error| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = source {
            if current.is::<http_body_util::LengthLimitError>() {
                return too_large(limit);
            }
            source = current.source();
        }
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the request body could not be read: {error}"),
        )
    })
}

/// Parses `bytes` as JSON into `T`; syntax errors give line and column, data errors the field path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(|byte| byte.is_ascii_whitespace()) {
        return Err(ApiError::new(
            ErrorCode::MalformedJson,
            "the request body is empty; send a JSON object",
        ));
    }
    // Tracking the path costs on every field, so the common, valid body is parsed without it and
    // only a body that fails is parsed again to say where.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(describe)?;
    deserializer.end().map_err(|error| {
        ApiError::new(ErrorCode::MalformedJson, format!("malformed JSON: {error}"))
    })?;
    Ok(value)
}

fn describe(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::new(ErrorCode::MalformedJson, format!("malformed JSON: {inner}"));
    }
    // serde_json appends " at line L column C" to data errors; the path says more.
    let text = inner.to_string();
    let text = match text.rfind(" at line ") {
        Some(position) => text[..position].to_string(),
        None => text,
    };
    let message = if path == "." || path.is_empty() {
        text
    } else {
        format!("{path}: {text}")
    };
    ApiError::new(ErrorCode::InvalidField, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        items: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        count: u32,
    }

    #[test]
    fn errors_name_the_field_or_the_position() {
        let cases: &[(&str, ErrorCode, &str)] = &[
            ("{", ErrorCode::MalformedJson, "malformed JSON: EOF"),
            ("", ErrorCode::MalformedJson, "empty"),
            (
                r#"{"name": "a", "items": []} x"#,
                ErrorCode::MalformedJson,
                "trailing characters",
            ),
            (
                r#"{"items": []}"#,
                ErrorCode::InvalidField,
                "missing field `name`",
            ),
            (
                r#"{"name": "a", "items": [{"count": "x"}]}"#,
                ErrorCode::InvalidField,
                "items[0].count: invalid type: string \"x\", expected u32",
            ),
            (
                r#"{"name": 1, "items": []}"#,
                ErrorCode::InvalidField,
                "name: invalid type: integer `1`",
            ),
            (
                r#"{"name": "a", "items": [], "extra": 1}"#,
                ErrorCode::InvalidField,
                "unknown field `extra`",
            ),
        ];
        for (body, code, needle) in cases {
            let error = parse_json::<Sample>(body.as_bytes()).unwrap_err();
            assert_eq!(error.code, *code, "{body}: {error}");
            assert!(error.message.contains(needle), "{body}: {error}");
            assert!(!error.message.contains(" at line ") || *code == ErrorCode::MalformedJson);
        }
    }
}

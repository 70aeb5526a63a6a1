//! Bearer-token authentication of the intake and management API.
//!
//! Tokens come from `server.api_tokens`. A candidate is compared with every configured token in
//! constant time (`SecretString::matches`), without stopping at the first match, so the answer time
//! says nothing about which token or how much of it was right. The token is never logged.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, ErrorCode};
use super::state::ApiState;

/// Middleware: lets the request through only with a valid `Authorization: Bearer` token.
pub async fn require_token(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    match check(&state, request.headers().get(header::AUTHORIZATION)) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check(state: &ApiState, header: Option<&axum::http::HeaderValue>) -> Result<(), ApiError> {
    let tokens = &state.config().server.api_tokens;
    if tokens.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "no API tokens are configured (server.api_tokens); the API is closed",
        ));
    }
    let Some(header) = header else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "missing bearer token: send the header \"Authorization: Bearer <token>\"",
        ));
    };
    let candidate = header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Unauthorized,
                "the Authorization header is not \"Bearer <token>\"",
            )
        })?;
    let mut matched = false;
    for token in tokens {
        matched |= token.matches(candidate);
    }
    if matched {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "the bearer token is not one of server.api_tokens",
        ))
    }
}

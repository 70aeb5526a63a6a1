//! The HTTP API of `mspbridge serve`: the alert intake, the management API, the health probes,
//! the metrics and the OpenAPI document (DESIGN §2.3).
//!
//! Layout: [`intake`] turns the three alert formats into stored alerts; [`views`] reads incidents,
//! events, the queue and the configuration for both the API and the listing commands; [`manage`]
//! and [`health`] are thin handlers; [`itglue`] serves the systems inventory and the IT Glue
//! mapping; [`reports`] generates, accepts, publishes and serves reports; [`error`] holds the one
//! error shape and its status table;
//! [`auth`] checks bearer tokens; [`body`] reads JSON with a size limit and field-naming errors.
//! Everything under `/api/v1` needs a token except the OpenAPI document; the probes and `/metrics`
//! are open so orchestrators and Prometheus need no secret. The web console ([`crate::console`])
//! shares the router and has its own session login.

pub mod auth;
pub mod body;
pub mod error;
pub mod extract;
pub mod health;
pub mod intake;
pub mod itglue;
pub mod manage;
pub mod metrics;
pub mod openapi;
mod rate;
pub mod reports;
pub mod state;
pub mod views;

use axum::extract::Request;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody, ErrorCode};
pub use state::{ApiState, ApiStateBuilder, WakeFn};

/// The whole HTTP application: the documented routes (see [`openapi`]), the token check on
/// everything but the open ones, and the JSON answers for unknown routes and methods.
pub fn router(state: ApiState) -> Router {
    let (protected, _) = protected_routes().split_for_parts();
    let (open, _) = open_routes().split_for_parts();
    protected
        .route_layer(from_fn_with_state(state.clone(), auth::require_token))
        .merge(open)
        .merge(crate::console::routes(state.clone()))
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn(extract::json_errors))
        .layer(CatchPanicLayer::custom(extract::panic_response))
        .layer(from_fn(metrics::track_http))
        .with_state(state)
}

/// The routes that need a bearer token, each registered with its description.
fn protected_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(intake::post_native, manage::get_alerts))
        .routes(routes!(intake::post_netwrix))
        .routes(routes!(intake::post_alertmanager))
        .routes(routes!(manage::post_reroute))
        .routes(routes!(manage::get_alert))
        .routes(routes!(manage::get_incidents))
        .routes(routes!(manage::get_events))
        .routes(routes!(manage::get_queue))
        .routes(routes!(manage::post_retry))
        .routes(routes!(manage::get_clients))
        .routes(routes!(manage::get_sources))
        .merge(itglue::routes())
        .merge(reports::routes())
}

/// The routes anyone may call: the document, the probes, the metrics.
fn open_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
}

async fn no_such_route(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::NoSuchRoute,
        format!(
            "no route {} {}; see /api/v1/openapi.json",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} is not allowed on {}; see /api/v1/openapi.json",
            request.method(),
            request.uri().path()
        ),
    )
}

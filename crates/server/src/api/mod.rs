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
use axum::routing::{get, post};
use axum::Router;

pub use error::{ApiError, ErrorBody, ErrorCode};
pub use state::{ApiState, ApiStateBuilder, WakeFn};

/// The whole HTTP application.
pub fn router(state: ApiState) -> Router {
    let protected = Router::new()
        .route(
            "/api/v1/alerts",
            post(intake::post_native).get(manage::get_alerts),
        )
        .route("/api/v1/alerts/netwrix", post(intake::post_netwrix))
        .route("/api/v1/alerts/reroute", post(manage::post_reroute))
        .route(
            "/api/v1/alerts/alertmanager",
            post(intake::post_alertmanager),
        )
        .route("/api/v1/incidents", get(manage::get_incidents))
        .route("/api/v1/events", get(manage::get_events))
        .route("/api/v1/queue", get(manage::get_queue))
        .route("/api/v1/queue/{id}/retry", post(manage::post_retry))
        .route("/api/v1/clients", get(manage::get_clients))
        .route("/api/v1/sources", get(manage::get_sources))
        .merge(itglue::routes())
        .merge(reports::routes())
        .route_layer(from_fn_with_state(state.clone(), auth::require_token));
    let open = Router::new()
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics));
    protected
        .merge(open)
        .merge(crate::console::routes(state.clone()))
        .fallback(no_such_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn(metrics::track_http))
        .with_state(state)
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

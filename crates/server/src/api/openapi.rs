//! The OpenAPI 3.1 document served at `GET /api/v1/openapi.json`, generated from the handlers.
//!
//! Every route is registered through [`utoipa_axum::router::OpenApiRouter`] from the handler's
//! `#[utoipa::path]` attribute, and every body, answer and query is described by deriving from
//! the very type the handler reads or writes. So the router and the document are built from one
//! list and cannot disagree, and a field added to a type appears in the document with it. What
//! the types cannot say (bounds, minimum lengths, the statuses a route answers) is written on the
//! type or the handler, next to the code that enforces it.

use std::sync::OnceLock;

use axum::Json;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use super::error::ErrorBody;
use super::state::ApiState;

/// The parts of the document that belong to no route: title, security scheme, tags.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "mspbridge API",
        description = "Alert intake (Netwrix Auditor, native webhook, Alertmanager), management of incidents, events, the job queue, systems, IT Glue mappings and reports. Every error answers {\"error\": {\"code\", \"message\"}}."
    ),
    components(schemas(ErrorBody, super::error::ErrorDetail)),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags(
        (name = "intake", description = "Alerts in."),
        (name = "manage", description = "Incidents, events, alerts, the job queue and the configuration."),
        (name = "inventory", description = "Systems and their IT Glue mapping."),
        (name = "reports", description = "Security summary reports and their IT Glue publishing."),
        (name = "service", description = "Probes, metrics and this document; no token needed."),
    )
)]
pub struct ApiDoc;

#[derive(Debug)]
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("One of server.api_tokens."))
                    .build(),
            ),
        );
    }
}

/// Every route with its description, before authentication and state are attached.
pub fn documented_routes() -> (OpenApiRouter<ApiState>, OpenApiRouter<ApiState>) {
    (super::protected_routes(), super::open_routes())
}

/// The whole document, built once from the routes.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (protected, open) = documented_routes();
        let (_, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(protected)
            .merge(open)
            .split_for_parts();
        serde_json::to_value(&document).unwrap_or_else(
            |error| serde_json::json!({"openapi": "3.1.0", "info": {"title": error.to_string()}}),
        )
    })
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "service",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1).", body = Object))
)]
pub async fn openapi_json() -> Json<Value> {
    Json(document().clone())
}

/// 400: the request is invalid; the message names the parameter or field.
#[derive(Debug, IntoResponses)]
#[response(
    status = 400,
    description = "A path parameter that does not parse (invalid_path), a bad query parameter (invalid_query), malformed JSON (malformed_json), a missing or invalid field (invalid_field), an unknown source (unknown_source) or client (unknown_client); the message names it."
)]
pub struct BadRequest(pub ErrorBody);

/// 401: no valid bearer token.
#[derive(Debug, IntoResponses)]
#[response(
    status = 401,
    description = "Missing or invalid bearer token (unauthorized)."
)]
pub struct Unauthorized(pub ErrorBody);

/// 404: the record does not exist.
#[derive(Debug, IntoResponses)]
#[response(status = 404, description = "No such record (not_found).")]
pub struct NotFound(pub ErrorBody);

/// 409: the record is not in a state that allows the operation.
#[derive(Debug, IntoResponses)]
#[response(
    status = 409,
    description = "The record is not in a state that allows this (conflict)."
)]
pub struct Conflict(pub ErrorBody);

/// 413: the body is too large.
#[derive(Debug, IntoResponses)]
#[response(
    status = 413,
    description = "The body is larger than the limit of the route (payload_too_large)."
)]
pub struct PayloadTooLarge(pub ErrorBody);

/// 429: the intake is over its rate.
#[derive(Debug, IntoResponses)]
#[response(
    status = 429,
    description = "The intake is over server.intake_rate_limit (rate_limited); see Retry-After.",
    headers(("Retry-After" = u64, description = "Seconds until a request is accepted again."))
)]
pub struct RateLimited(pub ErrorBody);

/// 503: the store (or IT Glue) cannot do this now.
#[derive(Debug, IntoResponses)]
#[response(
    status = 503,
    description = "The store or a connected system failed or is not ready (store_failed, not_ready)."
)]
pub struct Unavailable(pub ErrorBody);

/// `{"ok": …, "detail": …}` of a connection test.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestOutcome {
    /// Whether the connection works.
    pub ok: bool,
    /// What was checked, or why it failed.
    pub detail: String,
}

/// Every operation of the document: (method, path).
pub fn operations() -> Vec<(String, String)> {
    let mut found = Vec::new();
    if let Some(paths) = document()["paths"].as_object() {
        for (path, item) in paths {
            for method in item.as_object().into_iter().flat_map(|item| item.keys()) {
                found.push((method.clone(), path.clone()));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn operation_items() -> Vec<(String, String, &'static Value)> {
        let mut items = Vec::new();
        for (path, item) in document()["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                items.push((method.clone(), path.clone(), operation));
            }
        }
        items
    }

    /// Follows a `$ref` to its component.
    fn resolve(schema: &'static Value) -> &'static Value {
        match schema["$ref"].as_str() {
            Some(reference) => {
                let name = reference.trim_start_matches("#/components/schemas/");
                let target = &document()["components"]["schemas"][name];
                assert!(target.is_object(), "dangling reference {reference}");
                resolve(target)
            }
            None => schema,
        }
    }

    #[test]
    fn no_route_is_added_outside_the_documented_router() {
        // Routes are registered with `routes!(handler)` from the handler's description; a plain
        // `.route(` would serve a path the document does not have.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let mut files = vec![dir.clone()];
        let mut offenders = Vec::new();
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                if code.contains(".route(") || code.contains(".nest(") {
                    offenders.push(path.display().to_string());
                }
            }
        }
        assert!(offenders.is_empty(), "undocumented routes in {offenders:?}");
        assert!(operations().len() >= 31, "{:?}", operations());
    }

    #[test]
    fn every_reference_resolves_and_every_operation_has_a_success_and_its_errors() {
        let text = document().to_string();
        for reference in text.split("\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap();
            assert!(
                document()["components"]["schemas"][name].is_object(),
                "dangling reference {name}"
            );
        }
        assert_eq!(
            document()["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(document()["security"], serde_json::json!([{"bearer": []}]));
        for (method, path, operation) in operation_items() {
            let label = format!("{method} {path}");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{label}: no success status"
            );
            let open = operation["security"] == serde_json::json!([{}]);
            assert_eq!(
                open,
                !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json",
                "{label}: only the probes, /metrics and the document are open"
            );
            if !open {
                assert!(responses.contains_key("401"), "{label}: no 401");
            }
            let parameters: Vec<&'static Value> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            if !parameters.is_empty() {
                assert!(
                    responses.contains_key("400"),
                    "{label}: parameters but no 400"
                );
            }
            if operation["requestBody"].is_object() {
                assert!(responses.contains_key("400"), "{label}: a body but no 400");
                assert!(responses.contains_key("413"), "{label}: a body but no 413");
            }
            if path.contains("{id}") || path.contains("{name}") {
                assert!(
                    responses.contains_key("404"),
                    "{label}: a record path but no 404"
                );
            }
            for (status, response) in responses {
                if !status.starts_with('2') {
                    let schema = &response["content"]["application/json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Error",
                        "{label} {status}: not the error shape"
                    );
                }
            }
            for parameter in parameters {
                let name = parameter["name"].as_str().unwrap();
                if parameter["in"] == "path" {
                    assert_eq!(parameter["required"], true, "{label} {name}");
                    assert!(path.contains(&format!("{{{name}}}")), "{label} {name}");
                }
                if name == "limit" {
                    assert_eq!(parameter["schema"]["minimum"], 1, "{label}");
                    assert_eq!(parameter["schema"]["maximum"], 1000, "{label}");
                }
                if name == "state" {
                    let schema = resolve(&parameter["schema"]);
                    assert!(schema["enum"].is_array(), "{label}: state is not an enum");
                }
            }
        }
    }

    /// Every required string of every request body says it may not be empty.
    #[test]
    fn required_strings_of_request_bodies_have_a_minimum_length() {
        fn walk(schema: &'static Value, at: &str, seen: &mut Vec<String>) {
            if let Some(reference) = schema["$ref"].as_str() {
                if seen.iter().any(|known| known == reference) {
                    return;
                }
                seen.push(reference.to_string());
                return walk(resolve(schema), at, seen);
            }
            for key in ["allOf", "oneOf", "anyOf"] {
                for part in schema[key].as_array().into_iter().flatten() {
                    walk(part, at, seen);
                }
            }
            walk_items(schema, at, seen);
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                let property_at = format!("{at}.{name}");
                let resolved = resolve(property);
                if required.contains(&name.as_str()) && resolved["type"] == "string" {
                    // An enum or a format (date-time) cannot be empty either.
                    let is_enum = resolved["enum"].is_array() || resolved["format"].is_string();
                    assert!(
                        is_enum || resolved["minLength"].as_u64().unwrap_or(0) >= 1,
                        "{property_at}: a required string without minLength"
                    );
                }
                walk(property, &property_at, seen);
            }
        }
        fn walk_items(schema: &'static Value, at: &str, seen: &mut Vec<String>) {
            if schema["items"].is_object() {
                walk(&schema["items"], &format!("{at}[]"), seen);
            }
        }
        let mut checked = 0;
        for (method, path, operation) in operation_items() {
            let content = &operation["requestBody"]["content"]["application/json"]["schema"];
            if content.is_object() {
                walk(content, &format!("{method} {path}"), &mut Vec::new());
                checked += 1;
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["required"] == true && parameter["schema"]["type"] == "string" {
                    assert!(
                        parameter["schema"]["minLength"].as_u64().unwrap_or(0) >= 1
                            || parameter["in"] == "path",
                        "{method} {path} {}: required without minLength",
                        parameter["name"]
                    );
                }
            }
        }
        assert!(checked >= 7, "{checked} JSON bodies");
    }

    #[test]
    fn enums_are_spelled_as_the_api_answers_them() {
        let schemas = &document()["components"]["schemas"];
        let spellings = |name: &str| -> Vec<String> {
            schemas[name]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{name} is not an enum"))
                .iter()
                .map(|value| value.as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            spellings("PublishState"),
            ["unpublished", "pending", "published", "failed", "refused"]
        );
        assert_eq!(
            spellings("AlertState"),
            ["queued", "enriching", "processed", "unrouted"]
        );
        assert_eq!(spellings("JobState"), ["queued", "running", "done", "dead"]);
        for state in spellings("PublishState") {
            let parsed = mspbridge_store::PublishState::parse(&state).unwrap();
            assert_eq!(serde_json::to_value(parsed).unwrap(), state.as_str());
        }
        assert_eq!(
            spellings("SourceKindName"),
            ["netwrix-auditor", "webhook", "alertmanager"]
        );
        for kind in spellings("SourceKindName") {
            let parsed = mspbridge_core::config::SourceKind::parse(&kind);
            assert_eq!(parsed.map(|k| k.as_str()), Some(kind.as_str()));
        }
    }
}

//! The HTTP surface: routing, authentication, response headers, request log and fault hooks.
//!
//! Requests reach the API only as the real service lets them: on a served codebase
//! (`/{codebase}/apis/3.0/...`), with `company+public:private` Basic credentials and a `clientId`
//! header. Every answer carries the service's headers (`api-current-version`, `x-cw-request-id`,
//! `Content-Type: application/json; charset=utf-8`). Control endpoints under `/__simulator/` sit off the
//! API path and need no credentials, so a person trying the product can switch faults with `curl`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Value};

use super::context::ApiContext;
use super::documents;
use super::error::{json_response, ApiError};
use super::faults::{Fault, FaultKind, FAULT_MEMBERS};
use super::lookups::{self, Lookup};
use super::notes;
use super::state::{RequestRecord, SimulatorState};
use super::tickets;

/// Requests kept in the log; the oldest tenth is dropped when it fills, so a long `simulate` run
/// does not grow without bound.
const REQUEST_LOG_LIMIT: usize = 10_000;

/// Largest JSON body the API reads.
const MAX_JSON_BODY: usize = 4 * 1024 * 1024;

/// The simulator as an axum router, for `axum::serve` or for nesting.
pub fn router(state: SimulatorState) -> Router {
    Router::new()
        .route("/login/companyinfo/{company}", get(company_info))
        .route(
            "/__simulator/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route("/__simulator/requests", get(request_log))
        .fallback(api_entry)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            service_behaviour,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

fn is_control(path: &str) -> bool {
    path.starts_with("/__simulator/") || path == "/__simulator"
}

/// The API path below `/{codebase}/apis/3.0`, if the request is on the API at all.
fn api_path(path: &str) -> Option<String> {
    let mut segments = path.trim_start_matches('/').splitn(4, '/');
    let _codebase = segments.next()?;
    let apis = segments.next()?;
    let version = segments.next()?;
    if !apis.eq_ignore_ascii_case("apis") || version != "3.0" {
        return None;
    }
    Some(format!("/{}", segments.next().unwrap_or_default()))
}

/// Logs the request, applies faults, and stamps the service's headers on every answer.
async fn service_behaviour(
    State(state): State<SimulatorState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let arrived = Utc::now();
    if is_control(&path) {
        return next.run(request).await;
    }
    let fault = state
        .faults()
        .take(&method, &path, api_path(&path).as_deref());
    if let Some(FaultKind::Delay { millis }) = &fault {
        tokio::time::sleep(std::time::Duration::from_millis(*millis)).await;
    }
    let hold = match &fault {
        Some(FaultKind::HoldResponse { millis }) => Some(std::time::Duration::from_millis(*millis)),
        _ => None,
    };
    let mut response = match fault.as_ref().and_then(fault_response) {
        Some(injected) => injected,
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    if let Ok(version) = HeaderValue::from_str(&state.api_version()) {
        headers.insert("api-current-version", version);
    }
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-cw-request-id", id);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::EXPIRES, HeaderValue::from_static("-1"));
    headers.insert("x-server-name", HeaderValue::from_static("CWSIM-API01"));
    {
        let mut records = state.records();
        if records.requests.len() >= REQUEST_LOG_LIMIT {
            records.requests.drain(..REQUEST_LOG_LIMIT / 10);
        }
        records.requests.push(RequestRecord {
            method,
            path,
            query,
            status: response.status().as_u16(),
            timestamp: arrived,
        });
    }
    if let Some(hold) = hold {
        // The write is done and logged; the client learns of it only after the hold (or never,
        // when it is gone by then).
        let _holding = state.faults().hold();
        tokio::time::sleep(hold).await;
    }
    response
}

/// The answer an injected fault gives instead of the API, or `None` when the request is still served
/// (a delay has already been waited out, a held answer is held after it is made; a codebase change is
/// handled by routing).
fn fault_response(kind: &FaultKind) -> Option<Response> {
    let error = match kind {
        FaultKind::RateLimited { retry_after_secs } => ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: json!({"code": "TooManyRequests",
                         "message": format!("Too many requests; retry after {retry_after_secs} seconds")}),
            retry_after: Some(*retry_after_secs),
        },
        FaultKind::ServerError { message } => ApiError::connectwise(
            StatusCode::INTERNAL_SERVER_ERROR,
            message
                .clone()
                .unwrap_or_else(|| "An error occurred on the server (injected fault)".into()),
        ),
        FaultKind::Unavailable => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable (injected fault)",
        ),
        FaultKind::Delay { .. }
        | FaultKind::HoldResponse { .. }
        | FaultKind::CodebaseChanged { .. } => return None,
    };
    Some(error.into_response())
}

/// `GET /login/companyinfo/{company}`: codebase discovery, PascalCase, no authentication.
async fn company_info(
    State(state): State<SimulatorState>,
    Path(company): Path<String>,
) -> Response {
    let config = state.config();
    if !company.eq_ignore_ascii_case(&config.company_id) {
        return json_response(StatusCode::OK, &Value::Null);
    }
    let info = &state.seed().system_info;
    let version_code = format!("v{}", state.api_version());
    let body = json!({
        "CompanyName": info.company_name,
        "Codebase": state.current_codebase(),
        "VersionCode": version_code,
        "VersionNumber": info.version,
        "CompanyID": config.company_id,
        "IsCloud": info.is_cloud,
    });
    json_response(StatusCode::OK, &body)
}

async fn add_fault(State(state): State<SimulatorState>, body: Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let result = parsed
        .map_err(|e| format!("the fault is not valid JSON: {e}"))
        .and_then(|value| {
            if let Some(unknown) = value
                .as_object()
                .and_then(|o| o.keys().find(|k| !FAULT_MEMBERS.contains(&k.as_str())))
            {
                return Err(format!(
                    "unknown fault member '{unknown}'; faults take {}",
                    FAULT_MEMBERS.join(", ")
                ));
            }
            serde_json::from_value::<Fault>(value).map_err(|e| {
                format!(
                    "not a fault: {e}; kind is one of rate_limited, server_error, unavailable, delay, hold_response, codebase_changed"
                )
            })
        })
        .and_then(|fault| match fault.problem() {
            Some(problem) => Err(problem),
            None => Ok(fault),
        });
    match result {
        Ok(fault) => {
            state.faults().inject(fault.clone());
            json_response(StatusCode::CREATED, &json!(fault))
        }
        Err(message) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"code": "InvalidFault", "message": message}),
        ),
    }
}

async fn clear_faults(State(state): State<SimulatorState>) -> StatusCode {
    state.faults().clear();
    StatusCode::NO_CONTENT
}

async fn list_faults(State(state): State<SimulatorState>) -> Response {
    json_response(StatusCode::OK, &json!(state.faults().active()))
}

async fn request_log(State(state): State<SimulatorState>) -> Response {
    json_response(StatusCode::OK, &json!(state.requests()))
}

fn not_found_path(path: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("No resource matches {path}"),
    )
}

/// Checks `Authorization: Basic base64(company+public:private)` and the `clientId` header.
fn authenticate(state: &SimulatorState, headers: &HeaderMap) -> Result<(), ApiError> {
    let config = state.config();
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, encoded) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("basic")
                .then_some(encoded.trim())
        })
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok());
    let valid = credentials
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .is_some_and(|(user, private)| {
            user.split_once('+').is_some_and(|(company, public)| {
                company.eq_ignore_ascii_case(&config.company_id) && public == config.public_key
            }) && private == config.private_key
        });
    if !valid {
        return Err(if config.cloud_mode_auth_404 {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The requested resource was not found",
            )
        } else {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "ConnectWiseApi",
                "UserNotAuthenticated",
            )
        });
    }
    let client_id = headers
        .get("clientid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if client_id.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "A clientId header is required; register one at https://developer.connectwise.com/ClientID",
        ));
    }
    if let Some(expected) = &config.client_id {
        if client_id != expected {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "The clientId header does not match a registered integration",
            ));
        }
    }
    Ok(())
}

/// Every request not matched by the routes above: the ConnectWise API itself.
async fn api_entry(State(state): State<SimulatorState>, request: Request) -> Response {
    match serve_api(state, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn serve_api(state: SimulatorState, request: Request) -> Result<Response, ApiError> {
    let path = request.uri().path().to_owned();
    let Some(below_root) = api_path(&path) else {
        return Err(not_found_path(&path));
    };
    let codebase = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    if !state.serves_codebase(&codebase) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "Codebase '{codebase}/' is not served by this site; look it up with /login/companyinfo/{{company}}"
            ),
        ));
    }
    authenticate(&state, request.headers())?;
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let origin = format!("http://{host}");
    let query = request
        .uri()
        .query()
        .map(serde_urlencoded::from_str::<Vec<(String, String)>>)
        .transpose()
        .map_err(|e| ApiError::bad_body(format!("The query string could not be decoded: {e}")))?
        .unwrap_or_default();
    let ctx = ApiContext {
        method: request.method().clone(),
        headers: request.headers().clone(),
        api_root: format!("{origin}/{codebase}/apis/3.0"),
        origin,
        path: path.clone(),
        query,
    };
    let lowered = below_root.to_ascii_lowercase();
    let segments: Vec<&str> = lowered
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if ctx.method == Method::POST && segments == ["system", "documents"] {
        return documents::upload(ctx, state, request).await;
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_JSON_BODY)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("JSON bodies are limited to {MAX_JSON_BODY} bytes"),
            )
        })?;
    let body = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::bad_body("The request body is not UTF-8 text"))?;
    dispatch(&ctx, &state, &segments, &body)
}

fn method_not_allowed(ctx: &ApiContext) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{} is not supported on {}", ctx.method, ctx.path),
    )
}

fn dispatch(
    ctx: &ApiContext,
    state: &SimulatorState,
    segments: &[&str],
    body: &str,
) -> Result<Response, ApiError> {
    let method = &ctx.method;
    match segments {
        ["service", "tickets", rest @ ..] => match (method.as_str(), rest) {
            ("GET", [_, "notes", notes_rest @ ..]) => {
                notes::read(ctx, state, parse_ticket(rest[0])?, notes_rest)
            }
            ("POST", [_, "notes"]) => notes::create(ctx, state, parse_ticket(rest[0])?, body),
            ("DELETE", [_, "notes", note]) => notes::delete(state, parse_ticket(rest[0])?, note),
            ("PUT", [_, "notes", note]) => {
                notes::replace(state, parse_ticket(rest[0])?, note, body)
            }
            ("PATCH", [_, "notes", note]) => {
                notes::patch(state, parse_ticket(rest[0])?, note, body)
            }
            ("GET", [_, "allnotes"]) => notes::all_notes(ctx, state, parse_ticket(rest[0])?),
            ("GET", [_, "documents", docs_rest @ ..]) => {
                let ticket = parse_ticket(rest[0])?;
                if !state.records().tickets.contains_key(&ticket) {
                    return Err(ApiError::not_found("Ticket", ticket));
                }
                documents::read(ctx, state, docs_rest, Some(ticket))
            }
            ("POST", ["search"]) => tickets::search(ctx, state, body),
            ("POST", []) => tickets::create(ctx, state, body),
            ("GET", [] | ["count"] | [_]) => tickets::read(ctx, state, rest),
            ("PUT", [id]) => tickets::replace(ctx, state, id, body),
            ("PATCH", [id]) => tickets::patch(ctx, state, id, body),
            ("DELETE", [id]) => tickets::delete(state, id),
            (_, [] | ["count"] | ["search"] | [_] | [_, "notes" | "allnotes", ..]) => {
                Err(method_not_allowed(ctx))
            }
            _ => Err(not_found_path(&ctx.path)),
        },
        ["system", "info"] => match method.as_str() {
            "GET" => Ok(json_response(StatusCode::OK, &lookups::system_info(state))),
            _ => Err(method_not_allowed(ctx)),
        },
        ["system", "documents", rest @ ..] => match (method.as_str(), rest) {
            ("GET", _) => documents::read(ctx, state, rest, None),
            ("DELETE", [id]) => documents::delete(state, id),
            _ => Err(method_not_allowed(ctx)),
        },
        _ => match Lookup::from_segments(segments)? {
            Some((lookup, used)) if method == Method::GET => {
                lookup.serve(ctx, state, &segments[used..])
            }
            Some(_) => Err(method_not_allowed(ctx)),
            None => Err(not_found_path(&ctx.path)),
        },
    }
}

fn parse_ticket(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .map_err(|_| ApiError::not_found("Ticket", raw))
}

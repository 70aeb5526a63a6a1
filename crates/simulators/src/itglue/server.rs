//! The request pipeline: faults, authentication, throttling, routing, media types, logging.
//!
//! Everything goes through one dispatcher instead of axum's typed extractors so that every refusal has
//! IT Glue's shape (JSON error bodies, 415 for a wrong media type, HTML 404 for unknown routes and for
//! methods a route does not have) rather than axum's plain-text defaults.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::faults::{FaultKind, FaultRule};
use super::jsonapi::{json_response, ApiError, ListQuery, RequestUrl};
use super::{asset_types, assets, files, organizations, LoggedRequest, Shared};

/// What a handler gets: the account, the parsed request, and the time.
pub(crate) struct Ctx<'a> {
    pub shared: &'a Shared,
    pub url: RequestUrl,
    pub query: ListQuery,
    pub body: Option<Value>,
    pub now: DateTime<Utc>,
}

impl Ctx<'_> {
    /// 200 with a document.
    pub fn ok(&self, doc: &Value) -> Response {
        json_response(StatusCode::OK, doc)
    }

    /// The configured create status (201 by default) with a document.
    pub fn created(&self, doc: &Value) -> Response {
        let status =
            StatusCode::from_u16(self.shared.config.create_status).unwrap_or(StatusCode::CREATED);
        json_response(status, doc)
    }

    /// The request body, refusing a request that has none.
    pub fn body(&self) -> Result<&Value, ApiError> {
        self.body.as_ref().ok_or_else(|| {
            ApiError::unprocessable(
                "Unprocessable Entity",
                Some(json!(
                    "the request has no body; send a JSON:API document with a data member"
                )),
                Some(Some("data")),
            )
        })
    }
}

pub(crate) type HandlerResult = Result<Response, ApiError>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/__simulator/faults",
            post(add_faults).get(list_faults).delete(clear_faults),
        )
        .route("/__simulator/requests", axum::routing::get(list_requests))
        .fallback(dispatch)
        // Bodies are read once, under `max_body_bytes`, by the dispatcher; the multipart parser must not
        // apply axum's 2 MB default on top of that.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

async fn add_faults(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let rules: Result<Vec<FaultRule>, _> =
        serde_json::from_slice::<Value>(&body).and_then(|v| match v {
            Value::Array(_) => serde_json::from_value(v),
            other => serde_json::from_value(other).map(|r| vec![r]),
        });
    match rules {
        Ok(rules) => {
            for rule in rules {
                shared.faults.push(rule);
            }
            Json(json!({ "pending": shared.faults.pending() })).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("fault rule is not valid: {e}; expected e.g. {{\"kind\":\"status\",\"status\":503,\"count\":2}}") })),
        )
            .into_response(),
    }
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "pending": shared.faults.pending() })).into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Response {
    let log = shared.log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let items: Vec<Value> = log
        .into_iter()
        .map(|r| json!({"method": r.method, "path": r.path, "query": r.query, "status": r.status}))
        .collect();
    Json(Value::Array(items)).into_response()
}

async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let mut logged_body = None;
    let response = match handle(&shared, req, &mut logged_body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    tracing::debug!(method = %method, path = %path, status = response.status().as_u16(), "IT Glue simulator request");
    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(LoggedRequest {
            method: method.to_string(),
            path,
            query,
            status: response.status().as_u16(),
            body: logged_body,
        });
    response
}

async fn handle(shared: &Shared, req: Request, logged_body: &mut Option<Value>) -> HandlerResult {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let uri = parts.uri.clone();
    let headers = parts.headers.clone();

    match shared.faults.take(method.as_str(), &path) {
        Some(FaultKind::Delay { millis }) => {
            tokio::time::sleep(Duration::from_millis(millis)).await
        }
        Some(FaultKind::Status { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(ApiError::new(
                status,
                status.canonical_reason().unwrap_or("Error"),
            ));
        }
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            let error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            return Err(match retry_after_secs {
                Some(secs) => error.with_header(header::RETRY_AFTER, secs.to_string()),
                None => error,
            });
        }
        None => {}
    }

    let key = authenticate(shared, &headers)?;
    let now = shared.config.clock.now();
    let limit = shared.config.rate_limit;
    let admitted = shared
        .limiter
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .admit(&key, &limit, now);
    if let Err(wait) = admitted {
        let error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        return Err(if limit.send_retry_after {
            error.with_header(header::RETRY_AFTER, wait.as_secs().max(1).to_string())
        } else {
            error
        });
    }

    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let route = Route::parse(&method, &segments).ok_or_else(ApiError::route_not_found)?;

    let bytes = to_bytes(body, shared.config.max_body_bytes).await.map_err(|_| {
        ApiError::from_objects(
            StatusCode::PAYLOAD_TOO_LARGE,
            vec![json!({"status": 413, "title": "Payload Too Large",
                "detail": format!("request body is larger than {} bytes", shared.config.max_body_bytes)})],
        )
    })?;
    let body = if method == Method::GET || bytes.is_empty() {
        None
    } else {
        Some(read_body(parts, bytes, route.accepts_multipart()).await?)
    };
    logged_body.clone_from(&body);

    let ctx = Ctx {
        shared,
        url: RequestUrl {
            origin: origin(&headers),
            path: path.clone(),
        },
        query: ListQuery::parse(uri.query())?,
        body,
        now,
    };
    route.call(&ctx)
}

/// Returns the key when it belongs to this account; refuses it otherwise.
fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let config = &shared.config;
    match key {
        Some(k) if config.foreign_region_keys.iter().any(|f| f == k) => {
            Err(ApiError::new(StatusCode::FORBIDDEN, "Forbidden"))
        }
        Some(k) if !k.is_empty() && config.api_keys.iter().any(|a| a == k) => Ok(k.to_owned()),
        _ if config.auth_failure_status == 401 => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized"))
        }
        _ => Err(ApiError::new(StatusCode::FORBIDDEN, "Forbidden")),
    }
}

fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

fn unsupported_media_type(got: Option<&str>, multipart: bool) -> ApiError {
    let wanted = if multipart {
        "application/vnd.api+json or multipart/form-data"
    } else {
        "application/vnd.api+json"
    };
    ApiError::from_objects(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        vec![json!({"status": 415, "title": "Unsupported Media Type",
            "detail": format!("Content-Type must be {wanted}, got {}", got.unwrap_or("none"))})],
    )
}

/// Parses a JSON:API body, or a multipart upload into the equivalent JSON document.
async fn read_body(
    parts: Parts,
    bytes: axum::body::Bytes,
    multipart_ok: bool,
) -> Result<Value, ApiError> {
    let media = media_type(&parts.headers);
    match media.as_deref() {
        Some("application/vnd.api+json") => serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}"))),
        Some("multipart/form-data") if multipart_ok => multipart_to_json(parts, bytes).await,
        other => Err(unsupported_media_type(other, multipart_ok)),
    }
}

/// `data[attributes][traits][report-file]=@file` becomes
/// `{"data":{"attributes":{"traits":{"report-file":{"content":"<base64>","file_name":"…"}}}}}`.
async fn multipart_to_json(parts: Parts, bytes: axum::body::Bytes) -> Result<Value, ApiError> {
    let request = Request::from_parts(parts, Body::from(bytes));
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("multipart body is not valid: {e}")))?;
    let mut root = Map::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("multipart body is not valid: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let data = field.bytes().await.map_err(|e| {
            ApiError::bad_request(format!("multipart part {name:?} cannot be read: {e}"))
        })?;
        let value = match file_name {
            Some(file_name) => json!({
                "content": base64::engine::general_purpose::STANDARD.encode(&data),
                "file_name": file_name,
            }),
            None => Value::String(String::from_utf8_lossy(&data).into_owned()),
        };
        let path: Vec<String> = name
            .replace(']', "")
            .split('[')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        insert_path(&mut root, &path, value);
    }
    Ok(Value::Object(root))
}

fn insert_path(map: &mut Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// An id path segment; one that is not a number can never name a record.
fn id(segment: &str) -> i64 {
    segment.parse().unwrap_or(-1)
}

/// Every route the simulated API has.
#[derive(Debug, Clone)]
enum Route {
    OrgIndex,
    OrgShow(i64),
    OrgUpdate(i64),
    OrgContacts(i64),
    OrgConfigurations(i64),
    OrgAssetsCreate(i64),
    ContactIndex,
    ContactShow(i64),
    ConfigIndex,
    ConfigShow(i64),
    ConfigCreate,
    ConfigInterfaces(i64),
    TypeIndex,
    TypeShow(i64),
    TypeCreate,
    TypeUpdate(i64),
    TypeFields(i64),
    FieldShow(i64),
    FieldUpdate(i64),
    AssetIndex,
    AssetShow(i64),
    AssetCreate,
    AssetUpdate(i64),
    AssetBulkUpdate,
    AssetDelete(i64),
    AssetBulkDelete,
    AttachmentIndex(String, i64),
    AttachmentShow(String, i64, i64),
    AttachmentCreate(String, i64),
    AttachmentUpdate(String, i64, i64),
    AttachmentDelete(String, i64),
    RelatedCreate(String, i64),
    RelatedUpdate(String, i64, i64),
    RelatedDelete(String, i64),
}

impl Route {
    fn parse(method: &Method, s: &[&str]) -> Option<Self> {
        use Route::*;
        let m = method.as_str();
        Some(match (m, s) {
            ("GET", ["organizations"]) => OrgIndex,
            ("GET", ["organizations", i]) => OrgShow(id(i)),
            ("PATCH", ["organizations", i]) => OrgUpdate(id(i)),
            ("GET", ["organizations", i, "relationships", "contacts"]) => OrgContacts(id(i)),
            ("GET", ["organizations", i, "relationships", "configurations"]) => {
                OrgConfigurations(id(i))
            }
            ("POST", ["organizations", i, "relationships", "flexible_assets"]) => {
                OrgAssetsCreate(id(i))
            }
            ("GET", ["contacts"]) => ContactIndex,
            ("GET", ["contacts", i]) => ContactShow(id(i)),
            ("GET", ["configurations"]) => ConfigIndex,
            ("POST", ["configurations"]) => ConfigCreate,
            ("GET", ["configurations", i]) => ConfigShow(id(i)),
            ("GET", ["configurations", i, "relationships", "configuration_interfaces"]) => {
                ConfigInterfaces(id(i))
            }
            ("GET", ["flexible_asset_types"]) => TypeIndex,
            ("POST", ["flexible_asset_types"]) => TypeCreate,
            ("GET", ["flexible_asset_types", i]) => TypeShow(id(i)),
            ("PATCH", ["flexible_asset_types", i]) => TypeUpdate(id(i)),
            ("GET", ["flexible_asset_types", i, "relationships", "flexible_asset_fields"]) => {
                TypeFields(id(i))
            }
            ("GET", ["flexible_asset_fields", i]) => FieldShow(id(i)),
            ("PATCH", ["flexible_asset_fields", i]) => FieldUpdate(id(i)),
            ("GET", ["flexible_assets"]) => AssetIndex,
            ("POST", ["flexible_assets"]) => AssetCreate,
            ("PATCH", ["flexible_assets"]) => AssetBulkUpdate,
            ("DELETE", ["flexible_assets"]) => AssetBulkDelete,
            ("GET", ["flexible_assets", i]) => AssetShow(id(i)),
            ("PATCH", ["flexible_assets", i]) => AssetUpdate(id(i)),
            ("DELETE", ["flexible_assets", i]) => AssetDelete(id(i)),
            (_, [rt, i, "relationships", "attachments", rest @ ..]) if files::is_attachable(rt) => {
                let rt = (*rt).to_owned();
                match (m, rest) {
                    ("GET", []) => AttachmentIndex(rt, id(i)),
                    ("POST", []) => AttachmentCreate(rt, id(i)),
                    ("DELETE", []) => AttachmentDelete(rt, id(i)),
                    ("GET", [a]) => AttachmentShow(rt, id(i), id(a)),
                    ("PATCH", [a]) => AttachmentUpdate(rt, id(i), id(a)),
                    _ => return None,
                }
            }
            (_, [rt, i, "relationships", "related_items", rest @ ..])
                if files::is_relatable(rt) =>
            {
                let rt = (*rt).to_owned();
                match (m, rest) {
                    ("POST", []) => RelatedCreate(rt, id(i)),
                    ("DELETE", []) => RelatedDelete(rt, id(i)),
                    ("PATCH", [r]) => RelatedUpdate(rt, id(i), id(r)),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }

    fn accepts_multipart(&self) -> bool {
        matches!(
            self,
            Route::AttachmentCreate(..)
                | Route::AssetCreate
                | Route::AssetUpdate(_)
                | Route::OrgAssetsCreate(_)
        )
    }

    fn call(self, ctx: &Ctx<'_>) -> HandlerResult {
        use Route::*;
        match self {
            OrgIndex => organizations::index(ctx),
            OrgShow(i) => organizations::show(ctx, i),
            OrgUpdate(i) => organizations::update(ctx, i),
            OrgContacts(i) => organizations::contacts_index(ctx, Some(i)),
            OrgConfigurations(i) => organizations::configurations_index(ctx, Some(i)),
            OrgAssetsCreate(i) => assets::create(ctx, Some(i)),
            ContactIndex => organizations::contacts_index(ctx, None),
            ContactShow(i) => organizations::contact_show(ctx, i),
            ConfigIndex => organizations::configurations_index(ctx, None),
            ConfigShow(i) => organizations::configuration_show(ctx, i),
            ConfigCreate => organizations::configuration_create(ctx),
            ConfigInterfaces(i) => organizations::interfaces_index(ctx, i),
            TypeIndex => asset_types::index(ctx),
            TypeShow(i) => asset_types::show(ctx, i),
            TypeCreate => asset_types::create(ctx),
            TypeUpdate(i) => asset_types::update(ctx, i),
            TypeFields(i) => asset_types::fields_index(ctx, i),
            FieldShow(i) => asset_types::field_show(ctx, i),
            FieldUpdate(i) => asset_types::field_update(ctx, i),
            AssetIndex => assets::index(ctx),
            AssetShow(i) => assets::show(ctx, i),
            AssetCreate => assets::create(ctx, None),
            AssetUpdate(i) => assets::update(ctx, Some(i)),
            AssetBulkUpdate => assets::update(ctx, None),
            AssetDelete(i) => assets::delete(ctx, Some(i)),
            AssetBulkDelete => assets::delete(ctx, None),
            AttachmentIndex(rt, i) => files::attachments_index(ctx, &rt, i),
            AttachmentShow(rt, i, a) => files::attachment_show(ctx, &rt, i, a),
            AttachmentCreate(rt, i) => files::attachments_create(ctx, &rt, i),
            AttachmentUpdate(rt, i, a) => files::attachment_update(ctx, &rt, i, a),
            AttachmentDelete(rt, i) => files::attachments_delete(ctx, &rt, i),
            RelatedCreate(rt, i) => files::related_create(ctx, &rt, i),
            RelatedUpdate(rt, i, r) => files::related_update(ctx, &rt, i, r),
            RelatedDelete(rt, i) => files::related_delete(ctx, &rt, i),
        }
    }
}

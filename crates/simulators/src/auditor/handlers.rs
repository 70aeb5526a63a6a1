//! HTTP routes of the simulated Integration API.
//!
//! Every API request goes through [`admit`]: Basic auth (401, empty body), the body size limit
//! (413), the request log, then any injected fault. Paging marks are opaque base64 of the scan
//! offset and a digest of the filters, so a mark replayed with other filters is rejected with 400.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::faults::{AuditorFault, FaultRequest};
use super::filter::Filters;
use super::record::{page_to_json, page_to_xml, SimRecord};
use super::xml::{parse_document, push_element, ERRORS_NAMESPACE};
use super::{AuditorSimState, LoggedRequest};

/// Auditor's page size when `count` is absent, and the most it returns per page.
const MAX_COUNT: usize = 1000;
const SERVER_HEADER: &str = "Microsoft-HTTPAPI/2.0";
const INVALID_COUNT: &str =
    "Invalid count parameter specified. Error details: 0x80040204 Cannot convert the attribute data type";
const DATABASE_UNAVAILABLE: &str = "0x80040C0A SQL Server cannot be contacted";

/// The simulator's routes over `state`.
pub fn router(state: AuditorSimState) -> Router {
    Router::new()
        .route(
            "/netwrix/api/v1/activity_records/enum",
            get(enum_records).post(enum_records),
        )
        .route("/netwrix/api/v1/activity_records/search", post(search))
        .route("/netwrix/api/v1/activity_records/", post(write))
        .route("/netwrix/api/v1/activity_records", post(write))
        .route("/__simulator/faults", post(set_faults).delete(clear_faults))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(add_server_header))
        .with_state(state)
}

async fn add_server_header(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static(SERVER_HEADER));
    response
}

async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}

async fn method_not_allowed() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

struct Query {
    format: Format,
    count: Result<usize, ()>,
}

fn read_query(raw: Option<&str>) -> Query {
    let pairs: Vec<(String, String)> = raw
        .and_then(|raw| serde_urlencoded::from_str(raw).ok())
        .unwrap_or_default();
    let format = match pairs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("format"))
    {
        Some((_, value)) if value.eq_ignore_ascii_case("json") => Format::Json,
        _ => Format::Xml,
    };
    let count = match pairs
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("count"))
    {
        None => Ok(MAX_COUNT),
        Some((_, value)) => match value.trim().parse::<usize>() {
            Ok(count) if count > 0 => Ok(count.min(MAX_COUNT)),
            _ => Err(()),
        },
    };
    Query { format, count }
}

fn error_response(
    status: StatusCode,
    format: Format,
    category: &str,
    description: &str,
) -> Response {
    match format {
        Format::Json => {
            let body = serde_json::json!({
                "ErrorList": [ { "Category": category, "Description": description } ]
            });
            (status, Json(body)).into_response()
        }
        Format::Xml => {
            let mut body = format!("<ErrorList xmlns=\"{ERRORS_NAMESPACE}\"><Error>");
            push_element(&mut body, "Category", category);
            push_element(&mut body, "Description", description);
            body.push_str("</Error></ErrorList>");
            (
                status,
                [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
                body,
            )
                .into_response()
        }
    }
}

fn input_error(format: Format, description: &str) -> Response {
    error_response(StatusCode::BAD_REQUEST, format, "InputError", description)
}

fn xml_error(description: &str) -> Response {
    error_response(
        StatusCode::BAD_REQUEST,
        Format::Xml,
        "XMLError",
        description,
    )
}

/// Why a request body was refused, turned into Auditor's response for the request's format.
#[derive(Debug)]
enum Rejection {
    /// 400 `InputError`.
    Input(String),
    /// 400 `XMLError` (always an XML body).
    Xml(String),
    /// Syntactically broken JSON: Auditor answers 500 with an empty body.
    CorruptedJson,
}

impl Rejection {
    fn into_response(self, format: Format) -> Response {
        match self {
            Rejection::Input(description) => input_error(format, &description),
            Rejection::Xml(description) => xml_error(&description),
            Rejection::CorruptedJson => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// Auth, size limit, log and faults: the common front of every API request.
async fn admit(
    state: &AuditorSimState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    format: Format,
) -> Result<Bytes, Response> {
    let authorized = basic_auth_matches(state, headers);
    let body = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => {
            state.log(LoggedRequest {
                method: method.to_string(),
                path: uri.path().to_owned(),
                query: uri.query().map(str::to_owned),
                body: String::new(),
                authorized,
            });
            return Err(if authorized {
                StatusCode::PAYLOAD_TOO_LARGE.into_response()
            } else {
                unauthorized()
            });
        }
    };
    state.log(LoggedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
        authorized,
    });
    if !authorized {
        return Err(unauthorized());
    }
    match state.faults.take() {
        None => Ok(body),
        Some(AuditorFault::Delay { millis }) => {
            tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            Ok(body)
        }
        Some(AuditorFault::DatabaseUnavailable) => Err(error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format,
            "ServerError",
            DATABASE_UNAVAILABLE,
        )),
        Some(AuditorFault::ServiceBusy) => Err(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        Some(AuditorFault::EmptyServerError) => {
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"Netwrix Auditor\"")],
    )
        .into_response()
}

fn basic_auth_matches(state: &AuditorSimState, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = BASE64.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    match decoded.split_once(':') {
        Some((user, password)) => {
            user.eq_ignore_ascii_case(&state.username) && password == &*state.password
        }
        None => false,
    }
}

/// The scope a continuation mark belongs to.
#[derive(Debug, Clone, Copy)]
enum Scope {
    Enum,
    Search(u64),
}

impl Scope {
    fn tag(self) -> String {
        match self {
            Scope::Enum => "enum".to_owned(),
            Scope::Search(fingerprint) => format!("search-{fingerprint:016x}"),
        }
    }
}

fn encode_mark(scope: Scope, offset: usize) -> String {
    BASE64.encode(format!("<nr><s>{}</s><o>{offset}</o></nr>", scope.tag()))
}

fn decode_mark(scope: Scope, mark: &str, stored: usize) -> Option<usize> {
    let decoded = String::from_utf8(BASE64.decode(mark.trim()).ok()?).ok()?;
    let rest = decoded.strip_prefix("<nr><s>")?;
    let (tag, rest) = rest.split_once("</s><o>")?;
    let offset: usize = rest.strip_suffix("</o></nr>")?.parse().ok()?;
    (tag == scope.tag() && offset <= stored).then_some(offset)
}

const INVALID_MARK: &str = "Invalid continuation mark specified. It does not belong to this \
    request or is corrupted; resend the same FilterList with the mark of the previous response";

fn page_response(
    state: &AuditorSimState,
    format: Format,
    count: usize,
    scope: Scope,
    mark: Option<&str>,
    filters: &Filters,
) -> Response {
    let now = state.now();
    let inner = state.lock();
    let start = match mark {
        None => 0,
        Some(mark) => match decode_mark(scope, mark, inner.records.len()) {
            Some(offset) => offset,
            None => return input_error(format, INVALID_MARK),
        },
    };
    let mut page: Vec<&SimRecord> = Vec::new();
    let mut next = start;
    for (index, record) in inner.records.iter().enumerate().skip(start) {
        if page.len() == count {
            break;
        }
        next = index + 1;
        if filters.matches(record, now) {
            page.push(record);
        }
    }
    if page.len() < count {
        next = inner.records.len();
    }
    let next_mark = (!page.is_empty()).then(|| encode_mark(scope, next));
    match format {
        Format::Json => (
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            page_to_json(&page, next_mark.as_deref()),
        )
            .into_response(),
        Format::Xml => (
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            page_to_xml(&page, next_mark.as_deref()),
        )
            .into_response(),
    }
}

async fn enum_records(
    State(state): State<AuditorSimState>,
    method: Method,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query = read_query(raw.as_deref());
    let body = match admit(&state, &method, &uri, &headers, body, query.format).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Ok(count) = query.count else {
        return input_error(query.format, INVALID_COUNT);
    };
    let mark = if method == Method::GET {
        None
    } else {
        match read_mark_body(&body, query.format) {
            Ok(mark) => Some(mark),
            Err(rejection) => return rejection.into_response(query.format),
        }
    };
    page_response(
        &state,
        query.format,
        count,
        Scope::Enum,
        mark.as_deref(),
        &Filters::default(),
    )
}

/// The body of a POST to `enum`: a bare JSON string, or `<ContinuationMark>` in XML.
fn read_mark_body(body: &[u8], format: Format) -> Result<String, Rejection> {
    match format {
        Format::Json => match serde_json::from_slice::<serde_json::Value>(body) {
            Err(_) => Err(Rejection::CorruptedJson),
            Ok(serde_json::Value::String(mark)) => Ok(mark),
            Ok(_) => Err(Rejection::Input(
                "The continuation mark must be a JSON string".to_owned(),
            )),
        },
        Format::Xml => {
            let root = parse_document(body).map_err(Rejection::Xml)?;
            if root.name != "ContinuationMark" {
                return Err(Rejection::Xml(format!(
                    "Expected a <ContinuationMark> root element, got <{}>",
                    root.name
                )));
            }
            Ok(root.text().to_owned())
        }
    }
}

async fn search(
    State(state): State<AuditorSimState>,
    method: Method,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query = read_query(raw.as_deref());
    let body = match admit(&state, &method, &uri, &headers, body, query.format).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Ok(count) = query.count else {
        return input_error(query.format, INVALID_COUNT);
    };
    let parsed = match query.format {
        Format::Json => parse_search_json(&body),
        Format::Xml => parse_search_xml(&body),
    };
    let (filters, mark) = match parsed {
        Ok(parsed) => parsed,
        Err(rejection) => return rejection.into_response(query.format),
    };
    page_response(
        &state,
        query.format,
        count,
        Scope::Search(filters.fingerprint()),
        mark.as_deref(),
        &filters,
    )
}

fn parse_search_json(body: &[u8]) -> Result<(Filters, Option<String>), Rejection> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| Rejection::CorruptedJson)?;
    let root = match value.get("ActivityRecordSearch") {
        Some(inner) => inner,
        None => &value,
    };
    let list = root
        .get("FilterList")
        .ok_or_else(|| Rejection::Input("The search parameters have no FilterList".to_owned()))?;
    let filters = Filters::from_json(list).map_err(Rejection::Input)?;
    let mark = match root.get("ContinuationMark") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(mark)) => Some(mark.clone()),
        Some(_) => {
            return Err(Rejection::Input(
                "ContinuationMark must be a string".to_owned(),
            ))
        }
    };
    Ok((filters, mark))
}

fn parse_search_xml(body: &[u8]) -> Result<(Filters, Option<String>), Rejection> {
    let root = parse_document(body).map_err(Rejection::Xml)?;
    if root.name != "ActivityRecordSearch" {
        return Err(Rejection::Xml(format!(
            "Expected an <ActivityRecordSearch> root element, got <{}>",
            root.name
        )));
    }
    let list = root
        .child("FilterList")
        .ok_or_else(|| Rejection::Xml("<ActivityRecordSearch> has no <FilterList>".to_owned()))?;
    let filters = Filters::from_xml(list).map_err(Rejection::Input)?;
    Ok((filters, root.child_text("ContinuationMark")))
}

async fn write(
    State(state): State<AuditorSimState>,
    method: Method,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query = read_query(raw.as_deref());
    let body = match admit(&state, &method, &uri, &headers, body, query.format).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let records = match query.format {
        Format::Json => parse_write_json(&body),
        Format::Xml => parse_write_xml(&body),
    };
    let records = match records {
        Ok(records) => records,
        Err(rejection) => return rejection.into_response(query.format),
    };
    for (index, record) in records.iter().enumerate() {
        if let Err(error) = record.validate(index + 1) {
            return input_error(query.format, &error);
        }
    }
    let rids = state.write(records);
    tracing::debug!(
        count = rids.len(),
        "auditor simulator stored written records"
    );
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "").into_response()
}

fn parse_write_json(body: &[u8]) -> Result<Vec<SimRecord>, Rejection> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| Rejection::CorruptedJson)?;
    let list = match value {
        serde_json::Value::Object(mut object) => object
            .remove("ActivityRecordList")
            .ok_or_else(|| Rejection::Input("Expected an ActivityRecordList array".to_owned()))?,
        other => other,
    };
    serde_json::from_value(list).map_err(|error| {
        Rejection::Input(format!(
            "The activity records do not match the schema: {error}"
        ))
    })
}

fn parse_write_xml(body: &[u8]) -> Result<Vec<SimRecord>, Rejection> {
    let root = parse_document(body).map_err(Rejection::Xml)?;
    if root.name != "ActivityRecordList" {
        return Err(Rejection::Xml(format!(
            "Expected an <ActivityRecordList> root element, got <{}>",
            root.name
        )));
    }
    Ok(root
        .children_named("ActivityRecord")
        .map(SimRecord::from_xml)
        .collect())
}

async fn set_faults(
    State(state): State<AuditorSimState>,
    Json(request): Json<FaultRequest>,
) -> StatusCode {
    state.faults.apply(request);
    StatusCode::NO_CONTENT
}

async fn clear_faults(State(state): State<AuditorSimState>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

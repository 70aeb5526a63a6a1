//! Filtering, ordering, projection and pagination shared by every list endpoint.
//!
//! All ConnectWise collections take the same `conditions`, `orderBy`, `fields`, `page`, `pageSize` and
//! `pageId` parameters and answer with a `Link` header, either navigable (`first/prev/next/last` with
//! `page=`) or forward-only (`next` with `pageId=`). Implementing it once keeps every endpoint's
//! behaviour identical, as it is on the real service.

use std::cmp::Ordering;

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::conditions::{lookup, parse_datetime, Condition};
use super::context::ApiContext;
use super::error::{json_response, ApiError};

/// The service's hard page-size limit.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Page size when none is given.
pub const DEFAULT_PAGE_SIZE: usize = 25;

/// Parsed list parameters.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub conditions: Option<Condition>,
    pub order_by: Vec<(Vec<String>, bool)>,
    pub fields: Option<Vec<Vec<String>>>,
    pub page: usize,
    pub page_size: usize,
    pub page_id: Option<i64>,
    pub forward_only: bool,
}

fn split_path(path: &str) -> Vec<String> {
    path.trim().split('/').map(str::to_owned).collect()
}

fn parse_number<T: std::str::FromStr>(
    name: &str,
    raw: Option<&str>,
) -> Result<Option<T>, ApiError> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse::<T>().map(Some).map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidObject",
                format!("{name} must be a positive whole number, not '{raw}'"),
            )
        }),
    }
}

/// Parses a `conditions` string into a 400 that explains what is wrong.
pub fn parse_conditions(raw: &str) -> Result<Option<Condition>, ApiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    Condition::parse(raw).map(Some).map_err(|error| {
        ApiError::connectwise(
            StatusCode::BAD_REQUEST,
            format!("Invalid conditions {raw:?}: {error}"),
        )
    })
}

/// Parses `orderBy` (`field [asc|desc]`, comma-separated).
pub fn parse_order_by(raw: &str) -> Result<Vec<(Vec<String>, bool)>, ApiError> {
    let mut order = Vec::new();
    for clause in raw.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let mut words = clause.split_whitespace();
        let field = words.next().unwrap_or_default();
        let descending = match words.next() {
            None => false,
            Some(word) if word.eq_ignore_ascii_case("asc") => false,
            Some(word) if word.eq_ignore_ascii_case("desc") => true,
            Some(word) => {
                return Err(ApiError::connectwise(
                    StatusCode::BAD_REQUEST,
                    format!("Invalid orderBy {raw:?}: expected 'asc' or 'desc' after {field}, found '{word}'"),
                ))
            }
        };
        if words.next().is_some() {
            return Err(ApiError::connectwise(
                StatusCode::BAD_REQUEST,
                format!("Invalid orderBy {raw:?}: separate clauses with commas"),
            ));
        }
        order.push((split_path(field), descending));
    }
    Ok(order)
}

impl ListQuery {
    /// Reads the list parameters of a request (query string and `pagination-type` header).
    pub fn from_request(ctx: &ApiContext) -> Result<ListQuery, ApiError> {
        let conditions = parse_conditions(ctx.param("conditions").unwrap_or_default())?;
        let order_by = parse_order_by(ctx.param("orderBy").unwrap_or_default())?;
        let fields = ctx
            .param("fields")
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| {
                f.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(split_path)
                    .collect()
            });
        let page = parse_number::<usize>("page", ctx.param("page"))?
            .unwrap_or(1)
            .max(1);
        let page_size = parse_number::<usize>("pageSize", ctx.param("pageSize"))?
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let page_id = parse_number::<i64>("pageId", ctx.param("pageId"))?;
        let forward_only = ctx
            .headers
            .get("pagination-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("forward-only"));
        Ok(ListQuery {
            conditions,
            order_by,
            fields,
            page,
            page_size,
            page_id,
            forward_only,
        })
    }

    /// The records that pass `conditions` and `pageId`.
    pub fn filter(&self, records: Vec<Value>) -> Vec<Value> {
        records
            .into_iter()
            .filter(|r| self.conditions.as_ref().is_none_or(|c| c.matches(r)))
            .filter(|r| self.page_id.is_none_or(|after| id_of(r) > after))
            .collect()
    }
}

fn id_of(record: &Value) -> i64 {
    record.get("id").and_then(Value::as_i64).unwrap_or_default()
}

/// Orders two JSON values: null first, numbers numerically, datetimes chronologically, text
/// case-insensitively.
fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let rank = |v: Option<&Value>| match v {
        None | Some(Value::Null) => 0,
        Some(Value::Bool(_)) => 1,
        Some(Value::Number(_)) => 2,
        Some(Value::String(_)) => 3,
        Some(_) => 4,
    };
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::String(x)), Some(Value::String(y))) => {
            match (parse_datetime(x), parse_datetime(y)) {
                (Some(dx), Some(dy)) => dx.cmp(&dy),
                _ => x.to_lowercase().cmp(&y.to_lowercase()),
            }
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Sorts by `orderBy`, then by id so pages are stable.
pub fn sort(records: &mut [Value], order_by: &[(Vec<String>, bool)]) {
    records.sort_by(|a, b| {
        for (path, descending) in order_by {
            let ordering = compare_values(lookup(a, path), lookup(b, path));
            let ordering = if *descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        id_of(a).cmp(&id_of(b))
    });
}

/// Keeps only the `fields` (each an `a/b` path) of a record.
pub fn project(record: &Value, fields: &[Vec<String>]) -> Value {
    let mut out = Map::new();
    for path in fields {
        if let Some(value) = lookup(record, path) {
            insert_path(&mut out, path, value.clone());
        }
    }
    Value::Object(out)
}

fn insert_path(target: &mut Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            target.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = target
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Applies fields projection to a single record (GET by id also honours `fields`).
pub fn single(ctx: &ApiContext, record: &Value) -> Result<Response, ApiError> {
    let query = ListQuery::from_request(ctx)?;
    let body = match &query.fields {
        Some(fields) => project(record, fields),
        None => record.clone(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `{"count": n}` for the records passing `conditions`.
pub fn count(ctx: &ApiContext, records: Vec<Value>) -> Result<Response, ApiError> {
    let query = ListQuery::from_request(ctx)?;
    let n = query.filter(records).len();
    Ok(json_response(StatusCode::OK, &json!({ "count": n })))
}

/// Filters, sorts, pages and projects `records` and adds the `Link` header.
pub fn list(ctx: &ApiContext, records: Vec<Value>) -> Result<Response, ApiError> {
    let query = ListQuery::from_request(ctx)?;
    Ok(list_with(ctx, &query, records))
}

/// As `list`, with parameters already parsed (the `search` endpoint reads them from its body).
pub fn list_with(ctx: &ApiContext, query: &ListQuery, records: Vec<Value>) -> Response {
    let mut matching = query.filter(records);
    let link;
    let page: Vec<Value> = if query.forward_only {
        sort(&mut matching, &[]);
        let more = matching.len() > query.page_size;
        matching.truncate(query.page_size);
        link = match matching.last() {
            Some(last) if more => {
                format!("<{}>; rel=\"next\"", ctx.url_with("pageId", id_of(last)))
            }
            _ => String::new(),
        };
        matching
    } else {
        sort(&mut matching, &query.order_by);
        let total = matching.len();
        let last_page = total.div_ceil(query.page_size).max(1);
        let mut parts = Vec::new();
        let url = |page: usize| ctx.url_with("page", page as i64);
        if query.page > 1 {
            parts.push(format!("<{}>; rel=\"first\"", url(1)));
            parts.push(format!(
                "<{}>; rel=\"prev\"",
                url((query.page - 1).min(last_page))
            ));
        }
        if query.page < last_page {
            parts.push(format!("<{}>; rel=\"next\"", url(query.page + 1)));
            parts.push(format!("<{}>; rel=\"last\"", url(last_page)));
        }
        link = parts.join(", ");
        matching
            .into_iter()
            .skip((query.page - 1).saturating_mul(query.page_size))
            .take(query.page_size)
            .collect()
    };
    let body: Vec<Value> = match &query.fields {
        Some(fields) => page.iter().map(|r| project(r, fields)).collect(),
        None => page,
    };
    let mut response = json_response(StatusCode::OK, &Value::Array(body));
    // Forward-only clients stop on an empty Link header, and fail when it is missing, so it is always
    // sent in that mode; navigable lists send it only when there is somewhere to go.
    if query.forward_only || !link.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert("link", value);
        }
    }
    response
}

//! IT Glue's dialect of JSON:API: error bodies, list documents with paging, and the query-string
//! vocabulary (`filter[...]`, `sort`, `include`, `page[...]`).
//!
//! The real service deviates from JSON:API in small ways clients must tolerate (numeric `status`, detail
//! arrays, slash-less pointers, HTML 404 for unknown routes); those deviations are reproduced here on
//! purpose and in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Map, Value};

/// Media type of every JSON response.
pub const JSONAPI_CONTENT_TYPE: &str = "application/vnd.api+json; charset=utf-8";

/// The Rails 404 page returned for routes that do not exist.
const HTML_404: &str = "<!DOCTYPE html>\n<html>\n<head>\n  <title>The page you were looking for doesn't exist (404)</title>\n</head>\n<body>\n  <div class=\"dialog\">\n    <h1>The page you were looking for doesn't exist.</h1>\n    <p>You may have mistyped the address or the page may have moved.</p>\n  </div>\n</body>\n</html>\n";

/// A response the simulator refuses a request with.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// `None` means the HTML route-not-found page.
    pub body: Option<Value>,
    pub headers: Vec<(header::HeaderName, String)>,
}

impl ApiError {
    /// One error object with `status` (numeric) and `title`.
    pub fn new(status: StatusCode, title: &str) -> Self {
        Self::from_objects(
            status,
            vec![json!({"status": status.as_u16(), "title": title})],
        )
    }

    /// Several error objects in one body.
    pub fn from_objects(status: StatusCode, errors: Vec<Value>) -> Self {
        Self {
            status,
            body: Some(json!({ "errors": errors })),
            headers: Vec::new(),
        }
    }

    /// 422 with the given title/detail/pointer, the shape most IT Glue validation errors take.
    pub fn unprocessable(
        title: &str,
        detail: Option<Value>,
        pointer: Option<Option<&str>>,
    ) -> Self {
        Self::from_objects(
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![error_object(422, title, detail, pointer)],
        )
    }

    /// 422 "Unprocessable Entity" with a detail string and a pointer.
    pub fn invalid(detail: impl Into<String>, pointer: &str) -> Self {
        Self::unprocessable(
            "Unprocessable Entity",
            Some(Value::String(detail.into())),
            Some(Some(pointer)),
        )
    }

    /// 400 with a detail message.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::from_objects(
            StatusCode::BAD_REQUEST,
            vec![error_object(
                400,
                "Bad Request",
                Some(Value::String(detail.into())),
                None,
            )],
        )
    }

    /// 404 for a route that exists but a record that does not.
    pub fn record_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Record not found")
    }

    /// The HTML 404 page for a route that does not exist.
    pub fn route_not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: None,
            headers: Vec::new(),
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(body) => json_response(self.status, &body),
            None => {
                let mut r = (self.status, HTML_404).into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                r
            }
        };
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, v);
            }
        }
        response
    }
}

/// One error object; `pointer: None` omits `source`, `Some(None)` renders `"pointer": null`.
pub fn error_object(
    status: u16,
    title: &str,
    detail: Option<Value>,
    pointer: Option<Option<&str>>,
) -> Value {
    let mut obj = Map::new();
    obj.insert("status".into(), json!(status));
    obj.insert("title".into(), json!(title));
    if let Some(detail) = detail {
        obj.insert("detail".into(), detail);
    }
    if let Some(pointer) = pointer {
        obj.insert("source".into(), json!({ "pointer": pointer }));
    }
    Value::Object(obj)
}

/// A JSON response with IT Glue's content type.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(JSONAPI_CONTENT_TYPE),
    );
    r
}

/// RFC3339 UTC with milliseconds, as IT Glue writes timestamps.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `YYYY-MM-DD`, as IT Glue writes date-only attributes.
pub fn date(d: &Option<NaiveDate>) -> Value {
    d.map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
        .unwrap_or(Value::Null)
}

/// Reads `2018-05-05` strictly.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// What a request asked for in its query string.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Filter keys normalised to snake_case (`exclude.id` for `filter[exclude][id]`), with raw values.
    pub filters: Vec<(String, String)>,
    /// Sort keys (snake_case) with descending flag, in priority order.
    pub sort: Vec<(String, bool)>,
    /// Include names, snake_case.
    pub include: Vec<String>,
    pub page_number: Option<String>,
    pub page_size: Option<String>,
    /// Every pair as received, to rebuild paging links.
    pub pairs: Vec<(String, String)>,
}

impl ListQuery {
    /// Parses a raw query string (`None` when there is none).
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = match raw {
            Some(raw) if !raw.is_empty() => serde_urlencoded::from_str(raw)
                .map_err(|e| ApiError::bad_request(format!("query string is not valid: {e}")))?,
            _ => Vec::new(),
        };
        let mut q = ListQuery {
            pairs: pairs.clone(),
            ..ListQuery::default()
        };
        for (key, value) in pairs {
            if let Some(rest) = key.strip_prefix("filter[") {
                let path: Vec<String> = rest.trim_end_matches(']').split("][").map(snake).collect();
                q.filters.push((path.join("."), value));
            } else if key == "sort" {
                for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match part.strip_prefix('-') {
                        Some(k) => q.sort.push((snake(k), true)),
                        None => q.sort.push((snake(part), false)),
                    }
                }
            } else if key == "include" {
                q.include.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(snake),
                );
            } else if key == "page[number]" {
                q.page_number = Some(value);
            } else if key == "page[size]" {
                q.page_size = Some(value);
            }
        }
        Ok(q)
    }

    /// Whether `include=` named `name` (snake_case).
    pub fn includes(&self, name: &str) -> bool {
        self.include.iter().any(|i| i == name)
    }

    /// Rejects sort keys the endpoint does not know (IT Glue answers 400 for them).
    pub fn check_sort(&self, allowed: &[&str], strict: bool) -> Result<(), ApiError> {
        if !strict {
            return Ok(());
        }
        for (key, _) in &self.sort {
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "sort key {key:?} is not allowed here; allowed keys: {}",
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// Normalises an attribute or parameter name to snake_case (`mac-address` → `mac_address`).
pub fn snake(s: &str) -> String {
    s.replace('-', "_")
}

/// Splits a filter value on commas, honouring `\,` as a literal comma.
pub fn split_filter_values(raw: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if chars.peek() == Some(&',') => {
                current.push(',');
                chars.next();
            }
            ',' => values.push(std::mem::take(&mut current)),
            other => current.push(other),
        }
    }
    values.push(current);
    values
}

/// A record attribute as seen by filters and sorting.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Int(Option<i64>),
    Str(Option<String>),
    Bool(Option<bool>),
    Time(DateTime<Utc>),
}

impl FieldValue {
    /// Exact match against any of the comma-separated filter values; a null attribute never matches.
    pub fn matches(&self, raw: &str) -> bool {
        let values = split_filter_values(raw);
        match self {
            FieldValue::Int(Some(v)) => values.iter().any(|x| x.trim().parse::<i64>() == Ok(*v)),
            FieldValue::Str(Some(v)) => values.iter().any(|x| x == v),
            FieldValue::Bool(Some(v)) => values.iter().any(|x| parse_bool(x.trim()) == Some(*v)),
            FieldValue::Time(t) => match raw.split_once(',') {
                Some((start, end)) => time_in_range(t, start.trim(), end.trim()),
                None => parse_instant(raw.trim(), false) == Some(*t),
            },
            _ => false,
        }
    }

    fn sort_key(&self) -> (u8, i64, String) {
        match self {
            FieldValue::Int(Some(v)) => (0, *v, String::new()),
            FieldValue::Str(Some(s)) => (0, 0, s.to_lowercase()),
            FieldValue::Bool(Some(b)) => (0, i64::from(*b), String::new()),
            FieldValue::Time(t) => (0, t.timestamp_millis(), String::new()),
            // Nulls sort last ascending, as PostgreSQL does.
            _ => (1, 0, String::new()),
        }
    }
}

/// `start,end` date-range filters: RFC3339 or date-only bounds, `*` for an open end, both inclusive.
fn time_in_range(t: &DateTime<Utc>, start: &str, end: &str) -> bool {
    let after_start = start == "*" || parse_instant(start, false).is_some_and(|s| *t >= s);
    let before_end = end == "*" || parse_instant(end, true).is_some_and(|e| *t <= e);
    after_start && before_end
}

/// An RFC3339 instant, or a date taken as the start (or, for `end_of_day`, the last millisecond) of
/// that day in UTC.
fn parse_instant(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let day = parse_date(s)?;
    let time = if end_of_day {
        day.and_hms_milli_opt(23, 59, 59, 999)?
    } else {
        day.and_hms_opt(0, 0, 0)?
    };
    Some(time.and_utc())
}

/// `true,false,1,0`, the booleans IT Glue filters accept.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Keeps records matching every filter whose key `field` knows; unknown keys are ignored, as on the real
/// service. `exclude.<key>` filters drop matching records.
pub fn apply_filters<T>(
    items: Vec<T>,
    filters: &[(String, String)],
    field: impl Fn(&T, &str) -> Option<FieldValue>,
) -> Vec<T> {
    items
        .into_iter()
        .filter(|item| {
            filters.iter().all(|(key, raw)| {
                if let Some(excluded) = key.strip_prefix("exclude.") {
                    return match field(item, excluded) {
                        Some(v) => !v.matches(raw),
                        None => true,
                    };
                }
                match field(item, key) {
                    Some(v) => v.matches(raw),
                    None => true,
                }
            })
        })
        .collect()
}

/// The filters a list endpoint understood, for `meta.filters`.
pub fn known_filters<T>(
    sample: Option<&T>,
    filters: &[(String, String)],
    field: impl Fn(&T, &str) -> Option<FieldValue>,
) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(sample) = sample {
        for (key, raw) in filters {
            let base = key.strip_prefix("exclude.").unwrap_or(key);
            if field(sample, base).is_some() {
                out.insert(key.clone(), Value::String(raw.clone()));
            }
        }
    }
    out
}

/// Sorts by the requested keys (stable; ties keep id order).
pub fn apply_sort<T>(
    items: &mut [T],
    sort: &[(String, bool)],
    field: impl Fn(&T, &str) -> Option<FieldValue>,
) {
    if sort.is_empty() {
        return;
    }
    items.sort_by(|a, b| {
        for (key, desc) in sort {
            let ka = field(a, key).map(|v| v.sort_key());
            let kb = field(b, key).map(|v| v.sort_key());
            let ord = ka.cmp(&kb);
            let ord = if *desc { ord.reverse() } else { ord };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
}

/// The page a list request resolved to.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub number: u64,
    pub size: u64,
    pub total_count: u64,
    pub total_pages: u64,
}

impl Page {
    /// Resolves `page[number]`/`page[size]` (default 50; above `max`: clamp, or 400 when `strict`).
    pub fn resolve(
        q: &ListQuery,
        total_count: usize,
        max: u64,
        strict: bool,
    ) -> Result<Self, ApiError> {
        let number = match q.page_number.as_deref() {
            None => 1,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "page[number] must be a whole number from 1 up, got {raw:?}"
                    )))
                }
            },
        };
        let size = match q.page_size.as_deref() {
            None => 50.min(max),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(n) if n >= 1 && n <= max => n,
                Ok(n) if n > max && !strict => max,
                Ok(n) if n > max => {
                    return Err(ApiError::bad_request(format!(
                        "page[size] {n} is larger than the maximum of {max}"
                    )))
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "page[size] must be a whole number from 1 up, got {raw:?}"
                    )))
                }
            },
        };
        let total_count = total_count as u64;
        Ok(Page {
            number,
            size,
            total_count,
            total_pages: total_count.div_ceil(size),
        })
    }

    /// The slice of `items` on this page (empty past the end).
    pub fn slice<T>(&self, items: Vec<T>) -> Vec<T> {
        let start = (self.number - 1).saturating_mul(self.size);
        items
            .into_iter()
            .skip(usize::try_from(start).unwrap_or(usize::MAX))
            .take(usize::try_from(self.size).unwrap_or(usize::MAX))
            .collect()
    }
}

/// Where a request came in, to build absolute links.
#[derive(Debug, Clone)]
pub struct RequestUrl {
    /// `http://host:port` as the client addressed the simulator.
    pub origin: String,
    pub path: String,
}

/// A list document: `data`, `meta` (paging + filters), `links`, and `included` when non-empty.
pub fn list_document(
    data: Vec<Value>,
    included: Vec<Value>,
    page: &Page,
    q: &ListQuery,
    url: &RequestUrl,
    filters: Map<String, Value>,
) -> Value {
    let next = (page.number < page.total_pages).then_some(page.number + 1);
    let prev = (page.number > 1).then(|| (page.number - 1).min(page.total_pages.max(1)));
    let link = |n: u64| {
        let mut pairs: Vec<(String, String)> = q
            .pairs
            .iter()
            .filter(|(k, _)| k != "page[number]" && k != "page[size]")
            .cloned()
            .collect();
        pairs.push(("page[number]".into(), n.to_string()));
        pairs.push(("page[size]".into(), page.size.to_string()));
        let qs = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("{}{}?{}", url.origin, url.path, qs)
    };
    let mut links = Map::new();
    links.insert("self".into(), json!(link(page.number)));
    links.insert("first".into(), json!(link(1)));
    links.insert("last".into(), json!(link(page.total_pages.max(1))));
    if let Some(n) = next {
        links.insert("next".into(), json!(link(n)));
    }
    if let Some(p) = prev {
        links.insert("prev".into(), json!(link(p)));
    }
    let mut doc = json!({
        "data": data,
        "meta": {
            "current-page": page.number,
            "next-page": next,
            "prev-page": prev,
            "total-pages": page.total_pages,
            "total-count": page.total_count,
            "filters": filters,
        },
        "links": links,
    });
    if !included.is_empty() {
        doc["included"] = Value::Array(included);
    }
    doc
}

/// A single-resource document with `included` when non-empty.
pub fn single_document(data: Value, included: Vec<Value>) -> Value {
    let mut doc = json!({ "data": data });
    if !included.is_empty() {
        doc["included"] = Value::Array(included);
    }
    doc
}

/// The `data` member of a request body: one resource object or several.
#[derive(Debug, Clone)]
pub enum Data {
    One(Value),
    Many(Vec<Value>),
}

impl Data {
    /// Reads `data` from a body, refusing bodies without one.
    pub fn from_body(body: &Value) -> Result<Self, ApiError> {
        match body.get("data") {
            Some(Value::Array(items)) => Ok(Data::Many(items.clone())),
            Some(obj @ Value::Object(_)) => Ok(Data::One(obj.clone())),
            Some(_) => Err(ApiError::unprocessable(
                "Unprocessable Entity",
                Some(json!("data must be an object or an array of objects")),
                Some(Some("data")),
            )),
            None => Err(ApiError::unprocessable(
                "Unprocessable Entity",
                Some(json!("the request body has no data member")),
                Some(Some("data")),
            )),
        }
    }

    /// The items, one or many.
    pub fn items(self) -> Vec<Value> {
        match self {
            Data::One(v) => vec![v],
            Data::Many(v) => v,
        }
    }
}

/// Checks a resource object's `type` (snake or kebab) and returns its attributes with snake_case keys.
pub fn attributes(item: &Value, expected_type: &str) -> Result<Map<String, Value>, ApiError> {
    match item.get("type").and_then(Value::as_str) {
        Some(t) if snake(t) == expected_type => {}
        Some(t) => {
            return Err(ApiError::invalid(
                format!("type {t:?} does not match this endpoint, which takes {expected_type:?}"),
                "/data/type",
            ))
        }
        None => {
            return Err(ApiError::invalid(
                format!("type is required and must be {expected_type:?}"),
                "/data/type",
            ))
        }
    }
    let mut out = Map::new();
    if let Some(Value::Object(attrs)) = item.get("attributes") {
        for (k, v) in attrs {
            out.insert(snake(k), v.clone());
        }
    }
    Ok(out)
}

/// Reads an id given as a number or a numeric string.
pub fn as_id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads an optional string attribute; `null` clears it.
pub fn opt_string(
    attrs: &Map<String, Value>,
    key: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match attrs.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(Value::Number(n)) => Ok(Some(Some(n.to_string()))),
        Some(_) => Err(ApiError::invalid(
            format!("{key} must be a string"),
            &format!("/data/attributes/{}", key.replace('_', "-")),
        )),
    }
}

/// Reads an optional boolean attribute (JSON bool or `true,false,1,0` text).
pub fn opt_bool(attrs: &Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match attrs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if parse_bool(s).is_some() => Ok(parse_bool(s)),
        Some(Value::Number(n)) if n.as_i64() == Some(0) || n.as_i64() == Some(1) => {
            Ok(Some(n.as_i64() == Some(1)))
        }
        Some(_) => Err(ApiError::invalid(
            format!("{key} must be true or false"),
            &format!("/data/attributes/{}", key.replace('_', "-")),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_range_filters_have_open_and_inclusive_ends() {
        let t = DateTime::parse_from_rfc3339("2024-03-02T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let v = FieldValue::Time(t);
        assert!(v.matches("2024-03-01,2024-03-02"));
        assert!(v.matches("*,2024-03-02T12:00:00Z"));
        assert!(v.matches("2024-03-02T12:00:00Z,*"));
        assert!(!v.matches("2024-03-03,*"));
        assert!(!v.matches("*,2024-03-01"));
        assert!(v.matches("2024-03-02T12:00:00.000Z"));
    }

    #[test]
    fn escaped_commas_stay_in_one_value() {
        assert_eq!(
            split_filter_values(r"Kub\, Reynolds and Gibson,Acme"),
            vec!["Kub, Reynolds and Gibson".to_owned(), "Acme".to_owned()]
        );
    }

    #[test]
    fn filter_and_sort_keys_are_normalised_to_snake_case() {
        let q = ListQuery::parse(Some(
            "filter%5Borganization-id%5D=2&sort=-created-at,name&include=configuration-interfaces",
        ))
        .unwrap();
        assert_eq!(
            q.filters,
            vec![("organization_id".to_owned(), "2".to_owned())]
        );
        assert_eq!(
            q.sort,
            vec![("created_at".to_owned(), true), ("name".to_owned(), false)]
        );
        assert!(q.includes("configuration_interfaces"));
    }
}

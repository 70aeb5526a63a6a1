//! The IT Glue HTTP transport: authentication, the shared request budget, retries, paging and the
//! connection test.
//!
//! Every call goes through [`ItGlueClient::send`], so the budget is counted, 429s are honoured and
//! error bodies are read the same way everywhere. The API key is only ever placed in a header marked
//! sensitive and is scrubbed from any response text quoted in an error.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde_json::Value;

use super::budget::{BudgetTracker, RequestBudget};
use super::error::ItGlueError;
use super::jsonapi::{Filters, ListDocument, RawResource, SingleDocument};
use super::model::{ConnectionCheck, FromResource};
use super::retry::{with_retries, RetryPolicy};
use super::settings::ItGlueSettings;

/// The media type IT Glue speaks.
pub const JSON_API: &str = "application/vnd.api+json";

/// Safety stop for list calls whose `meta` keeps promising another page.
const MAX_PAGES: u64 = 100_000;

/// Smallest page size list calls fall back to when big pages time out.
pub const MIN_FALLBACK_PAGE_SIZE: u32 = 100;

/// A gateway timeout or a client-side timeout: the page was too expensive to build.
fn page_too_slow(error: &ItGlueError) -> bool {
    match error {
        ItGlueError::Status { status, .. } => *status == 504,
        ItGlueError::Transport { source, .. } => source.is_timeout(),
        _ => false,
    }
}

/// Halving keeps page boundaries aligned only for even sizes.
fn can_halve(page_size: u32) -> bool {
    page_size % 2 == 0 && page_size / 2 >= MIN_FALLBACK_PAGE_SIZE
}

/// A client for one IT Glue account. Cheap to clone; clones share the connection pool and the
/// request budget.
#[derive(Clone)]
pub struct ItGlueClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: String,
    target: String,
    api_key: String,
    page_size: u32,
    retry: RetryPolicy,
    budget: BudgetTracker,
}

impl fmt::Debug for ItGlueClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItGlueClient")
            .field("target", &self.inner.target)
            .field("page_size", &self.inner.page_size)
            .field("budget", &self.inner.budget.budget())
            .finish_non_exhaustive()
    }
}

/// One request as the operations describe it.
#[derive(Debug)]
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Safe to repeat after a transient failure (GET, full-replacement PATCH).
    pub idempotent: bool,
}

impl Call {
    pub fn get(path: impl Into<String>) -> Self {
        Call {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent: true,
        }
    }

    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Call {
            method: Method::POST,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
            idempotent: false,
        }
    }

    pub fn patch(path: impl Into<String>, body: Value) -> Self {
        Call {
            method: Method::PATCH,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
            idempotent: true,
        }
    }

    pub fn query(mut self, key: &str, value: impl Into<String>) -> Self {
        self.query.push((key.to_string(), value.into()));
        self
    }

    pub fn filters(mut self, filters: &Filters) -> Self {
        self.query.extend(filters.pairs().iter().cloned());
        self
    }

    fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// One page of a list call was read: for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRead {
    /// Pages read so far.
    pub pages: u64,
    /// Pages in all, when IT Glue said (it may change when pages are halved).
    pub total_pages: Option<u64>,
    /// Records read so far.
    pub records: u64,
    /// Records in all, when IT Glue said.
    pub total_records: Option<u64>,
}

/// All pages of a list call, concatenated.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub data: Vec<RawResource>,
    pub included: Vec<RawResource>,
    pub total_count: Option<u64>,
}

/// A list call read page by page (see [`ItGlueClient::pages`]), at the configured page size,
/// following `meta.next-page`.
///
/// IT Glue answers very large pages with 504 or not at all; when a page keeps failing that way,
/// the rest of the list is read with pages half as big (down to [`MIN_FALLBACK_PAGE_SIZE`]).
pub(crate) struct Pages<'a> {
    client: &'a ItGlueClient,
    call: Call,
    page: u64,
    page_size: u32,
    pages_read: u64,
    records: u64,
    total_count: Option<u64>,
    done: bool,
}

impl Pages<'_> {
    /// The call the pages belong to, for error messages.
    pub(crate) fn call(&self) -> &Call {
        &self.call
    }

    /// The next page and where the reading stands, or `None` after the last page.
    pub(crate) async fn next(&mut self) -> Result<Option<(ListDocument, PageRead)>, ItGlueError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let page_call = Call {
                method: self.call.method.clone(),
                path: self.call.path.clone(),
                query: self.call.query.clone(),
                body: self.call.body.clone(),
                idempotent: self.call.idempotent,
            }
            .query("page[size]", self.page_size.to_string())
            .query("page[number]", self.page.to_string());
            let body = match self.client.send(&page_call).await {
                Ok(body) => body,
                Err(error) if page_too_slow(&error) && can_halve(self.page_size) => {
                    tracing::warn!(
                        path = %self.call.path,
                        page_size = self.page_size,
                        error = %error,
                        "IT Glue could not serve the page in time, reading smaller pages"
                    );
                    // Everything before this page fills exactly twice as many half-size pages.
                    self.page = (self.page - 1) * 2 + 1;
                    self.page_size /= 2;
                    continue;
                }
                Err(error) => {
                    self.done = true;
                    return Err(error);
                }
            };
            let document: ListDocument = match decode(&page_call, body) {
                Ok(document) => document,
                Err(error) => {
                    self.done = true;
                    return Err(error);
                }
            };
            let got = document.data.len();
            self.total_count = document.meta.total_count.or(self.total_count);
            self.records += got as u64;
            self.pages_read += 1;
            let read = PageRead {
                pages: self.pages_read,
                total_pages: document
                    .meta
                    .total_pages
                    .map(|total| total.max(self.pages_read)),
                records: self.records,
                total_records: self.total_count,
            };
            let next = match document.meta.next_page {
                Some(next) if next > self.page => Some(next),
                Some(_) => None,
                None => document
                    .meta
                    .total_pages
                    .filter(|total| *total > self.page)
                    .map(|_| self.page + 1),
            };
            match next {
                Some(next) if got > 0 && next <= MAX_PAGES => self.page = next,
                _ => self.done = true,
            }
            return Ok(Some((document, read)));
        }
    }
}

impl ItGlueClient {
    /// Builds a client after validating the settings; sends nothing. The client (and its clones)
    /// has a request budget of its own.
    pub fn new(settings: ItGlueSettings) -> Result<Self, ItGlueError> {
        let budget = BudgetTracker::new(settings.budget);
        Self::with_budget(settings, budget)
    }

    /// Builds a client that counts its requests against `budget`, shared with every other client
    /// given the same tracker: several clients of one IT Glue account then stay within one budget
    /// together. `settings.budget` is ignored for the tracker's own.
    pub fn with_budget(
        settings: ItGlueSettings,
        budget: BudgetTracker,
    ) -> Result<Self, ItGlueError> {
        let problems = settings.validate();
        if !problems.is_empty() {
            return Err(ItGlueError::InvalidSettings { problems });
        }
        let api_key = settings.api_key.trim().to_string();
        let mut key_header =
            HeaderValue::from_str(&api_key).map_err(|_| ItGlueError::InvalidSettings {
                problems: vec![
                    "the IT Glue API key contains characters not allowed in an HTTP header"
                        .to_string(),
                ],
            })?;
        key_header.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key_header);
        headers.insert(ACCEPT, HeaderValue::from_static(JSON_API));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(settings.timeout)
            .user_agent(concat!("mspbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ItGlueError::InvalidSettings {
                problems: vec![format!("cannot build the HTTP client for IT Glue: {error}")],
            })?;
        Ok(ItGlueClient {
            inner: Arc::new(Inner {
                http,
                base: settings
                    .base
                    .url()
                    .as_str()
                    .trim_end_matches('/')
                    .to_string(),
                target: settings.base.describe(),
                api_key,
                page_size: settings.page_size,
                retry: settings.retry,
                budget,
            }),
        })
    }

    /// The configured request budget.
    pub fn budget(&self) -> RequestBudget {
        self.inner.budget.budget()
    }

    /// Requests started within the current budget window (for metrics).
    pub fn budget_used(&self) -> u32 {
        self.inner.budget.used()
    }

    /// Requests that may start right now without waiting (for metrics).
    pub fn budget_remaining(&self) -> u32 {
        self.inner.budget.remaining()
    }

    /// The region or URL this client talks to, as shown in messages.
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// One cheap authenticated call (`GET /organizations`, one record). A 401/403 comes back as
    /// [`ItGlueError::Unauthorized`], whose message explains both a bad key and a wrong region and
    /// names the region used.
    pub async fn test_connection(&self) -> Result<ConnectionCheck, ItGlueError> {
        let call = Call::get("/organizations")
            .query("page[size]", "1")
            .query("page[number]", "1");
        let body = self.send(&call).await?;
        let document: ListDocument = decode(&call, body)?;
        tracing::info!(target_base = %self.inner.target, "IT Glue connection test succeeded");
        Ok(ConnectionCheck {
            base_url: self.inner.base.clone(),
            organization_count: document.meta.total_count,
        })
    }

    /// Sends a call with budget, retries and error reading; returns the JSON body (None when empty).
    pub(crate) async fn send(&self, call: &Call) -> Result<Option<Value>, ItGlueError> {
        with_retries(&self.inner.retry, call.idempotent, || self.send_once(call)).await
    }

    async fn send_once(&self, call: &Call) -> Result<Option<Value>, ItGlueError> {
        let request = call.describe();
        let url = self.url(call)?;
        self.inner.budget.acquire().await;
        let mut builder = self.inner.http.request(call.method.clone(), url);
        if let Some(body) = &call.body {
            builder = builder
                .header(CONTENT_TYPE, JSON_API)
                .body(serde_json::to_vec(body).expect("JSON values always serialise"));
        }
        let response = builder
            .send()
            .await
            .map_err(|source| ItGlueError::transport(request.clone(), source))?;
        let status = response.status();
        tracing::debug!(
            method = %call.method,
            path = %call.path,
            status = status.as_u16(),
            "IT Glue answered"
        );
        let retry_after = parse_retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ItGlueError::transport(request.clone(), source))?;
        if status.is_success() {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|error| ItGlueError::Decode {
                    request,
                    problem: format!("the body is not JSON ({error})"),
                });
        }
        if status.as_u16() == 429 {
            // No wait needs to outlast IT Glue's own window, whatever a header says.
            let longest = self
                .inner
                .budget
                .budget()
                .window
                .max(self.inner.retry.rate_limit_delay);
            let delay = retry_after
                .unwrap_or(self.inner.retry.rate_limit_delay)
                .min(longest);
            self.inner.budget.hold_for(delay);
        }
        let scrubbed = self.scrub(&bytes);
        let error = ItGlueError::from_status(
            status.as_u16(),
            request,
            &scrubbed,
            retry_after,
            &self.inner.target,
        );
        tracing::debug!(status = status.as_u16(), error = %error, "IT Glue call failed");
        Err(error)
    }

    /// Every page of a list call at the configured page size, following `meta.next-page`.
    ///
    /// IT Glue answers very large pages with 504 or not at all; when a page keeps failing that
    /// way, the rest of the list is read with pages half as big (down to [`MIN_FALLBACK_PAGE_SIZE`]).
    pub(crate) async fn collect(&self, call: &Call) -> Result<Collected, ItGlueError> {
        self.collect_with(call, &|_| {}).await
    }

    /// [`collect`](Self::collect), calling `on_page` after every page.
    pub(crate) async fn collect_with(
        &self,
        call: &Call,
        on_page: &(dyn Fn(PageRead) + Sync),
    ) -> Result<Collected, ItGlueError> {
        let mut collected = Collected::default();
        let mut pages = self.pages(call);
        while let Some((document, read)) = pages.next().await? {
            collected.total_count = read.total_records;
            collected.data.extend(document.data);
            collected.included.extend(document.included);
            on_page(read);
        }
        Ok(collected)
    }

    /// The pages of a list call, read one at a time when asked for, so a caller can hand each
    /// page on and forget it instead of holding the whole list.
    pub(crate) fn pages(&self, call: &Call) -> Pages<'_> {
        Pages {
            client: self,
            call: Call {
                method: call.method.clone(),
                path: call.path.clone(),
                query: call.query.clone(),
                body: call.body.clone(),
                idempotent: call.idempotent,
            },
            page: 1,
            page_size: self.inner.page_size,
            pages_read: 0,
            records: 0,
            total_count: None,
            done: false,
        }
    }

    fn url(&self, call: &Call) -> Result<reqwest::Url, ItGlueError> {
        let mut url =
            reqwest::Url::parse(&format!("{}{}", self.inner.base, call.path)).map_err(|error| {
                ItGlueError::InvalidSettings {
                    problems: vec![format!(
                        "cannot form an IT Glue URL for {}: {error}",
                        call.describe()
                    )],
                }
            })?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter());
        }
        Ok(url)
    }

    /// Removes the API key from text the server sent back before it can reach an error message.
    fn scrub(&self, body: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(body);
        if self.inner.api_key.is_empty() || !text.contains(&self.inner.api_key) {
            return body.to_vec();
        }
        text.replace(&self.inner.api_key, "[redacted]").into_bytes()
    }
}

/// Reads a JSON body into a document type, naming the call when it does not fit.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    call: &Call,
    body: Option<Value>,
) -> Result<T, ItGlueError> {
    let body = body.ok_or_else(|| ItGlueError::Decode {
        request: call.describe(),
        problem: "the body was empty".to_string(),
    })?;
    serde_json::from_value(body).map_err(|error| ItGlueError::Decode {
        request: call.describe(),
        problem: error.to_string(),
    })
}

/// Reads one resource document into a typed resource.
pub(crate) fn decode_single<T: FromResource>(
    call: &Call,
    body: Option<Value>,
) -> Result<(T, SingleDocument), ItGlueError> {
    let document: SingleDocument = decode(call, body)?;
    let value = typed(call, &document.data)?;
    Ok((value, document))
}

/// Turns one raw resource into a typed one, naming the call when it does not fit.
pub(crate) fn typed<T: FromResource>(
    call: &Call,
    resource: &RawResource,
) -> Result<T, ItGlueError> {
    T::from_resource(resource).map_err(|problem| ItGlueError::Decode {
        request: call.describe(),
        problem,
    })
}

/// Typed resources of the given kind among `resources` (other kinds are skipped), without repeats.
pub(crate) fn typed_of_kind<T: FromResource>(
    call: &Call,
    resources: &[RawResource],
    kind: &str,
) -> Result<Vec<T>, ItGlueError> {
    let mut seen = std::collections::HashSet::new();
    resources
        .iter()
        .filter(|resource| resource.is_kind(kind))
        .filter(|resource| seen.insert(resource.resolved_id()))
        .map(|resource| typed(call, resource))
        .collect()
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Some(Duration::from_secs_f64(seconds));
        }
    }
    let when = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let delta = when.to_utc() - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn pages_halve_down_to_the_fallback_floor() {
        assert!(can_halve(1000));
        assert!(can_halve(500));
        assert!(can_halve(250));
        assert!(!can_halve(125), "odd sizes would misalign pages");
        assert!(!can_halve(100), "50 is below the floor");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(
            parse_retry_after(&headers("12")),
            Some(Duration::from_secs(12))
        );
        assert_eq!(
            parse_retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO),
            "a date in the past means retry now"
        );
        assert_eq!(parse_retry_after(&headers("soon")), None);
        assert_eq!(parse_retry_after(&HeaderMap::new()), None);
    }
}

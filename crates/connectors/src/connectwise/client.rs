//! The HTTP machinery of the ConnectWise client: headers, codebase discovery, sending one request,
//! turning failures into [`CwError`]s, and following pages.
//!
//! The client does not retry, with one exception the vendor documents: hosted ConnectWise moves
//! the API to a new codebase on upgrades, which shows up as a 404, so a 404 triggers one fresh
//! `/login/companyinfo` lookup and, if the codebase changed, one repeat of the request. Every other
//! retry decision belongs to the caller (see [`super::retry`]).

use std::fmt;
use std::sync::RwLock;
use std::time::Instant;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::error::{ApiError, CwError};
use super::lookups::CompanyInfo;
use super::paging::next_link_query;
use super::settings::ConnectWiseSettings;

/// The largest page the API serves ("a hard limit of 1,000 records").
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A safety net against a server whose `next` links never end.
const MAX_PAGES: u32 = 100_000;

/// The body of a request, kept in a form that can be sent twice (for the codebase retry).
#[derive(Debug, Clone)]
pub(crate) enum RequestBody {
    Empty,
    Json(Vec<u8>),
    Document {
        record_type: String,
        record_id: i64,
        title: String,
        file_name: String,
        bytes: Vec<u8>,
    },
}

/// One API request, relative to `{site}/{codebase}apis/3.0/`.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: RequestBody,
}

impl ApiRequest {
    pub fn get(path: impl Into<String>) -> ApiRequest {
        ApiRequest {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: RequestBody::Empty,
        }
    }

    pub fn json(
        method: Method,
        path: impl Into<String>,
        body: &impl serde::Serialize,
    ) -> ApiRequest {
        ApiRequest {
            method,
            path: path.into(),
            query: Vec::new(),
            // Serializing our own wire structs and `serde_json::Value`s cannot fail.
            body: RequestBody::Json(serde_json::to_vec(body).unwrap_or_default()),
        }
    }

    pub fn with_query(mut self, name: &str, value: impl Into<String>) -> ApiRequest {
        self.query.push((name.to_string(), value.into()));
        self
    }
}

/// A complete answer: status, headers and the whole body.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A client for one ConnectWise Manage site. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct ConnectWiseClient {
    settings: ConnectWiseSettings,
    site: Url,
    http: reqwest::Client,
    authorization: HeaderValue,
    accept: HeaderValue,
    client_id: Option<HeaderValue>,
    codebase: RwLock<Option<String>>,
    /// Held while the first discovery runs, so concurrent first requests make one lookup.
    discovery: tokio::sync::Mutex<()>,
    page_size: u32,
}

impl fmt::Debug for ConnectWiseClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectWiseClient")
            .field("settings", &self.settings)
            .field("codebase", &self.current_codebase())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl ConnectWiseClient {
    /// Checks the settings and prepares the HTTP client; no request is sent yet.
    pub fn new(settings: ConnectWiseSettings) -> Result<ConnectWiseClient, CwError> {
        settings.validate()?;
        let mut site = settings.site.clone();
        if !site.path().ends_with('/') {
            let path = format!("{}/", site.path());
            site.set_path(&path);
        }
        let credentials = format!(
            "{}+{}:{}",
            settings.company_id, settings.public_key, settings.private_key
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let mut authorization =
            HeaderValue::from_str(&format!("Basic {encoded}")).map_err(|_| {
                CwError::InvalidSettings {
                    problems: vec!["the API keys cannot be sent in an HTTP header".to_string()],
                }
            })?;
        authorization.set_sensitive(true);
        let accept = HeaderValue::from_str(&format!(
            "application/vnd.connectwise.com+json; version={}",
            settings.effective_accept_version()
        ))
        .map_err(|_| CwError::InvalidSettings {
            problems: vec!["connectwise.accept_version cannot be sent in a header".to_string()],
        })?;
        let client_id = if settings.client_id.is_empty() {
            None
        } else {
            Some(HeaderValue::from_str(&settings.client_id).map_err(|_| {
                CwError::InvalidSettings {
                    problems: vec![
                        "connectwise.client_id cannot be sent in an HTTP header".to_string()
                    ],
                }
            })?)
        };
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mspbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| CwError::InvalidSettings {
                problems: vec![format!("cannot set up the HTTP client: {err}")],
            })?;
        let codebase = settings.codebase.as_deref().map(normalise_codebase);
        Ok(ConnectWiseClient {
            settings,
            site,
            http,
            authorization,
            accept,
            client_id,
            codebase: RwLock::new(codebase),
            discovery: tokio::sync::Mutex::new(()),
            page_size: MAX_PAGE_SIZE,
        })
    }

    /// Uses pages of `page_size` records (1 to 1000; the default is 1000) when listing.
    pub fn with_page_size(mut self, page_size: u32) -> ConnectWiseClient {
        self.page_size = page_size.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// The settings this client was built from (Debug redacts the private key).
    pub fn settings(&self) -> &ConnectWiseSettings {
        &self.settings
    }

    /// The codebase in use (e.g. `v2025_1/`), once known.
    pub fn current_codebase(&self) -> Option<String> {
        self.codebase
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Makes sure the codebase is known, discovering it if needed, and returns it.
    pub async fn connect(&self) -> Result<String, CwError> {
        if let Some(codebase) = self.current_codebase() {
            return Ok(codebase);
        }
        let _first = self.discovery.lock().await;
        match self.current_codebase() {
            // Another request discovered it while this one waited.
            Some(codebase) => Ok(codebase),
            None => self.discover_codebase().await,
        }
    }

    /// Asks `/login/companyinfo/{company}` for the codebase and caches the answer.
    pub async fn discover_codebase(&self) -> Result<String, CwError> {
        let info = self.company_info().await?;
        let codebase = info
            .codebase
            .as_deref()
            .map(normalise_codebase)
            .filter(|codebase| is_valid_codebase(codebase))
            .ok_or_else(|| CwError::InvalidResponse {
                method: "GET".to_string(),
                target: format!("login/companyinfo/{}", self.settings.company_id),
                detail: format!("no usable Codebase in the answer ({:?})", info.codebase),
            })?;
        tracing::debug!(codebase = %codebase, "ConnectWise codebase discovered");
        *self
            .codebase
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(codebase.clone());
        Ok(codebase)
    }

    /// The unauthenticated `GET /login/companyinfo/{company}`.
    pub async fn company_info(&self) -> Result<CompanyInfo, CwError> {
        let mut url = self.site.clone();
        url.path_segments_mut()
            .map_err(|_| CwError::InvalidSettings {
                problems: vec!["connectwise.site cannot carry a path".to_string()],
            })?
            .pop_if_empty()
            .extend(["login", "companyinfo", self.settings.company_id.as_str()]);
        let target = format!("login/companyinfo/{}", self.settings.company_id);
        let started = Instant::now();
        let response = self
            .http
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .header(CACHE_CONTROL, "no-cache")
            .send()
            .await
            .map_err(|err| self.transport_error(err, "GET", &target))?;
        let status = response.status();
        let retry_after = header_text(response.headers(), "retry-after");
        let body = response
            .bytes()
            .await
            .map_err(|err| self.transport_error(err, "GET", &target))?;
        log_exchange("GET", &target, status, started);
        if status == StatusCode::NOT_FOUND {
            return Err(CwError::SiteOrCodebaseNotFound {
                method: "GET".to_string(),
                url: url.to_string(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(ApiError::from_response(
                status.as_u16(),
                "GET",
                &target,
                retry_after.as_deref(),
                &body,
                true,
            )
            .into());
        }
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|err| CwError::InvalidResponse {
                method: "GET".to_string(),
                target: target.clone(),
                detail: format!(
                    "{err}; is connectwise.site the ConnectWise API host (e.g. \
                     https://api-na.myconnectwise.net)?"
                ),
            })?;
        if value.is_null() {
            return Err(CwError::UnknownCompany {
                company_id: self.settings.company_id.clone(),
                site: self.settings.site.to_string(),
            });
        }
        serde_json::from_value(value).map_err(|err| CwError::InvalidResponse {
            method: "GET".to_string(),
            target,
            detail: err.to_string(),
        })
    }

    /// Sends `request`, rediscovering the codebase and repeating once on a 404.
    pub(crate) async fn execute(&self, request: &ApiRequest) -> Result<RawResponse, CwError> {
        let codebase = self.connect().await?;
        let first = self.send_once(&codebase, request).await;
        let Err(error) = first else {
            return first;
        };
        if error.status() != Some(404) {
            return Err(error);
        }
        match self.discover_codebase().await {
            Ok(fresh) if fresh != codebase => {
                tracing::info!(
                    old_codebase = %codebase,
                    new_codebase = %fresh,
                    "ConnectWise codebase changed; repeating the request"
                );
                self.send_once(&fresh, request).await
            }
            Ok(_) => Err(error),
            Err(discovery_error) => {
                tracing::warn!(
                    error = %discovery_error,
                    "ConnectWise codebase lookup after a 404 failed"
                );
                Err(error)
            }
        }
    }

    /// Sends `request` and reads the JSON answer as `T`.
    pub(crate) async fn execute_json<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
    ) -> Result<T, CwError> {
        let raw = self.execute(request).await?;
        decode(request, &raw.body)
    }

    /// Every record of a list endpoint (a path below `apis/3.0/`, e.g. `service/severities`),
    /// following pages; `query` may carry `conditions`, `orderBy`, `fields` and the like.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, CwError> {
        let mut request = ApiRequest::get(path.trim_start_matches('/'));
        for (name, value) in query {
            request = request.with_query(name, *value);
        }
        self.list_pages(request).await
    }

    /// Follows every page of a list request and returns all records.
    ///
    /// Pages are followed through `Link: <…>; rel="next"` until it is absent or a page is empty.
    /// When the answer has no `Link` header at all (some endpoints, e.g. POST searches), a full page
    /// is taken to mean there may be more, and the next page number is asked for.
    pub(crate) async fn list_pages<T: DeserializeOwned>(
        &self,
        request: ApiRequest,
    ) -> Result<Vec<T>, CwError> {
        let page_size = self.page_size;
        let mut request = request;
        request
            .query
            .retain(|(name, _)| name != "page" && name != "pageSize");
        let base_query = request.query.clone();
        request
            .query
            .push(("pageSize".to_string(), page_size.to_string()));
        request.query.push(("page".to_string(), "1".to_string()));
        let mut records = Vec::new();
        let mut page_number: u32 = 1;
        loop {
            let raw = self.execute(&request).await?;
            let page: Vec<T> = decode(&request, &raw.body)?;
            let count = page.len();
            records.extend(page);
            if count == 0 {
                break;
            }
            let links: Vec<&str> = raw
                .headers
                .get_all("link")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect();
            let next_query = if links.is_empty() {
                if count < page_size as usize {
                    break;
                }
                let mut query = base_query.clone();
                query.push(("pageSize".to_string(), page_size.to_string()));
                query.push(("page".to_string(), (page_number + 1).to_string()));
                query
            } else {
                match next_link_query(&links) {
                    Some(query) => query,
                    None => break,
                }
            };
            if next_query == request.query {
                tracing::warn!(path = %request.path, "ConnectWise next link repeats the current page");
                break;
            }
            page_number += 1;
            if page_number > MAX_PAGES {
                break;
            }
            request.query = next_query;
        }
        Ok(records)
    }

    async fn send_once(
        &self,
        codebase: &str,
        request: &ApiRequest,
    ) -> Result<RawResponse, CwError> {
        let method = request.method.as_str();
        let mut url = self.api_url(codebase, &request.path)?;
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, self.accept.clone())
            .header(CACHE_CONTROL, "no-cache");
        if let Some(client_id) = &self.client_id {
            builder = builder.header("clientId", client_id.clone());
        }
        builder = match &request.body {
            RequestBody::Empty => builder.header(CONTENT_TYPE, "application/json"),
            RequestBody::Json(bytes) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(bytes.clone()),
            RequestBody::Document {
                record_type,
                record_id,
                title,
                file_name,
                bytes,
            } => {
                let file = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(file_name.clone())
                    .mime_str(mime_for(file_name))
                    .map_err(|err| CwError::InvalidRequest {
                        problem: format!("cannot label attachment '{file_name}': {err}"),
                    })?;
                let form = reqwest::multipart::Form::new()
                    .text("recordType", record_type.clone())
                    .text("recordId", record_id.to_string())
                    .text("title", title.clone())
                    .part("file", file);
                builder.multipart(form)
            }
        };
        let started = Instant::now();
        let response = builder
            .send()
            .await
            .map_err(|err| self.transport_error(err, method, &request.path))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|err| self.transport_error(err, method, &request.path))?
            .to_vec();
        log_exchange(method, &request.path, status, started);
        if status.is_success() {
            return Ok(RawResponse { headers, body });
        }
        let retry_after = header_text(&headers, "retry-after");
        if status == StatusCode::NOT_FOUND && !looks_like_connectwise_error(&body) {
            return Err(CwError::SiteOrCodebaseNotFound {
                method: method.to_string(),
                url: format!("{}{}", self.api_base_text(codebase), request.path),
                status: status.as_u16(),
            });
        }
        Err(ApiError::from_response(
            status.as_u16(),
            method,
            &request.path,
            retry_after.as_deref(),
            &body,
            self.client_id.is_some(),
        )
        .into())
    }

    fn api_base_text(&self, codebase: &str) -> String {
        format!("{}{codebase}apis/3.0/", self.site)
    }

    fn api_url(&self, codebase: &str, path: &str) -> Result<Url, CwError> {
        Url::parse(&format!("{}{path}", self.api_base_text(codebase))).map_err(|err| {
            CwError::InvalidRequest {
                problem: format!("cannot build the URL for '{path}': {err}"),
            }
        })
    }

    /// Explains a failure of the HTTP layer. reqwest's own text names the URL, which carries no
    /// secret (credentials travel only in the Authorization header); it is still left out so that
    /// errors stay short and uniform.
    fn transport_error(&self, err: reqwest::Error, method: &str, target: &str) -> CwError {
        let host = match (self.site.host_str(), self.site.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => self.site.to_string(),
        };
        let (is_connect, is_timeout, is_builder) =
            (err.is_connect(), err.is_timeout(), err.is_builder());
        let detail = error_chain_text(&err.without_url());
        let lower = detail.to_ascii_lowercase();
        if is_connect && (lower.contains("certificate") || lower.contains("tls handshake")) {
            return CwError::Tls { host, detail };
        }
        if is_timeout {
            return CwError::Timeout {
                method: method.to_string(),
                target: target.to_string(),
                sent: !is_connect,
            };
        }
        if is_connect {
            return CwError::Connect { host, detail };
        }
        if is_builder {
            return CwError::InvalidRequest { problem: detail };
        }
        CwError::ConnectionDropped {
            method: method.to_string(),
            target: target.to_string(),
            detail,
        }
    }
}

fn decode<T: DeserializeOwned>(request: &ApiRequest, body: &[u8]) -> Result<T, CwError> {
    serde_json::from_slice(body).map_err(|err| CwError::InvalidResponse {
        method: request.method.to_string(),
        target: request.path.clone(),
        detail: err.to_string(),
    })
}

fn log_exchange(method: &str, path: &str, status: StatusCode, started: Instant) {
    tracing::debug!(
        method,
        path,
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "ConnectWise request"
    );
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

/// A ConnectWise "not found" carries a `{code, message}` object; a 404 from a web server or a wrong
/// codebase does not.
fn looks_like_connectwise_error(body: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<serde_json::Value>(body),
        Ok(serde_json::Value::Object(object)) if object.contains_key("code")
    )
}

/// Every message in the error's source chain, joined, without repeats.
fn error_chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(error) = current {
        let text = error.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

/// `v2025_1`, `/v2025_1/` and `v2025_1/` all become `v2025_1/`.
fn normalise_codebase(codebase: &str) -> String {
    format!("{}/", codebase.trim().trim_matches('/'))
}

fn is_valid_codebase(codebase: &str) -> bool {
    let name = codebase.trim_end_matches('/');
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn mime_for(file_name: &str) -> &'static str {
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codebases_are_normalised_and_checked() {
        assert_eq!(normalise_codebase("v2025_1"), "v2025_1/");
        assert_eq!(normalise_codebase("/v4_6_release/"), "v4_6_release/");
        assert!(is_valid_codebase("v4_6_release/"));
        assert!(!is_valid_codebase("../etc/"));
        assert!(!is_valid_codebase("/"));
    }

    #[test]
    fn connectwise_error_bodies_are_told_apart_from_web_server_404s() {
        assert!(looks_like_connectwise_error(
            br#"{"code":"NotFound","message":"Ticket 5 not found"}"#
        ));
        assert!(!looks_like_connectwise_error(b"<html>Not Found</html>"));
        assert!(!looks_like_connectwise_error(b""));
    }

    #[test]
    fn attachments_get_a_content_type_from_their_extension() {
        assert_eq!(mime_for("report.HTML"), "text/html");
        assert_eq!(mime_for("records.json"), "application/json");
        assert_eq!(mime_for("blob"), "application/octet-stream");
    }
}

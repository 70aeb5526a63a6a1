//! The HTTP client: enum, search (with paging) and write over Basic auth.
//!
//! Every request asks for JSON (`format=json`) and an explicit `count`; paging follows Auditor's
//! continuation marks until a page comes back empty or without a mark.

use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use url::Url;

use super::error::AuditorError;
use super::filter::FilterList;
use super::record::{parse_error_list, parse_record_page, ActivityRecord, RecordPage, WireFormat};
use super::settings::{AuditorPassword, AuditorSettings, TlsMode};
use super::tls::{find_certificate_problem, pinned_client_config, CertificateProblem};

const JSON_CONTENT_TYPE: &str = "application/json; Charset=UTF-8";

/// A client for one Auditor server.
#[derive(Debug, Clone)]
pub struct AuditorClient {
    http: reqwest::Client,
    api_base: Url,
    username: String,
    password: AuditorPassword,
    records_per_request: u32,
    timeout: std::time::Duration,
}

impl AuditorClient {
    /// Validates the settings and builds the HTTP client; no request is made.
    pub fn new(settings: AuditorSettings) -> Result<Self, AuditorError> {
        let pin = settings.validate()?;
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("mspbridge/", env!("CARGO_PKG_VERSION")));
        builder = match (&settings.tls, pin) {
            (TlsMode::PinnedSha256(_), Some(expected)) => {
                builder.use_preconfigured_tls(pinned_client_config(expected)?)
            }
            (TlsMode::AcceptInvalid, _) => builder.danger_accept_invalid_certs(true),
            _ => builder,
        };
        let http = builder.build().map_err(|error| {
            AuditorError::InvalidSettings(format!("cannot build the HTTP client: {error}"))
        })?;
        let mut api_base = settings.url.clone();
        if !api_base.path().ends_with('/') {
            let path = format!("{}/", api_base.path());
            api_base.set_path(&path);
        }
        let api_base = api_base
            .join("netwrix/api/v1/activity_records/")
            .map_err(|error| {
                AuditorError::InvalidSettings(format!("url {}: {error}", settings.url))
            })?;
        Ok(AuditorClient {
            http,
            api_base,
            username: settings.username,
            password: settings.password,
            records_per_request: settings.records_per_request,
            timeout: settings.timeout,
        })
    }

    /// Checks URL, credentials and certificate with the smallest possible read (one record of
    /// `activity_records/enum`), for `mspbridge check` and the setup wizard.
    pub async fn probe(&self) -> Result<(), AuditorError> {
        let mut url = self.endpoint("enum")?;
        url.set_query(Some("format=json&count=1"));
        let bytes = self.send(Method::GET, url, None).await?;
        parse_record_page(&bytes, WireFormat::Json).map(|_| ())
    }

    /// Fetches one record by RID (Auditor has no get-by-id; this is a search with
    /// `RID Equals`). `Ok(None)` when no record has that RID, e.g. for the sample ids of Auditor's
    /// "Test run".
    pub async fn search_by_rid(&self, rid: &str) -> Result<Option<ActivityRecord>, AuditorError> {
        tracing::debug!(rid, "fetching Netwrix Auditor activity record");
        let page = self.search_page(&FilterList::rid(rid), None).await?;
        Ok(page
            .records
            .into_iter()
            .find(|record| record.rid.as_deref() == Some(rid)))
    }

    /// One page of search results; pass the previous page's mark to get the next one.
    pub async fn search_page(
        &self,
        filters: &FilterList,
        continuation_mark: Option<&str>,
    ) -> Result<RecordPage, AuditorError> {
        let body = filters.search_body(continuation_mark).to_string();
        let url = self.endpoint("search")?;
        let bytes = self.send(Method::POST, url, Some(body)).await?;
        parse_record_page(&bytes, WireFormat::Json)
    }

    /// Every record matching `filters`, following continuation marks to the end.
    pub async fn search(&self, filters: &FilterList) -> Result<Vec<ActivityRecord>, AuditorError> {
        self.collect_pages(usize::MAX, |mark| async move {
            self.search_page(filters, mark.as_deref()).await
        })
        .await
    }

    /// One page of `activity_records/enum`: the first page without a mark (GET), later pages with
    /// the previous page's mark (POST, the bare JSON string).
    pub async fn enum_page(
        &self,
        continuation_mark: Option<&str>,
    ) -> Result<RecordPage, AuditorError> {
        let url = self.endpoint("enum")?;
        let bytes = match continuation_mark {
            None => self.send(Method::GET, url, None).await?,
            Some(mark) => {
                let body = serde_json::Value::String(mark.to_owned()).to_string();
                self.send(Method::POST, url, Some(body)).await?
            }
        };
        parse_record_page(&bytes, WireFormat::Json)
    }

    /// Up to `max_records` records from `activity_records/enum`, oldest first.
    pub async fn enum_records(
        &self,
        max_records: usize,
    ) -> Result<Vec<ActivityRecord>, AuditorError> {
        self.collect_pages(max_records, |mark| async move {
            self.enum_page(mark.as_deref()).await
        })
        .await
    }

    /// Writes records (`POST activity_records/`); Auditor stores them with the data source
    /// "Netwrix API" and answers with an empty body.
    pub async fn write_records(&self, records: &[ActivityRecord]) -> Result<(), AuditorError> {
        let body = serde_json::to_string(records).map_err(|error| {
            AuditorError::InvalidResponse(format!("cannot encode activity records: {error}"))
        })?;
        let mut url = self.api_base.clone();
        url.set_query(Some("format=json"));
        self.send(Method::POST, url, Some(body)).await?;
        Ok(())
    }

    async fn collect_pages<F, Fut>(
        &self,
        max_records: usize,
        mut fetch: F,
    ) -> Result<Vec<ActivityRecord>, AuditorError>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<RecordPage, AuditorError>>,
    {
        let mut records = Vec::new();
        let mut mark: Option<String> = None;
        loop {
            let page = fetch(mark.clone()).await?;
            if page.records.is_empty() {
                break;
            }
            records.extend(page.records);
            if records.len() >= max_records {
                records.truncate(max_records);
                break;
            }
            match page.continuation_mark {
                Some(next) if mark.as_deref() == Some(next.as_str()) => {
                    return Err(AuditorError::InvalidResponse(
                        "Netwrix Auditor returned the same continuation mark twice; \
                         stopping to avoid reading the same page forever"
                            .to_owned(),
                    ));
                }
                Some(next) => mark = Some(next),
                None => break,
            }
        }
        Ok(records)
    }

    fn endpoint(&self, name: &str) -> Result<Url, AuditorError> {
        let mut url = self
            .api_base
            .join(name)
            .map_err(|error| AuditorError::InvalidSettings(format!("endpoint {name}: {error}")))?;
        url.set_query(Some(&format!(
            "format=json&count={}",
            self.records_per_request
        )));
        Ok(url)
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<String>,
    ) -> Result<Vec<u8>, AuditorError> {
        let body_len = body.as_ref().map_or(0, String::len);
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .basic_auth(&self.username, Some(self.password.expose_secret()));
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE))
                .body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.transport_error(&url, error))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(std::time::Duration::from_secs);
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.transport_error(&url, error))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let shown_url = strip_query(&url);
        Err(match status {
            StatusCode::UNAUTHORIZED => AuditorError::Unauthorized {
                username: self.username.clone(),
            },
            StatusCode::NOT_FOUND => AuditorError::EndpointNotFound { url: shown_url },
            StatusCode::METHOD_NOT_ALLOWED => AuditorError::MethodNotAllowed {
                method: method.to_string(),
                url: shown_url,
            },
            StatusCode::PAYLOAD_TOO_LARGE => AuditorError::PayloadTooLarge { bytes: body_len },
            _ => AuditorError::Api {
                status: status.as_u16(),
                errors: parse_error_list(&bytes),
                retry_after,
            },
        })
    }

    fn transport_error(&self, url: &Url, error: reqwest::Error) -> AuditorError {
        let shown_url = strip_query(url);
        match find_certificate_problem(&error) {
            Some(CertificateProblem::PinMismatch { expected, actual }) => {
                return AuditorError::CertificateMismatch {
                    url: shown_url,
                    expected,
                    actual,
                }
            }
            Some(CertificateProblem::Rejected(detail)) => {
                return AuditorError::CertificateRejected {
                    url: shown_url,
                    detail,
                }
            }
            None => {}
        }
        if error.is_timeout() {
            return AuditorError::Timeout {
                url: shown_url,
                timeout: self.timeout,
            };
        }
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        AuditorError::Transport {
            url: shown_url,
            detail,
        }
    }
}

fn strip_query(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

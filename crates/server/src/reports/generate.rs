//! Making reports: generated from the store, or accepted as external HTML.
//!
//! Both end up as one row of the reports table holding the whole document, so download, listing
//! and publishing never care where a report came from. External files are checked before they are
//! kept: a report that is empty, is not HTML or is too large would only fail later in IT Glue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mspbridge_core::config::Config;
use mspbridge_store::{NewReport, ReportMeta, ReportSource, Store};

use super::data::{collect, ReportPeriod};
use super::html::render;
use super::ReportError;

/// Largest external report accepted: IT Glue takes uploads as base64 inside JSON, so a larger file
/// risks a refusal there (and a third more on the wire).
pub const MAX_EXTERNAL_REPORT_BYTES: usize = 10 * 1024 * 1024;
/// Name of a report when none is given.
pub const DEFAULT_REPORT_NAME: &str = "Security Summary";
/// Expiry of a report made on demand, when no `[[reports]]` entry says otherwise.
pub const DEFAULT_EXPIRES_AFTER: Duration = Duration::from_secs(365 * 24 * 3600);

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateRequest {
    /// A client of the configuration.
    pub client: String,
    /// Report name.
    pub name: String,
    /// Period covered.
    pub period: ReportPeriod,
    /// Expiry written on the published asset, from generation time.
    pub expires_after: Option<Duration>,
}

/// Generates the security summary of `request.client` for its period from the store and keeps
/// it; the report starts `unpublished`.
pub async fn generate_report(
    store: &dyn Store,
    config: &Config,
    request: &GenerateRequest,
    now: DateTime<Utc>,
) -> Result<ReportMeta, ReportError> {
    known_client(config, &request.client)?;
    let name = checked_name(&request.name)?;
    if request.period.start >= request.period.end {
        return Err(ReportError::InvalidRequest(format!(
            "the report period must end after it starts ({} is not before {})",
            request.period.start, request.period.end
        )));
    }
    let data = collect(store, &request.client, request.period).await?;
    let html = render(&name, &data, now);
    let stored = store
        .insert_report(NewReport {
            client: request.client.clone(),
            name,
            period_start: request.period.start,
            period_end: request.period.end,
            generated_at: now,
            html,
            source: ReportSource::Generated,
            systems: data.systems,
            expires_at: request
                .expires_after
                .map(|after| mspbridge_core::clock::add(now, after)),
        })
        .await?;
    tracing::info!(
        report_id = stored.id,
        client = %stored.client,
        alerts = data.total_alerts,
        "security report generated"
    );
    Ok(stored)
}

/// Checks an external report and returns it as text: not empty, at most
/// [`MAX_EXTERNAL_REPORT_BYTES`], UTF-8, and an HTML document.
pub fn validate_external_html(bytes: &[u8]) -> Result<String, ReportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ReportError::InvalidHtml("the file is empty".to_string()));
    }
    if bytes.len() > MAX_EXTERNAL_REPORT_BYTES {
        return Err(ReportError::InvalidHtml(format!(
            "the file is {} bytes, more than the {} bytes a report may have",
            bytes.len(),
            MAX_EXTERNAL_REPORT_BYTES
        )));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|error| {
        ReportError::InvalidHtml(format!(
            "the file is not UTF-8 text (invalid byte at offset {})",
            error.valid_up_to()
        ))
    })?;
    let head: String = text
        .trim_start()
        .chars()
        .take(2048)
        .collect::<String>()
        .to_ascii_lowercase();
    let starts_like_html = head.starts_with("<!doctype html") || head.starts_with("<html");
    let has_html_element = head.contains("<html") || text.to_ascii_lowercase().contains("<body");
    if !starts_like_html && !has_html_element {
        return Err(ReportError::InvalidHtml(
            "the file does not look like HTML (expected <!DOCTYPE html> or an <html> element)"
                .to_string(),
        ));
    }
    Ok(text.to_string())
}

/// Keeps an external HTML report for `client`, checked with [`validate_external_html`].
pub async fn store_external_report(
    store: &dyn Store,
    config: &Config,
    client: &str,
    name: &str,
    bytes: &[u8],
    expires_after: Option<Duration>,
    now: DateTime<Utc>,
) -> Result<ReportMeta, ReportError> {
    known_client(config, client)?;
    let name = checked_name(name)?;
    let html = validate_external_html(bytes)?;
    let stored = store
        .insert_report(NewReport {
            client: client.to_string(),
            name,
            period_start: now,
            period_end: now,
            generated_at: now,
            html,
            source: ReportSource::External,
            systems: Vec::new(),
            expires_at: expires_after.map(|after| mspbridge_core::clock::add(now, after)),
        })
        .await?;
    tracing::info!(report_id = stored.id, client, "external report stored");
    Ok(stored)
}

fn known_client(config: &Config, client: &str) -> Result<(), ReportError> {
    if config.client(client).is_some() {
        return Ok(());
    }
    let known: Vec<&str> = config.clients.iter().map(|c| c.name.as_str()).collect();
    Err(ReportError::UnknownClient {
        client: client.to_string(),
        known: if known.is_empty() {
            "the configuration has no [[clients]]".to_string()
        } else {
            format!("configured clients: {}", known.join(", "))
        },
    })
}

fn checked_name(name: &str) -> Result<String, ReportError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ReportError::InvalidRequest(
            "the report name is empty".to_string(),
        ));
    }
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ReportError::InvalidRequest(
            "the report name must be one line of at most 200 characters".to_string(),
        ));
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_reports_are_checked() {
        let cases: [(&[u8], Option<&str>); 7] = [
            (b"<!DOCTYPE html><html><body>x</body></html>", None),
            (b"\xEF\xBB\xBF  <html><body>x</body></html>", None),
            (b"<p>fragment</p><body>ok</body>", None),
            (b"", Some("empty")),
            (b"  \n ", Some("empty")),
            (b"%PDF-1.7 binary", Some("does not look like HTML")),
            (b"<html>\xff\xfe</html>", Some("not UTF-8")),
        ];
        for (bytes, problem) in cases {
            match (validate_external_html(bytes), problem) {
                (Ok(_), None) => {}
                (Err(error), Some(expected)) => {
                    assert!(error.to_string().contains(expected), "{error}")
                }
                (outcome, _) => panic!(
                    "{:?}: unexpected {outcome:?}",
                    String::from_utf8_lossy(bytes)
                ),
            }
        }
        let big = format!("<html>{}</html>", "x".repeat(MAX_EXTERNAL_REPORT_BYTES));
        let error = validate_external_html(big.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("more than"), "{error}");
    }
}

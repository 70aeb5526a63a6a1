//! The one error type of the IT Glue client and the reading of IT Glue's error bodies.
//!
//! IT Glue's error documents only loosely follow JSON:API: `status` is a number or a Rails symbol,
//! `detail` is missing, a string or an array, `source.pointer` is null or slash-less, and unknown
//! routes answer with an HTML page. [`describe_error_body`] turns all of them into one readable
//! sentence, and [`ItGlueError::class`] tells the job runner whether to retry, wait or give up.

use std::time::Duration;

use serde_json::Value;

use crate::error::ErrorClass;

/// Longest excerpt of an unexpected response body quoted in an error message.
const EXCERPT_CHARS: usize = 300;

/// Everything that can go wrong talking to IT Glue.
#[derive(Debug, thiserror::Error)]
pub enum ItGlueError {
    /// The settings cannot work; nothing was sent.
    #[error("invalid IT Glue settings: {}", .problems.join("; "))]
    InvalidSettings { problems: Vec<String> },

    /// 401/403: wrong, revoked or under-privileged key, or the wrong region.
    #[error(
        "IT Glue refused {request} with HTTP {status} at {target}: either the API key is wrong, \
         revoked (IT Glue revokes keys unused for 90 days) or lacks access to this record, or the \
         account lives in another region (IT Glue answers a key from a different region with 403 \
         too); check that the configured region matches the account's app.<region>.itglue.com \
         address and re-enter the key (server said: {message})"
    )]
    Unauthorized {
        status: u16,
        request: String,
        target: String,
        message: String,
    },

    /// 429: the account's request budget on the server side is used up.
    #[error(
        "IT Glue throttled {request} (HTTP 429, {}): the account exceeded its request limit (server said: {message})",
        match .retry_after {
            Some(delay) => format!("retry after {} s", delay.as_secs_f64()),
            None => "no Retry-After given".to_string(),
        }
    )]
    RateLimited {
        request: String,
        retry_after: Option<Duration>,
        message: String,
    },

    /// Any other non-success status.
    #[error("IT Glue rejected {request} with HTTP {status}: {message}")]
    Status {
        status: u16,
        request: String,
        message: String,
    },

    /// The request never got an answer (connection refused or reset, timeout, TLS failure).
    #[error("could not get an answer from IT Glue for {request}: {detail}")]
    Transport {
        request: String,
        /// The whole cause chain, e.g. "… tcp connect error: Connection refused".
        detail: String,
        #[source]
        source: reqwest::Error,
    },

    /// A success answer that does not have the documented shape.
    #[error("IT Glue answered {request} with a document mspbridge cannot read: {problem}")]
    Decode { request: String, problem: String },

    /// The flexible asset type found under the configured name cannot hold reports.
    #[error("the IT Glue flexible asset type `{name}` cannot hold mspbridge reports: {problem}")]
    UnusableAssetType { name: String, problem: String },
}

impl ItGlueError {
    /// Builds the error for a non-success HTTP answer. `target` names the region or URL used.
    pub fn from_status(
        status: u16,
        request: String,
        body: &[u8],
        retry_after: Option<Duration>,
        target: &str,
    ) -> Self {
        let message = describe_error_body(body);
        match status {
            401 | 403 => ItGlueError::Unauthorized {
                status,
                request,
                target: target.to_string(),
                message,
            },
            429 => ItGlueError::RateLimited {
                request,
                retry_after,
                message,
            },
            _ => ItGlueError::Status {
                status,
                request,
                message,
            },
        }
    }

    /// Wraps a failure to get any answer, spelling out the cause chain reqwest keeps nested.
    pub fn transport(request: String, source: reqwest::Error) -> Self {
        let mut detail = if source.is_timeout() {
            "the request timed out".to_string()
        } else {
            source.to_string()
        };
        let mut cause = std::error::Error::source(&source);
        while let Some(inner) = cause {
            let text = inner.to_string();
            if !detail.contains(&text) {
                detail.push_str(": ");
                detail.push_str(&text);
            }
            cause = inner.source();
        }
        ItGlueError::Transport {
            request,
            detail,
            source,
        }
    }

    /// What the caller should do about this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            ItGlueError::RateLimited { retry_after, .. } => ErrorClass::RateLimited {
                retry_after: *retry_after,
            },
            ItGlueError::Status { status, .. } if *status == 408 || *status >= 500 => {
                ErrorClass::Retryable
            }
            ItGlueError::Transport { source, .. } if source.is_builder() => ErrorClass::Permanent,
            ItGlueError::Transport { .. } => ErrorClass::Retryable,
            ItGlueError::InvalidSettings { .. }
            | ItGlueError::Unauthorized { .. }
            | ItGlueError::Status { .. }
            | ItGlueError::Decode { .. }
            | ItGlueError::UnusableAssetType { .. } => ErrorClass::Permanent,
        }
    }

    /// The HTTP status IT Glue answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ItGlueError::Unauthorized { status, .. } | ItGlueError::Status { status, .. } => {
                Some(*status)
            }
            ItGlueError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }

    /// True for 404 answers (record or route not found).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// One readable sentence for any error body IT Glue sends: JSON:API-ish `errors` arrays in all the
/// observed variants, other JSON, HTML pages, plain text or nothing at all.
pub fn describe_error_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "the response body was empty".to_string();
    }
    match serde_json::from_str::<Value>(trimmed) {
        Ok(value) => describe_json_error(&value),
        Err(_) if looks_like_html(trimmed) => describe_html(trimmed),
        Err(_) => format!("non-JSON body `{}`", excerpt(trimmed)),
    }
}

fn describe_json_error(value: &Value) -> String {
    if let Some(errors) = value.get("errors").and_then(Value::as_array) {
        let parts: Vec<String> = errors.iter().filter_map(describe_one_error).collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    for key in ["error", "message", "title", "detail"] {
        if let Some(text) = value.get(key).and_then(Value::as_str) {
            if !text.trim().is_empty() {
                return text.trim().to_string();
            }
        }
    }
    format!(
        "unrecognised error document `{}`",
        excerpt(&value.to_string())
    )
}

fn describe_one_error(error: &Value) -> Option<String> {
    if let Some(text) = error.as_str() {
        return Some(text.to_string());
    }
    let title = error
        .get("title")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let detail = error.get("detail").and_then(detail_text);
    let status = match error.get("status") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    };
    let pointer = error
        .get("source")
        .and_then(|source| source.get("pointer"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| !p.is_empty());

    let mut message = match (title, detail) {
        (Some(title), Some(detail)) if detail.eq_ignore_ascii_case(title) => title.to_string(),
        (Some(title), Some(detail)) => format!("{title}: {detail}"),
        (Some(title), None) => title.to_string(),
        (None, Some(detail)) => detail,
        (None, None) => match &status {
            Some(status) => format!("error status {status} without a description"),
            None => format!("unrecognised error entry `{}`", excerpt(&error.to_string())),
        },
    };
    if let Some(pointer) = pointer {
        message.push_str(&format!(" (at `{pointer}`)"));
    }
    Some(message)
}

fn detail_text(detail: &Value) -> Option<String> {
    match detail {
        Value::String(text) => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
        Value::Array(items) => {
            let texts: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Value::String(text) => text.trim().to_string(),
                    other => other.to_string(),
                })
                .filter(|t| !t.is_empty())
                .collect();
            (!texts.is_empty()).then(|| texts.join(", "))
        }
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn looks_like_html(text: &str) -> bool {
    let lower = text
        .chars()
        .take(512)
        .collect::<String>()
        .to_ascii_lowercase();
    lower.starts_with("<!doctype html") || lower.contains("<html") || lower.starts_with('<')
}

fn describe_html(text: &str) -> String {
    let heading = element_text(text, "title").or_else(|| element_text(text, "h1"));
    match heading {
        Some(heading) => format!(
            "an HTML page (`{heading}`) instead of a JSON document: the path is not an IT Glue API \
             route, check the base URL"
        ),
        None => "an HTML page instead of a JSON document: the path is not an IT Glue API route, \
                 check the base URL"
            .to_string(),
    }
}

fn element_text(html: &str, tag: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let open = lower.find(&format!("<{tag}"))?;
    let content_start = open + lower[open..].find('>')? + 1;
    let close = content_start + lower[content_start..].find(&format!("</{tag}"))?;
    let inner = html[content_start..close].trim();
    (!inner.is_empty()).then(|| excerpt(inner))
}

fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let mut short: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_like_every_connector() {
        let target = "region US (https://api.itglue.com)";
        let error = |status| ItGlueError::from_status(status, "GET /x".into(), b"", None, target);
        assert_eq!(error(500).class(), ErrorClass::Retryable);
        assert_eq!(error(504).class(), ErrorClass::Retryable);
        assert_eq!(error(408).class(), ErrorClass::Retryable);
        assert_eq!(error(404).class(), ErrorClass::Permanent);
        assert_eq!(error(422).class(), ErrorClass::Permanent);
        assert_eq!(error(401).class(), ErrorClass::Permanent);
        assert_eq!(error(403).class(), ErrorClass::Permanent);
        assert_eq!(
            error(429).class(),
            ErrorClass::RateLimited { retry_after: None }
        );
        let told = ItGlueError::from_status(
            429,
            "GET /x".into(),
            b"",
            Some(Duration::from_secs(3)),
            target,
        );
        assert_eq!(
            told.class(),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
    }

    #[test]
    fn forbidden_explains_key_and_region() {
        let error = ItGlueError::from_status(
            403,
            "GET /organizations".into(),
            br#"{"errors":[{"status":403,"title":"Forbidden"}]}"#,
            None,
            "region EU (https://api.eu.itglue.com)",
        );
        let text = error.to_string();
        assert!(text.contains("region EU"), "{text}");
        assert!(text.contains("API key"), "{text}");
        assert!(text.contains("another region"), "{text}");
        assert!(text.contains("Forbidden"), "{text}");
    }

    #[test]
    fn html_and_text_bodies_are_described() {
        let html = b"<!DOCTYPE html><html><head><title>The page you were looking for doesn't exist (404)</title></head></html>";
        let text = describe_error_body(html);
        assert!(text.contains("doesn't exist (404)"), "{text}");
        assert!(text.contains("not an IT Glue API route"), "{text}");
        assert_eq!(describe_error_body(b"  "), "the response body was empty");
        assert!(describe_error_body(b"Bad Gateway").contains("Bad Gateway"));
        let long = "x".repeat(1000);
        assert!(describe_error_body(long.as_bytes()).chars().count() < 400);
    }

    #[test]
    fn odd_error_entries_still_say_something() {
        assert_eq!(
            describe_error_body(br#"{"errors":[{"status":"unprocessable_entity"}]}"#),
            "error status unprocessable_entity without a description"
        );
        assert_eq!(
            describe_error_body(br#"{"error":"Not authorized"}"#),
            "Not authorized"
        );
        assert_eq!(
            describe_error_body(br#"{"errors":["plain message"]}"#),
            "plain message"
        );
        assert!(describe_error_body(br#"{"weird":1}"#).contains("weird"));
    }
}

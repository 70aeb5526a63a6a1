//! Everything that can go wrong talking to ConnectWise Manage, as one error type with a class.
//!
//! The job runner retries, waits or gives up by matching on [`CwError::class`], never on text; the
//! text is for the operator, so it says what to fix and names the setting when the cause is setup
//! (keys, client id, site, codebase, certificates). No variant ever holds the private key or the
//! `Authorization` header: errors are built from the method, the API path and the server's reply.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::error::ErrorClass;

/// Longest server message kept in an error; HTML error pages from proxies can be huge.
const MAX_MESSAGE_CHARS: usize = 400;

/// A failed ConnectWise call.
#[derive(Debug, thiserror::Error)]
pub enum CwError {
    /// The settings cannot work; every problem names its config key.
    #[error("invalid ConnectWise settings: {}", problems.join("; "))]
    InvalidSettings { problems: Vec<String> },

    /// The request was refused before sending, because ConnectWise would reject it anyway.
    #[error("invalid ConnectWise request: {problem}")]
    InvalidRequest { problem: String },

    /// `/login/companyinfo/{company}` answered `null`.
    #[error(
        "company id '{company_id}' is not known at site {site} (login/companyinfo returned null): \
         check connectwise.company_id and connectwise.site"
    )]
    UnknownCompany { company_id: String, site: String },

    /// A 404 that is not a ConnectWise "record not found": the URL does not lead to the API.
    #[error(
        "{method} {url} answered {status} Not Found, which means a wrong site or codebase: check \
         connectwise.site (the API host, e.g. https://api-na.myconnectwise.net) and \
         connectwise.codebase (on ConnectWise cloud, wrong API keys can also answer 404)"
    )]
    SiteOrCodebaseNotFound {
        method: String,
        url: String,
        status: u16,
    },

    /// ConnectWise answered with an HTTP error status.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// No answer within the configured timeout.
    #[error("{}", timeout_message(method, target, *sent))]
    Timeout {
        method: String,
        target: String,
        sent: bool,
    },

    /// The TCP connection could not be made.
    #[error(
        "cannot connect to ConnectWise at {host}: {detail} (check connectwise.site and the network)"
    )]
    Connect { host: String, detail: String },

    /// The server's TLS certificate did not verify.
    #[error(
        "TLS certificate verification failed for host {host}: {detail} (the certificate must be \
         valid for the name in connectwise.site and issued by a trusted authority)"
    )]
    Tls { host: String, detail: String },

    /// The connection broke after the request was sent, so the outcome is unknown.
    #[error("connection to ConnectWise dropped during {method} {target}: {detail}")]
    ConnectionDropped {
        method: String,
        target: String,
        detail: String,
    },

    /// A success answer whose body is not what the API documents.
    #[error("ConnectWise answered {method} {target} with an unreadable body: {detail}")]
    InvalidResponse {
        method: String,
        target: String,
        detail: String,
    },
}

fn timeout_message(method: &str, target: &str, sent: bool) -> String {
    if sent {
        format!(
            "ConnectWise did not answer {method} {target} within connectwise.request_timeout; \
             the request was sent, so it may have taken effect"
        )
    } else {
        format!(
            "connecting to ConnectWise for {method} {target} took longer than \
             connectwise.connect_timeout"
        )
    }
}

impl CwError {
    /// What the caller should do about this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            CwError::Api(api) => api.class(),
            CwError::Timeout { .. }
            | CwError::Connect { .. }
            | CwError::ConnectionDropped { .. } => ErrorClass::Retryable,
            CwError::InvalidSettings { .. }
            | CwError::InvalidRequest { .. }
            | CwError::UnknownCompany { .. }
            | CwError::SiteOrCodebaseNotFound { .. }
            | CwError::Tls { .. }
            | CwError::InvalidResponse { .. } => ErrorClass::Permanent,
        }
    }

    /// True when the request reached ConnectWise but its answer was lost (a timeout after sending,
    /// a connection dropped mid-response, a gateway timeout). A create that fails this way may have
    /// created the record: search by `externalXRef` before sending it again.
    pub fn is_unknown_outcome(&self) -> bool {
        match self {
            CwError::Timeout { sent, .. } => *sent,
            CwError::ConnectionDropped { .. } => true,
            CwError::Api(api) => matches!(api.status, 502 | 504),
            _ => false,
        }
    }

    /// The HTTP status, when ConnectWise answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            CwError::Api(api) => Some(api.status),
            CwError::SiteOrCodebaseNotFound { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The parsed error answer, when there is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            CwError::Api(api) => Some(api),
            _ => None,
        }
    }

    /// True for a ConnectWise "record not found" (404 with a ConnectWise error body).
    pub fn is_not_found(&self) -> bool {
        matches!(self, CwError::Api(api) if api.status == 404)
    }
}

impl From<ApiError> for CwError {
    fn from(error: ApiError) -> Self {
        CwError::Api(Box::new(error))
    }
}

/// One entry of the `errors[]` list of a ConnectWise error answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub resource: Option<String>,
    pub field: Option<String>,
}

/// An HTTP error answer from ConnectWise, with its `{code, message, errors[]}` body parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// The HTTP method of the failed request.
    pub method: String,
    /// The API path of the failed request, relative to `apis/3.0/`, without the query.
    pub path: String,
    /// The `code` member, e.g. `NotFound`, `InvalidObject`, `ConnectWiseApi`.
    pub code: Option<String>,
    /// The `message` member with line breaks removed; a short excerpt of the body when it was not
    /// a ConnectWise error object.
    pub message: String,
    /// The `errors[]` member: what is wrong with which field.
    pub errors: Vec<FieldError>,
    /// The `Retry-After` delay of a 429, in either of its two forms.
    pub retry_after: Option<Duration>,
    /// Whether the request carried a `clientId` header, which decides how a 401 is explained.
    pub client_id_sent: bool,
}

impl ApiError {
    /// Builds the error from the status, the `Retry-After` header (if any) and the body.
    pub fn from_response(
        status: u16,
        method: &str,
        path: &str,
        retry_after_header: Option<&str>,
        body: &[u8],
        client_id_sent: bool,
    ) -> ApiError {
        let (code, message, errors) = parse_error_body(body);
        ApiError {
            status,
            method: method.to_string(),
            path: path.to_string(),
            code,
            message,
            errors,
            retry_after: retry_after_header.and_then(parse_retry_after),
            client_id_sent,
        }
    }

    /// The class of this answer: 429 waits, 5xx (and 408) retries, anything else is permanent.
    pub fn class(&self) -> ErrorClass {
        match self.status {
            429 => ErrorClass::RateLimited {
                retry_after: self.retry_after,
            },
            408 | 500 | 502 | 503 | 504 => ErrorClass::Retryable,
            _ => ErrorClass::Permanent,
        }
    }

    /// True when the answer blames the `clientId` header (missing, unknown or revoked).
    pub fn is_client_id_problem(&self) -> bool {
        if !self.client_id_sent {
            // Without the header ConnectWise refuses every call before looking at anything else.
            return matches!(self.status, 401 | 403);
        }
        if !matches!(self.status, 400 | 401 | 403) {
            return false;
        }
        let mentions = |text: &str| {
            let lower = text.to_ascii_lowercase();
            lower.contains("clientid") || lower.contains("client id") || lower.contains("client_id")
        };
        mentions(&self.message) || self.code.as_deref().is_some_and(mentions)
    }

    fn server_said(&self) -> String {
        let mut text = match (&self.code, self.message.is_empty()) {
            (Some(code), false) => format!("{code}: {}", self.message),
            (Some(code), true) => code.clone(),
            (None, false) => self.message.clone(),
            (None, true) => "no error details".to_string(),
        };
        for error in &self.errors {
            text.push_str("; ");
            if let Some(field) = &error.field {
                text.push_str(&format!("field '{field}' "));
            }
            match (&error.code, &error.message) {
                (Some(code), Some(message)) => text.push_str(&format!("{code}: {message}")),
                (Some(code), None) => text.push_str(code),
                (None, Some(message)) => text.push_str(message),
                (None, None) => text.push_str("invalid"),
            }
        }
        text
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (method, path, status) = (&self.method, &self.path, self.status);
        let said = self.server_said();
        if self.is_client_id_problem() {
            if self.client_id_sent {
                return write!(
                    f,
                    "ConnectWise refused the client id on {method} {path} ({status}): set \
                     connectwise.client_id to a client id registered at \
                     developer.connectwise.com/ClientID (server said: {said})"
                );
            }
            return write!(
                f,
                "ConnectWise refused {method} {path} ({status}) and no client id is configured: \
                 ConnectWise requires the clientId header, so set connectwise.client_id to a client \
                 id registered at developer.connectwise.com/ClientID (server said: {said})"
            );
        }
        match status {
            401 => write!(
                f,
                "ConnectWise rejected the API keys (company id + public/private key) on {method} \
                 {path}: check connectwise.company_id, connectwise.public_key and \
                 connectwise.private_key (server said: {said})"
            ),
            403 => write!(
                f,
                "ConnectWise denied {method} {path} (403): the API member's security role does not \
                 allow it (server said: {said})"
            ),
            404 if !names_a_record(path) => write!(
                f,
                "ConnectWise answered 404 for {method} {path}, which names no record: on \
                 ConnectWise cloud this is how rejected API keys can show, so check \
                 connectwise.company_id, connectwise.public_key and connectwise.private_key, then \
                 connectwise.site and connectwise.codebase (server said: {said})"
            ),
            404 => write!(
                f,
                "ConnectWise found nothing at {method} {path} (404): {said}"
            ),
            413 => write!(
                f,
                "ConnectWise refused {method} {path} because the body is too large (413): {said}"
            ),
            429 => match self.retry_after {
                Some(delay) => write!(
                    f,
                    "ConnectWise is rate limiting requests (429 on {method} {path}); it asks to \
                     retry after {}s (server said: {said})",
                    delay.as_secs()
                ),
                None => write!(
                    f,
                    "ConnectWise is rate limiting requests (429 on {method} {path}) (server said: \
                     {said})"
                ),
            },
            415 => write!(
                f,
                "ConnectWise refused the body format of {method} {path} (415 Unsupported Media \
                 Type): {said}"
            ),
            400 => write!(
                f,
                "ConnectWise refused {method} {path} as invalid (400): {said}"
            ),
            300..=399 => write!(
                f,
                "ConnectWise redirected {method} {path} ({status}) instead of answering: check that \
                 connectwise.site is the API host (e.g. https://api-na.myconnectwise.net), not the \
                 web interface"
            ),
            500..=599 => write!(
                f,
                "ConnectWise failed on {method} {path} with {status}: {said}"
            ),
            _ => write!(
                f,
                "ConnectWise answered {method} {path} with {status}: {said}"
            ),
        }
    }
}

/// Whether an API path points at one record (it has a numeric id in it), so that a 404 can mean
/// "no such record" rather than "this API is not reachable with these credentials".
fn names_a_record(path: &str) -> bool {
    path.split('/')
        .any(|segment| !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads a ConnectWise error body; anything else becomes a short, single-line excerpt.
fn parse_error_body(body: &[u8]) -> (Option<String>, String, Vec<FieldError>) {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return (None, one_line(&String::from_utf8_lossy(body)), Vec::new());
    };
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .map(one_line)
            .filter(|s| !s.is_empty())
    };
    let code = text(object.get("code"));
    let message = text(object.get("message")).unwrap_or_default();
    let errors = object
        .get("errors")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_object)
                .map(|item| FieldError {
                    code: text(item.get("code")),
                    message: text(item.get("message")),
                    resource: text(item.get("resource")),
                    field: text(item.get("field")),
                })
                .collect()
        })
        .unwrap_or_default();
    (code, message, errors)
}

/// Removes line breaks and control characters, collapses runs of spaces and caps the length.
fn one_line(text: &str) -> String {
    let mut out = String::new();
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if out.chars().count() >= MAX_MESSAGE_CHARS {
            out.push('…');
            break;
        }
        out.push(c);
    }
    out
}

/// Reads `Retry-After` as delta-seconds or as an HTTP-date (a date in the past means "now").
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &str) -> ApiError {
        ApiError::from_response(
            status,
            "GET",
            "service/tickets/7",
            None,
            body.as_bytes(),
            true,
        )
    }

    #[test]
    fn error_body_is_parsed_and_line_breaks_are_removed() {
        let error = api(
            500,
            r#"{"code":"ConnectWiseApi","message":"Length cannot be less than zero.\r\nParameter name: length","errors":null}"#,
        );
        assert_eq!(error.code.as_deref(), Some("ConnectWiseApi"));
        assert_eq!(
            error.message,
            "Length cannot be less than zero. Parameter name: length"
        );
        assert!(error.errors.is_empty());
        assert_eq!(error.class(), ErrorClass::Retryable);
    }

    #[test]
    fn field_errors_are_kept_and_shown() {
        let error = api(
            400,
            r#"{"code":"InvalidObject","message":"ticket object is invalid","errors":[{"code":"MissingRequiredField","message":"summary is required.","resource":"ticket","field":"summary"}]}"#,
        );
        assert_eq!(
            error.errors,
            vec![FieldError {
                code: Some("MissingRequiredField".into()),
                message: Some("summary is required.".into()),
                resource: Some("ticket".into()),
                field: Some("summary".into()),
            }]
        );
        let text = error.to_string();
        assert!(
            text.contains("field 'summary' MissingRequiredField"),
            "{text}"
        );
        assert_eq!(error.class(), ErrorClass::Permanent);
    }

    #[test]
    fn statuses_map_to_classes() {
        for status in [400, 401, 403, 404, 405, 409, 415] {
            assert_eq!(api(status, "{}").class(), ErrorClass::Permanent, "{status}");
        }
        for status in [500, 502, 503, 504] {
            assert_eq!(api(status, "{}").class(), ErrorClass::Retryable, "{status}");
        }
        let limited = ApiError::from_response(429, "GET", "x", Some("7"), b"{}", true);
        assert_eq!(
            limited.class(),
            ErrorClass::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            }
        );
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let future = chrono::Utc::now() + chrono::Duration::seconds(120);
        let header = future.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let wait = parse_retry_after(&header).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn unauthorized_names_the_key_settings() {
        let text = api(
            401,
            r#"{"code":"ConnectWiseApi","message":"UserNotAuthenticated"}"#,
        )
        .to_string();
        assert!(
            text.starts_with("ConnectWise rejected the API keys (company id + public/private key)"),
            "{text}"
        );
        assert!(text.contains("connectwise.private_key"), "{text}");
    }

    #[test]
    fn a_404_on_a_path_without_a_record_points_at_the_keys() {
        let cloud = ApiError::from_response(
            404,
            "GET",
            "system/info",
            None,
            br#"{"code":"NotFound","message":"The requested resource was not found"}"#,
            true,
        );
        let text = cloud.to_string();
        assert!(text.contains("connectwise.private_key"), "{text}");
        let missing = api(404, r#"{"code":"NotFound","message":"Ticket 7 not found"}"#);
        assert!(missing
            .to_string()
            .starts_with("ConnectWise found nothing at GET service/tickets/7"));
    }

    #[test]
    fn client_id_problems_name_the_client_id_setting() {
        let missing = ApiError::from_response(
            401,
            "GET",
            "system/info",
            None,
            b"{\"code\":\"Unauthorized\"}",
            false,
        );
        assert!(missing.is_client_id_problem());
        assert!(missing.to_string().contains("connectwise.client_id"));

        let rejected = api(
            401,
            r#"{"code":"Unauthorized","message":"clientId is invalid"}"#,
        );
        assert!(rejected.is_client_id_problem());
        assert!(rejected.to_string().contains("connectwise.client_id"));

        let keys = api(
            401,
            r#"{"code":"ConnectWiseApi","message":"UserNotAuthenticated"}"#,
        );
        assert!(!keys.is_client_id_problem());
    }

    #[test]
    fn html_bodies_become_a_short_single_line() {
        let body = format!("<html>\r\n<body>{}</body></html>", "x".repeat(5000));
        let error = api(502, &body);
        assert!(!error.message.contains('\n'));
        assert!(error.message.chars().count() <= MAX_MESSAGE_CHARS + 1);
        assert!(CwError::from(error).is_unknown_outcome());
    }

    #[test]
    fn transport_failures_are_classified() {
        let sent = CwError::Timeout {
            method: "POST".into(),
            target: "service/tickets".into(),
            sent: true,
        };
        assert_eq!(sent.class(), ErrorClass::Retryable);
        assert!(sent.is_unknown_outcome());
        let connecting = CwError::Timeout {
            method: "POST".into(),
            target: "service/tickets".into(),
            sent: false,
        };
        assert!(!connecting.is_unknown_outcome());
        let tls = CwError::Tls {
            host: "cw.example.com".into(),
            detail: "invalid peer certificate".into(),
        };
        assert_eq!(tls.class(), ErrorClass::Permanent);
        assert!(tls
            .to_string()
            .contains("certificate verification failed for host cw.example.com"));
    }
}

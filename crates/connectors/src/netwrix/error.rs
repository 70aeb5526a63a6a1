//! Everything that can go wrong talking to Netwrix Auditor, classified for the retry policy.
//!
//! Auditor's documented status codes map onto [`ErrorClass`]: 500 and 503 (database or archive
//! service down) and transport failures are retryable; 400, 401, 404, 405 and 413 can never succeed
//! by repeating the same request. Messages name the user and endpoint but never the password.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::error::ErrorClass;

/// One entry of Auditor's `ErrorList` body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuditorErrorEntry {
    /// `InputError`, `XMLError`, `ServerError`, …
    #[serde(rename = "Category", default)]
    pub category: String,
    #[serde(rename = "Description", default)]
    pub description: String,
    #[serde(rename = "Location", default)]
    pub location: Option<String>,
}

impl fmt::Display for AuditorErrorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.category, self.description)?;
        if let Some(location) = &self.location {
            write!(f, " (at {location})")?;
        }
        Ok(())
    }
}

/// A failed call to the Netwrix Auditor Integration API.
#[derive(Debug, thiserror::Error)]
pub enum AuditorError {
    /// The settings cannot work; nothing was sent.
    #[error("invalid Netwrix Auditor settings: {0}")]
    InvalidSettings(String),
    /// HTTP 401.
    #[error("Netwrix Auditor rejected the credentials for user {username} (HTTP 401)")]
    Unauthorized { username: String },
    /// HTTP 404: the URL does not point at an Integration API endpoint.
    #[error("Netwrix Auditor has no endpoint at {url} (HTTP 404); check the source's url")]
    EndpointNotFound { url: String },
    /// HTTP 405.
    #[error("Netwrix Auditor does not accept {method} on {url} (HTTP 405)")]
    MethodNotAllowed { method: String, url: String },
    /// HTTP 413.
    #[error("Netwrix Auditor refused a {bytes}-byte request body as too large (HTTP 413)")]
    PayloadTooLarge { bytes: usize },
    /// Any other non-success status, with the `ErrorList` entries the body carried (possibly none).
    #[error("Netwrix Auditor answered HTTP {status}{}", describe_entries(.errors))]
    Api {
        status: u16,
        errors: Vec<AuditorErrorEntry>,
        retry_after: Option<Duration>,
    },
    /// The TLS handshake failed because the server certificate is not the pinned one.
    #[error(
        "the certificate of Netwrix Auditor at {url} does not match the pinned SHA-256 \
         fingerprint {expected} (the server presented {actual})"
    )]
    CertificateMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    /// The server certificate failed verification (untrusted issuer, wrong name, expired).
    #[error(
        "the certificate of Netwrix Auditor at {url} was rejected: {detail}; pin Auditor's \
         self-signed certificate by its SHA-256 instead of turning verification off"
    )]
    CertificateRejected { url: String, detail: String },
    /// No answer within the configured timeout.
    #[error("Netwrix Auditor at {url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    /// Connection refused, reset, DNS, TLS or other transport failure.
    #[error("cannot reach Netwrix Auditor at {url}: {detail}")]
    Transport { url: String, detail: String },
    /// A success status with a body mspbridge cannot read.
    #[error("Netwrix Auditor sent a response mspbridge cannot read: {0}")]
    InvalidResponse(String),
}

fn describe_entries(errors: &[AuditorErrorEntry]) -> String {
    if errors.is_empty() {
        " with no error details".to_owned()
    } else {
        let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!(": {}", parts.join("; "))
    }
}

impl AuditorError {
    /// What the caller should do about this failure.
    pub fn class(&self) -> ErrorClass {
        match self {
            AuditorError::Api {
                status: 429,
                retry_after,
                ..
            } => ErrorClass::RateLimited {
                retry_after: *retry_after,
            },
            AuditorError::Api { status, .. } if *status >= 500 => ErrorClass::Retryable,
            AuditorError::Timeout { .. } | AuditorError::Transport { .. } => ErrorClass::Retryable,
            AuditorError::Api { .. }
            | AuditorError::InvalidSettings(_)
            | AuditorError::Unauthorized { .. }
            | AuditorError::EndpointNotFound { .. }
            | AuditorError::MethodNotAllowed { .. }
            | AuditorError::PayloadTooLarge { .. }
            | AuditorError::CertificateMismatch { .. }
            | AuditorError::CertificateRejected { .. }
            | AuditorError::InvalidResponse(_) => ErrorClass::Permanent,
        }
    }

    /// True for the failures Auditor documents as worth repeating at once: HTTP 500 and 503, and
    /// transport failures (timeouts, refused or reset connections). Used by
    /// [`with_retries`](super::with_retries).
    pub fn is_retried_in_place(&self) -> bool {
        matches!(
            self,
            AuditorError::Api {
                status: 500 | 503,
                ..
            } | AuditorError::Timeout { .. }
                | AuditorError::Transport { .. }
        )
    }

    /// The HTTP status Auditor answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AuditorError::Unauthorized { .. } => Some(401),
            AuditorError::EndpointNotFound { .. } => Some(404),
            AuditorError::MethodNotAllowed { .. } => Some(405),
            AuditorError::PayloadTooLarge { .. } => Some(413),
            AuditorError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The `ErrorList` entries of an [`AuditorError::Api`] error.
    pub fn entries(&self) -> &[AuditorErrorEntry] {
        match self {
            AuditorError::Api { errors, .. } => errors,
            _ => &[],
        }
    }
}

//! Connection settings for one Auditor server, validated before any request is made.
//!
//! The password is held in a type whose `Debug` never shows it, so settings can be logged and
//! embedded in error context freely.

use std::fmt;
use std::time::Duration;

use url::Url;

use super::error::AuditorError;

/// Records per request unless configured (the add-on's `ActivityRecordWebRequests.RequestLimit`).
pub const DEFAULT_RECORDS_PER_REQUEST: u32 = 200;
/// Auditor's own page size ceiling.
pub const MAX_RECORDS_PER_REQUEST: u32 = 1000;
/// The add-on's `ActivityRecordWebRequests.RequestTimeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// The resolved password of the Auditor account; `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditorPassword(String);

impl AuditorPassword {
    pub fn new(password: impl Into<String>) -> Self {
        AuditorPassword(password.into())
    }

    /// The clear text, for the Authorization header only.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuditorPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditorPassword(<redacted>)")
    }
}

/// How the server certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Normal WebPKI verification against the built-in roots.
    Verify,
    /// Accept exactly the certificate whose DER encoding has this SHA-256 (hex, colons allowed),
    /// whatever its issuer, name or dates: Auditor's auto-generated self-signed certificate.
    PinnedSha256(String),
    /// Accept any certificate. Only for explicitly marked lab connections.
    AcceptInvalid,
}

/// Everything needed to talk to one Auditor server.
#[derive(Debug, Clone)]
pub struct AuditorSettings {
    /// Base URL, e.g. `https://auditor.acme.example:9699`.
    pub url: Url,
    /// `DOMAIN\user` or a UPN.
    pub username: String,
    pub password: AuditorPassword,
    /// `count` sent with every enum or search request (1..=1000).
    pub records_per_request: u32,
    /// Timeout of one HTTP request, connect to last byte.
    pub timeout: Duration,
    pub tls: TlsMode,
}

impl AuditorSettings {
    /// Settings with the add-on's defaults: 200 records per request, 180 s timeout, verified TLS.
    pub fn new(url: Url, username: impl Into<String>, password: AuditorPassword) -> Self {
        AuditorSettings {
            url,
            username: username.into(),
            password,
            records_per_request: DEFAULT_RECORDS_PER_REQUEST,
            timeout: DEFAULT_TIMEOUT,
            tls: TlsMode::Verify,
        }
    }

    /// Returns every problem with the settings, or the normalised pinned fingerprint (if any).
    pub(crate) fn validate(&self) -> Result<Option<[u8; 32]>, AuditorError> {
        let mut problems = Vec::new();
        if !matches!(self.url.scheme(), "http" | "https") {
            problems.push(format!(
                "url {} must start with https:// or http://",
                self.url
            ));
        }
        if self.url.host_str().is_none() {
            problems.push(format!("url {} has no host", self.url));
        }
        if self.username.trim().is_empty() {
            problems.push("username is empty".to_owned());
        }
        if !(1..=MAX_RECORDS_PER_REQUEST).contains(&self.records_per_request) {
            problems.push(format!(
                "records_per_request is {}, it must be between 1 and {MAX_RECORDS_PER_REQUEST}",
                self.records_per_request
            ));
        }
        if self.timeout.is_zero() {
            problems.push("timeout must be greater than zero".to_owned());
        }
        let mut pin = None;
        if let TlsMode::PinnedSha256(fingerprint) = &self.tls {
            match parse_fingerprint(fingerprint) {
                Some(bytes) => pin = Some(bytes),
                None => problems.push(format!(
                    "pinned certificate fingerprint {fingerprint:?} is not a SHA-256 in hex \
                     (64 hex digits, colons allowed)"
                )),
            }
            if self.url.scheme() != "https" {
                problems.push("a pinned certificate needs an https:// url".to_owned());
            }
        }
        if problems.is_empty() {
            Ok(pin)
        } else {
            Err(AuditorError::InvalidSettings(problems.join("; ")))
        }
    }
}

/// Parses 64 hex digits, ignoring `:` and spaces and case.
pub(crate) fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|byte| *byte != b':' && !byte.is_ascii_whitespace())
        .collect();
    if digits.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (index, pair) in digits.chunks(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        bytes[index] = (high * 16 + low) as u8;
    }
    Some(bytes)
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

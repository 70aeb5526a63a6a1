//! The classification every connector error carries.

use std::time::Duration;

/// What the caller should do about a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Transient (5xx, connection reset, timeout): try again with backoff.
    Retryable,
    /// The service said "too many requests"; wait at least `retry_after` (when it said how long).
    RateLimited { retry_after: Option<Duration> },
    /// Retrying the same request cannot succeed (bad keys, validation error, not found).
    Permanent,
}

impl ErrorClass {
    /// True when repeating the call later may succeed.
    pub fn is_transient(self) -> bool {
        !matches!(self, ErrorClass::Permanent)
    }
}

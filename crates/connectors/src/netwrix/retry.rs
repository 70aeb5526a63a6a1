//! Immediate, bounded retries of one Auditor call.
//!
//! DESIGN §3 rule 2: record fetches are retried on 500 and 503 (Auditor's database or archive
//! service briefly unavailable) and on transport failures, never on 4xx. The durable job runner
//! retries again later on [`ErrorClass`](crate::ErrorClass); this loop only rides out short blips.

use std::future::Future;
use std::time::Duration;

use super::error::AuditorError;
use crate::backoff::Backoff;

/// How many times and how patiently to repeat a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts including the first (at least 1).
    pub max_attempts: u32,
    /// The wait between two attempts.
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10)),
        }
    }
}

impl RetryPolicy {
    /// The wait after the failed attempt number `attempt` (1-based).
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        self.backoff.delay(attempt, None)
    }
}

/// Runs `operation` until it succeeds, fails with an error that is not retried in place
/// ([`AuditorError::is_retried_in_place`]), or `policy.max_attempts` attempts have failed; returns
/// the last error in the latter cases.
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    mut operation: F,
) -> Result<T, AuditorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AuditorError>>,
{
    let attempts = policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < attempts && error.is_retried_in_place() => {
                let wait = policy.backoff_after(attempt);
                tracing::warn!(
                    attempt,
                    max_attempts = attempts,
                    wait_ms = wait.as_millis() as u64,
                    error = %error,
                    "Netwrix Auditor call failed, retrying"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

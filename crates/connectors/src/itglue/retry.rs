//! Bounded in-client retries for IT Glue calls, driven only by the error class.
//!
//! A 429 means the server did not act on the request, so every request, even a create, is repeated
//! after the server's `Retry-After` (or [`RetryPolicy::rate_limit_delay`] when, as IT Glue documents
//! nothing about headers, there is none). Transient failures (5xx, timeouts, resets) are repeated
//! only for idempotent requests: a create whose outcome is unknown is left to the durable job runner,
//! which can look before it tries again.

use std::future::Future;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::error::ErrorClass;

use super::error::ItGlueError;

/// How many times and how patiently a call is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first one (1 = never retry).
    pub max_attempts: u32,
    /// The wait between two attempts; a `Retry-After` is never waited for longer than its cap
    /// or `rate_limit_delay`, whichever is longer (a longer wait is left to the durable job).
    pub backoff: Backoff,
    /// Wait after a 429 that carries no `Retry-After`: IT Glue documents no header, and its window is
    /// five minutes, so half a minute lets a burst drain without stalling a job for long.
    pub rate_limit_delay: Duration,
}

impl RetryPolicy {
    pub const DEFAULT_RATE_LIMIT_DELAY: Duration = Duration::from_secs(30);

    /// A policy that never retries (the caller handles every failure).
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Every problem with this policy, as sentences.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_attempts == 0 {
            problems.push("the IT Glue retry policy needs at least one attempt".to_string());
        }
        if self.backoff.max < self.backoff.initial {
            problems.push(
                "the IT Glue retry policy's longest wait is shorter than its first".to_string(),
            );
        }
        problems
    }

    /// The delay before attempt `attempt + 1` after `error` failed attempt `attempt` (1-based), or
    /// `None` when the call must not be repeated.
    pub fn delay_after(
        &self,
        attempt: u32,
        error: &ItGlueError,
        idempotent: bool,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        match error.class() {
            ErrorClass::Permanent => None,
            ErrorClass::RateLimited { retry_after } => {
                let asked = retry_after.unwrap_or(self.rate_limit_delay);
                if asked > self.backoff.max.max(self.rate_limit_delay) {
                    // Longer than a call should hang: the caller (a durable job) waits instead.
                    return None;
                }
                Some(self.backoff.delay(attempt, Some(asked)))
            }
            ErrorClass::Retryable if idempotent => Some(self.backoff.delay(attempt, None)),
            ErrorClass::Retryable => None,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(60)),
            rate_limit_delay: Self::DEFAULT_RATE_LIMIT_DELAY,
        }
    }
}

/// Runs `operation` until it succeeds, fails permanently, or the policy gives up; returns the last
/// error then. `idempotent` says whether a transient failure may be repeated (see the module docs).
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    idempotent: bool,
    mut operation: F,
) -> Result<T, ItGlueError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ItGlueError>>,
{
    let mut attempt = 1;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(error) => match policy.delay_after(attempt, &error, idempotent) {
                Some(delay) => {
                    tracing::warn!(
                        attempt,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        error = %error,
                        "IT Glue call failed, retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                None => return Err(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn status_error(status: u16, retry_after: Option<Duration>) -> ItGlueError {
        ItGlueError::from_status(
            status,
            "GET /organizations".to_string(),
            b"",
            retry_after,
            "explicit URL http://127.0.0.1",
        )
    }

    #[test]
    fn rate_limits_use_retry_after_or_the_default() {
        let policy = RetryPolicy::default();
        let told = status_error(429, Some(Duration::from_secs(7)));
        let delay = policy.delay_after(1, &told, false).unwrap();
        assert!(delay >= Duration::from_secs(7), "{delay:?}");
        let untold = status_error(429, None);
        let delay = policy.delay_after(1, &untold, false).unwrap();
        assert!(delay >= RetryPolicy::DEFAULT_RATE_LIMIT_DELAY, "{delay:?}");
        let too_long = status_error(429, Some(Duration::from_secs(600)));
        assert_eq!(policy.delay_after(1, &too_long, false), None);
    }

    #[test]
    fn transient_failures_back_off_exponentially_only_when_idempotent() {
        let policy = RetryPolicy::default();
        let failure = status_error(503, None);
        let first = policy.delay_after(1, &failure, true).unwrap();
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_millis(625));
        let third = policy.delay_after(3, &failure, true).unwrap();
        assert!(third >= Duration::from_secs(2) && third <= Duration::from_millis(2500));
        assert_eq!(policy.delay_after(1, &failure, false), None);
        assert_eq!(
            policy.delay_after(4, &failure, true),
            None,
            "attempts used up"
        );
    }

    #[test]
    fn permanent_failures_are_never_repeated() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay_after(1, &status_error(422, None), true), None);
        assert_eq!(policy.delay_after(1, &status_error(403, None), true), None);
    }

    #[tokio::test(start_paused = true)]
    async fn with_retries_repeats_until_success() {
        let calls = AtomicU32::new(0);
        let result = with_retries(&RetryPolicy::default(), true, || {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if call < 2 {
                    Err(status_error(502, None))
                } else {
                    Ok(call)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn with_retries_returns_the_last_error_when_giving_up() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        };
        let result: Result<(), _> = with_retries(&policy, true, || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(status_error(429, None)) }
        })
        .await;
        let error = result.unwrap_err();
        assert!(matches!(error.class(), ErrorClass::RateLimited { .. }));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}

//! A small retry loop for interactive commands (`check`, `test-ticket`) that want an answer now.
//!
//! The durable job runner has its own policy and does not use this; the client never retries by
//! itself. The loop matches on [`ErrorClass`] only: a rate limit waits at least as long as the
//! server's `Retry-After`, a transient failure backs off exponentially with jitter, anything
//! permanent returns at once. Waiting uses `tokio::time`, so tests can pause the clock.

use std::future::Future;
use std::time::Duration;

use super::error::CwError;
use crate::backoff::Backoff;
use crate::error::ErrorClass;

/// How hard [`with_retries`] tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Calls in total, the first one included (at least 1).
    pub max_attempts: u32,
    /// The wait between two calls.
    pub backoff: Backoff,
    /// A `Retry-After` longer than this is not waited for; the 429 is returned instead.
    pub max_rate_limit_wait: Duration,
    /// Whether to repeat a call whose outcome is unknown (sent, but the answer was lost). Safe for
    /// reads and updates; for creates leave it off and look the record up by `externalXRef`.
    pub retry_unknown_outcome: bool,
}

impl Default for RetryPolicy {
    /// Four calls, backoff from 500 ms up to 10 s, rate limits up to 2 minutes, no repeat of a call
    /// with an unknown outcome.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(10)),
            max_rate_limit_wait: Duration::from_secs(120),
            retry_unknown_outcome: false,
        }
    }
}

impl RetryPolicy {
    /// The default policy for calls that are safe to repeat (reads, PATCH to a fixed value).
    pub fn idempotent() -> RetryPolicy {
        RetryPolicy {
            retry_unknown_outcome: true,
            ..RetryPolicy::default()
        }
    }

    /// How long to wait after failed call number `attempt` (1-based), or `None` to give up.
    pub fn delay_after(&self, attempt: u32, error: &CwError) -> Option<Duration> {
        if attempt >= self.max_attempts.max(1) {
            return None;
        }
        if error.is_unknown_outcome() && !self.retry_unknown_outcome {
            return None;
        }
        match error.class() {
            ErrorClass::Permanent => None,
            ErrorClass::RateLimited {
                retry_after: Some(wait),
            } => {
                if wait > self.max_rate_limit_wait {
                    None
                } else {
                    Some(self.backoff.delay(attempt, Some(wait)))
                }
            }
            ErrorClass::RateLimited { retry_after: None } | ErrorClass::Retryable => {
                Some(self.backoff.delay(attempt, None))
            }
        }
    }
}

/// Calls `operation` until it succeeds, fails permanently, or `policy` gives up; returns the last
/// error in the last two cases.
pub async fn with_retries<T, F, Fut>(policy: &RetryPolicy, mut operation: F) -> Result<T, CwError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CwError>>,
{
    let mut attempt = 1;
    loop {
        let error = match operation().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let Some(delay) = policy.delay_after(attempt, &error) else {
            return Err(error);
        };
        tracing::warn!(
            attempt,
            delay_ms = delay.as_millis() as u64,
            error = %error,
            "ConnectWise call failed; trying again"
        );
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::connectwise::error::ApiError;

    fn api_error(status: u16, retry_after: Option<&str>) -> CwError {
        ApiError::from_response(
            status,
            "GET",
            "system/info",
            retry_after,
            br#"{"code":"X","message":"y"}"#,
            true,
        )
        .into()
    }

    /// Runs `with_retries` over scripted results and returns the result and the paused-clock
    /// offsets at which each call happened.
    async fn run_script(
        policy: &RetryPolicy,
        script: Vec<Result<u32, CwError>>,
    ) -> (Result<u32, CwError>, Vec<Duration>) {
        let start = tokio::time::Instant::now();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let result = with_retries(policy, || {
            let calls = calls.clone();
            let script = script.clone();
            async move {
                calls.lock().unwrap().push(start.elapsed());
                script.lock().unwrap().next().unwrap_or(Ok(0))
            }
        })
        .await;
        let calls = calls.lock().unwrap().clone();
        (result, calls)
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limits_wait_at_least_retry_after() {
        let (result, calls) = run_script(
            &RetryPolicy::default(),
            vec![Err(api_error(429, Some("30"))), Ok(7)],
        )
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.len(), 2);
        assert!(calls[1] >= Duration::from_secs(30), "{calls:?}");
        assert!(calls[1] <= Duration::from_secs(31), "{calls:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_back_off_exponentially_then_give_up() {
        let policy = RetryPolicy {
            max_attempts: 4,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(3)),
            ..RetryPolicy::idempotent()
        };
        let (result, calls) = run_script(
            &policy,
            vec![
                Err(api_error(503, None)),
                Err(api_error(500, None)),
                Err(api_error(502, None)),
                Err(api_error(500, None)),
                Ok(1),
            ],
        )
        .await;
        assert_eq!(result.unwrap_err().status(), Some(500));
        assert_eq!(calls.len(), 4);
        let gaps: Vec<Duration> = calls.windows(2).map(|pair| pair[1] - pair[0]).collect();
        assert!(gaps[0] >= Duration::from_secs(1) && gaps[0] <= Duration::from_millis(1250));
        assert!(gaps[1] >= Duration::from_secs(2) && gaps[1] <= Duration::from_millis(2500));
        assert!(gaps[2] == Duration::from_secs(3), "capped: {gaps:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_return_at_once() {
        let (result, calls) = run_script(
            &RetryPolicy::default(),
            vec![Err(api_error(401, None)), Ok(1)],
        )
        .await;
        assert_eq!(result.unwrap_err().status(), Some(401));
        assert_eq!(calls, vec![Duration::ZERO]);
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_outcomes_are_repeated_only_when_the_call_is_idempotent() {
        let lost = || CwError::Timeout {
            method: "POST".into(),
            target: "service/tickets".into(),
            sent: true,
        };
        let (result, calls) = run_script(&RetryPolicy::default(), vec![Err(lost()), Ok(1)]).await;
        assert!(result.unwrap_err().is_unknown_outcome());
        assert_eq!(calls.len(), 1);

        let (result, calls) =
            run_script(&RetryPolicy::idempotent(), vec![Err(lost()), Ok(1)]).await;
        assert_eq!(result.unwrap(), 1);
        assert_eq!(calls.len(), 2);
    }

    #[test]
    fn very_long_rate_limits_are_not_waited_for() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay_after(1, &api_error(429, Some("3600"))), None);
        let short = policy.delay_after(1, &api_error(429, Some("2"))).unwrap();
        assert!(short >= Duration::from_secs(2));
    }
}

//! The optional intake rate limit (`server.intake_rate_limit`): a token bucket shared by every intake
//! endpoint.
//!
//! It protects the store (and through it the ConnectWise budget) from a misbehaving sender. A
//! request over the rate gets `429` with a `Retry-After`, and nothing is stored, so a well-behaved
//! sender (Alertmanager, Auditor's retries) delivers it later.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use mspbridge_core::config::RateLimit;

use super::error::ApiError;
use super::state::ApiState;

/// Extractor of every intake handler, listed before the body: takes one token from the intake rate
/// limit, so a request over the rate is refused before its body is read.
#[derive(Debug)]
pub struct IntakePermit;

impl FromRequestParts<ApiState> for IntakePermit {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        state.check_intake_rate().map(|()| IntakePermit)
    }
}

/// A token bucket over wall-clock time.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub(crate) fn new(limit: RateLimit) -> TokenBucket {
        TokenBucket {
            limit,
            state: Mutex::new((f64::from(limit.requests), Instant::now())),
        }
    }

    /// Takes one token; `Err(wait)` says how long until one is available.
    pub(crate) fn try_take(&self, now: Instant) -> Result<(), Duration> {
        let capacity = f64::from(self.limit.requests.max(1));
        let per_second = capacity / self.limit.per.as_secs_f64().max(f64::EPSILON);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let (tokens, last) = &mut *state;
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * per_second).min(capacity);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_refuses_until_refilled() {
        let bucket = TokenBucket::new(RateLimit {
            requests: 2,
            per: Duration::from_secs(10),
        });
        let start = Instant::now();
        assert!(bucket.try_take(start).is_ok());
        assert!(bucket.try_take(start).is_ok());
        let wait = bucket.try_take(start).unwrap_err();
        assert!(
            wait > Duration::from_secs(4) && wait <= Duration::from_secs(5),
            "{wait:?}"
        );
        assert!(bucket.try_take(start + Duration::from_secs(5)).is_ok());
        assert!(bucket.try_take(start + Duration::from_secs(5)).is_err());
    }
}

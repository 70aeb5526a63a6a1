//! The one backoff every retry in mspbridge uses: the in-call retry helpers of each connector and
//! the durable job runner alike.
//!
//! The wait after failed attempt `n` (1-based) is `initial × 2^(n-1)`, stretched by a random
//! jitter of up to a quarter so that callers failing together do not come back together, and
//! capped at `max`. A `Retry-After` the server sent is a floor: the wait is never shorter than
//! what was asked, even above the cap (a server that asks for more time gets it).

use std::time::Duration;

use rand::Rng as _;

use crate::error::ErrorClass;

/// Exponential backoff with jitter, capped, honouring `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait the backoff itself chooses.
    pub max: Duration,
}

impl Backoff {
    /// A backoff from `initial` doubling up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff { initial, max }
    }

    /// The wait after failed attempt `attempt` (1-based) with `jitter` in `[0, 1)` (how much of
    /// the quarter stretch to apply) and the server's `retry_after`, if any.
    pub fn delay_with(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max);
        let stretched = base
            .mul_f64(1.0 + 0.25 * jitter.clamp(0.0, 1.0))
            .min(self.max);
        stretched.max(retry_after.unwrap_or(Duration::ZERO))
    }

    /// [`Backoff::delay_with`] with a random jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.delay_with(attempt, retry_after, rand::thread_rng().gen_range(0.0..1.0))
    }

    /// The wait after failed attempt `attempt` that failed with `class` (its `Retry-After`, if
    /// any, is honoured).
    pub fn delay_for(&self, attempt: u32, class: ErrorClass) -> Duration {
        let retry_after = match class {
            ErrorClass::RateLimited { retry_after } => retry_after,
            _ => None,
        };
        self.delay(attempt, retry_after)
    }
}

impl Default for Backoff {
    /// From 500 ms up to 10 s: the in-call helpers' default, riding out short blips.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_jitters_and_honours_retry_after() {
        let backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(10));
        let cases = [
            (1, None, 0.0, 2_000),
            (2, None, 0.0, 4_000),
            (3, None, 0.0, 8_000),
            (4, None, 0.0, 10_000),
            (40, None, 0.0, 10_000),
            (2, None, 0.999, 4_999),
            (4, None, 0.999, 10_000),
            (1, Some(Duration::from_secs(30)), 0.0, 30_000),
            (1, Some(Duration::from_secs(1)), 0.0, 2_000),
        ];
        for (attempt, retry_after, jitter, millis) in cases {
            assert_eq!(
                backoff.delay_with(attempt, retry_after, jitter).as_millis(),
                millis,
                "attempt {attempt}, retry_after {retry_after:?}, jitter {jitter}"
            );
        }
    }

    #[test]
    fn random_jitter_stays_within_a_quarter() {
        let backoff = Backoff::new(Duration::from_secs(4), Duration::from_secs(60));
        for _ in 0..100 {
            let delay = backoff.delay(1, None);
            assert!(delay >= Duration::from_secs(4) && delay <= Duration::from_secs(5));
        }
        let limited = ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(90)),
        };
        assert!(backoff.delay_for(1, limited) >= Duration::from_secs(90));
    }
}

//! When a failed job runs again, and when it is given up: the dead-letter policy of `[jobs]`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mspbridge_connectors::{Backoff, ErrorClass};
use mspbridge_core::config::JobsConfig;

/// Retry and dead-letter policy of the durable jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPolicy {
    /// The wait after each failure.
    pub backoff: Backoff,
    /// Attempts after which a failing job is dead-lettered (`jobs.max_attempts`).
    pub max_attempts: u32,
    /// Age after which a failing job is dead-lettered (`jobs.max_age`).
    pub max_age: Duration,
    /// How long a claimed job is leased.
    pub lease: Duration,
}

impl Default for JobPolicy {
    fn default() -> Self {
        JobPolicy::from_config(&JobsConfig::default())
    }
}

impl JobPolicy {
    /// The policy `[jobs]` sets.
    pub fn from_config(config: &JobsConfig) -> JobPolicy {
        JobPolicy {
            backoff: Backoff::new(config.initial_backoff, config.max_backoff),
            max_attempts: config.max_attempts,
            max_age: config.max_age,
            lease: config.lease,
        }
    }

    /// When a job queued at `created_at` runs again after its attempt number `attempts` failed
    /// with `class` at `now`, or `None` to dead-letter it: a permanent failure, the attempts used
    /// up, or the job older than `max_age`.
    pub fn next_run(
        &self,
        attempts: u32,
        created_at: DateTime<Utc>,
        class: ErrorClass,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        if class == ErrorClass::Permanent || attempts >= self.max_attempts {
            return None;
        }
        let age = (now - created_at).to_std().unwrap_or(Duration::ZERO);
        if age >= self.max_age {
            return None;
        }
        Some(mspbridge_core::clock::add(
            now,
            self.backoff.delay_for(attempts, class),
        ))
    }
}

impl JobPolicy {
    /// When a job that keeps trying until `until` runs again after its attempt number
    /// `attempts` failed with `class` at `now`: after the backoff, but never later than `until`
    /// (so the job sees its deadline and decides for itself).
    pub fn next_run_until(
        &self,
        attempts: u32,
        class: ErrorClass,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let next = mspbridge_core::clock::add(now, self.backoff.delay_for(attempts, class));
        next.min(until.max(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_until_attempts_or_age_run_out() {
        let policy = JobPolicy {
            backoff: Backoff::new(Duration::from_secs(2), Duration::from_secs(10)),
            max_attempts: 5,
            max_age: Duration::from_secs(3600),
            lease: Duration::from_secs(60),
        };
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |secs: i64| t0 + chrono::Duration::seconds(secs);
        let retryable = ErrorClass::Retryable;
        let first = policy.next_run(1, t0, retryable, at(0)).unwrap();
        assert!(first >= at(2) && first <= at(3), "{first}");
        assert_eq!(policy.next_run(5, t0, retryable, at(0)), None, "attempts");
        assert_eq!(policy.next_run(1, t0, retryable, at(3600)), None, "age");
        assert_eq!(
            policy.next_run(1, t0, ErrorClass::Permanent, at(0)),
            None,
            "permanent"
        );
        let limited = ErrorClass::RateLimited {
            retry_after: Some(Duration::from_secs(120)),
        };
        assert!(policy.next_run(1, t0, limited, at(0)).unwrap() >= at(120));
    }
}

//! Failure on demand: injected faults and the request throttle.
//!
//! Clients must survive IT Glue's 429s, 5xx and slow answers; tests and `mspbridge simulate` switch those
//! on at run time through [`FaultsHandle`] or `POST /__simulator/faults`, and the per-key rate limiter
//! reproduces the documented 3000 requests per 5 minutes (with tiny limits for tests).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Answer with this HTTP status and an IT Glue-style error body.
    Status { status: u16 },
    /// Answer 429 Too Many Requests, with `Retry-After` when given.
    RateLimited {
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Wait this long, then serve the request normally.
    Delay { millis: u64 },
}

/// One injected fault: what, for how many requests, and which requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many matching requests it affects.
    #[serde(default = "one")]
    pub count: u32,
    /// Only requests with this method (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Only requests whose path starts with this (any when absent).
    #[serde(default)]
    pub path_prefix: Option<String>,
}

fn one() -> u32 {
    1
}

impl FaultRule {
    fn applies_to(&self, method: &str, path: &str) -> bool {
        self.count > 0
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
    }
}

/// Run-time control of injected faults; clones share the same queue.
#[derive(Debug, Clone, Default)]
pub struct FaultsHandle {
    rules: Arc<Mutex<Vec<FaultRule>>>,
}

impl FaultsHandle {
    /// Queues a fault rule; rules are consumed in the order they were added.
    pub fn push(&self, rule: FaultRule) {
        self.lock().push(rule);
    }

    /// The next `count` requests answer `status`.
    pub fn fail_next(&self, status: u16, count: u32) {
        self.push(FaultRule {
            kind: FaultKind::Status { status },
            count,
            method: None,
            path_prefix: None,
        });
    }

    /// The next `count` requests answer 429, with `Retry-After` when `retry_after` is given.
    pub fn rate_limit_next(&self, count: u32, retry_after: Option<Duration>) {
        self.push(FaultRule {
            kind: FaultKind::RateLimited {
                retry_after_secs: retry_after.map(|d| d.as_secs()),
            },
            count,
            method: None,
            path_prefix: None,
        });
    }

    /// The next `count` requests are answered only after `delay`.
    pub fn delay_next(&self, delay: Duration, count: u32) {
        self.push(FaultRule {
            kind: FaultKind::Delay {
                millis: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            },
            count,
            method: None,
            path_prefix: None,
        });
    }

    /// Drops every queued fault.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The faults still queued.
    pub fn pending(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    /// Consumes one use of the first rule that applies to this request.
    pub(crate) fn take(&self, method: &str, path: &str) -> Option<FaultKind> {
        let mut rules = self.lock();
        let index = rules.iter().position(|r| r.applies_to(method, path))?;
        let rule = &mut rules[index];
        rule.count -= 1;
        let kind = rule.kind.clone();
        if rule.count == 0 {
            rules.remove(index);
        }
        Some(kind)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// IT Glue's throttle: at most `requests` per rolling `window`, counted per API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub window: Duration,
    /// Whether 429s carry `Retry-After` (the real header set is undocumented, so off by default).
    pub send_retry_after: bool,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            requests: 3000,
            window: Duration::from_secs(300),
            send_retry_after: false,
        }
    }
}

impl RateLimit {
    /// `requests` per rolling `window`, without `Retry-After`.
    pub fn new(requests: u32, window: Duration) -> Self {
        Self {
            requests,
            window,
            send_retry_after: false,
        }
    }

    /// The same limit, with 429s carrying `Retry-After` (seconds until a slot frees up).
    pub fn with_retry_after(self) -> Self {
        Self {
            send_retry_after: true,
            ..self
        }
    }
}

/// Sliding-window request counter per key.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    hits: HashMap<String, VecDeque<DateTime<Utc>>>,
}

impl RateLimiter {
    /// Records a request at `now`; `Err(wait)` when the key is over its limit, with the time until a slot
    /// frees up.
    pub fn admit(
        &mut self,
        key: &str,
        limit: &RateLimit,
        now: DateTime<Utc>,
    ) -> Result<(), Duration> {
        let window = chrono::Duration::from_std(limit.window).unwrap_or(chrono::Duration::MAX);
        let hits = self.hits.entry(key.to_owned()).or_default();
        while hits.front().is_some_and(|t| *t + window <= now) {
            hits.pop_front();
        }
        if hits.len() >= limit.requests as usize {
            let wait = hits
                .front()
                .map(|oldest| (*oldest + window - now).to_std().unwrap_or_default())
                .unwrap_or(limit.window);
            return Err(wait);
        }
        hits.push_back(now);
        Ok(())
    }
}

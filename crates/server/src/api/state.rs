//! What every HTTP handler shares: the store, the configuration, the clock and the hooks into the
//! rest of the service.
//!
//! The API does not know the engine: after it stores an alert or re-queues a job it calls the
//! `wake` hook, which `Service` points at the engine, so work starts at once instead of at the next
//! timer. Time comes from an injected clock so tests control `received_at` and `since` filters.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::PrometheusHandle;
use mspbridge_core::clock::{Clock, SystemClock};
use mspbridge_core::config::Config;
use mspbridge_store::Store;

use super::error::{ApiError, ErrorCode};
use super::rate::TokenBucket;

/// Called after new work was stored (an alert accepted, a job re-queued).
pub type WakeFn = Arc<dyn Fn() + Send + Sync>;

/// Shared state of the HTTP API; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    wake: WakeFn,
    metrics: Option<PrometheusHandle>,
    intake_rate: Option<TokenBucket>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("listen", &self.inner.config.server.listen)
            .field("api_tokens", &self.inner.config.server.api_tokens.len())
            .field("metrics", &self.inner.metrics.is_some())
            .field("intake_rate", &self.inner.intake_rate)
            .finish_non_exhaustive()
    }
}

/// Builds an [`ApiState`]; everything but the store and the config has a default.
pub struct ApiStateBuilder {
    store: Arc<dyn Store>,
    config: Arc<Config>,
    clock: Arc<dyn Clock>,
    wake: WakeFn,
    metrics: Option<PrometheusHandle>,
}

impl std::fmt::Debug for ApiStateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiStateBuilder").finish_non_exhaustive()
    }
}

impl ApiStateBuilder {
    /// Reads `now` from `clock` instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Calls `wake` after storing new work.
    pub fn wake(mut self, wake: WakeFn) -> Self {
        self.wake = wake;
        self
    }

    /// Serves `GET /metrics` from this recorder handle.
    pub fn metrics(mut self, handle: Option<PrometheusHandle>) -> Self {
        self.metrics = handle;
        self
    }

    /// The state; the intake rate limit comes from `server.intake_rate_limit`.
    pub fn build(self) -> ApiState {
        let intake_rate = self.config.server.intake_rate_limit.map(TokenBucket::new);
        ApiState {
            inner: Arc::new(Inner {
                store: self.store,
                config: self.config,
                clock: self.clock,
                wake: self.wake,
                metrics: self.metrics,
                intake_rate,
            }),
        }
    }
}

impl ApiState {
    /// Starts building the state for `store` and `config`.
    pub fn builder(store: Arc<dyn Store>, config: Arc<Config>) -> ApiStateBuilder {
        ApiStateBuilder {
            store,
            config,
            clock: Arc::new(SystemClock),
            wake: Arc::new(|| {}),
            metrics: None,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Tells the service that new work was stored.
    pub fn wake(&self) {
        (self.inner.wake)()
    }

    /// The metrics handle, when a recorder is installed.
    pub fn metrics(&self) -> Option<&PrometheusHandle> {
        self.inner.metrics.as_ref()
    }

    /// The body limit, from `server.max_body_bytes`.
    pub fn max_body_bytes(&self) -> usize {
        usize::try_from(self.inner.config.server.max_body_bytes).unwrap_or(usize::MAX)
    }

    /// Takes one intake token, or the 429 error to answer with.
    pub fn check_intake_rate(&self) -> Result<(), ApiError> {
        let Some(bucket) = &self.inner.intake_rate else {
            return Ok(());
        };
        bucket.try_take(Instant::now()).map_err(|wait| {
            metrics::counter!("mspbridge_intake_rate_limited_total").increment(1);
            let mut error = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "the intake is over its configured rate; retry in {} s",
                    wait.as_secs().max(1)
                ),
            );
            error.retry_after = Some(wait);
            error
        })
    }
}

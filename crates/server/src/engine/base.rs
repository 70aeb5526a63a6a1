//! What the engine's parts share: the store, the configuration in force and the clock
//! ([`Base`]), and the measured ConnectWise connection ([`Cw`]). Each part holds these plus only
//! what it needs of its own.

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use mspbridge_connectors::connectwise::{ConnectWiseClient, CwError};
use mspbridge_core::clock::Clock;
use mspbridge_core::config::Config;
use mspbridge_store::{NewEvent, Store};

use crate::jobs::JobFailure;
use crate::metrics;

/// The store, the configuration in force and the clock. Cheap to clone; the configuration is one
/// cell shared by every part, replaced whole by a re-route after a configuration change.
#[derive(Clone)]
pub(crate) struct Base {
    pub(crate) store: Arc<dyn Store>,
    config: Arc<RwLock<Arc<Config>>>,
    clock: Arc<dyn Clock>,
}

impl Base {
    pub(crate) fn new(store: Arc<dyn Store>, config: Arc<Config>, clock: Arc<dyn Clock>) -> Base {
        Base {
            store,
            config: Arc::new(RwLock::new(config)),
            clock,
        }
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Puts `config` in force for every part.
    pub(crate) fn set_config(&self, config: Arc<Config>) {
        *self
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = config;
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Records an integration event; a failure to record it is logged, never fatal.
    pub(crate) async fn event(
        &self,
        code: u32,
        client: Option<String>,
        subject: Option<String>,
        message: String,
        details: serde_json::Value,
    ) {
        let event = NewEvent {
            code,
            at: self.now(),
            client,
            subject,
            message,
            details,
        };
        if let Err(error) = self.store.append_event(event).await {
            tracing::error!(%error, code, "cannot record an integration event");
        }
    }
}

/// ConnectWise as the ticket jobs use it: `None` when ticketing is not configured (their jobs
/// then dead-letter saying so); every call is measured.
#[derive(Clone)]
pub(crate) struct Cw {
    client: Option<Arc<ConnectWiseClient>>,
}

impl Cw {
    pub(crate) fn new(client: Option<Arc<ConnectWiseClient>>) -> Cw {
        Cw { client }
    }

    pub(crate) fn client(&self) -> Result<Arc<ConnectWiseClient>, JobFailure> {
        self.client.clone().ok_or_else(|| {
            JobFailure::permanent(
                "ConnectWise is not configured ([connectwise] is missing); configure it and retry \
                 the job",
            )
        })
    }

    /// Runs one ConnectWise call, recording its duration and, on failure, its error class.
    pub(crate) async fn call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, CwError>>,
    ) -> Result<T, CwError> {
        let started = Instant::now();
        let result = call.await;
        metrics::connectwise_call(
            operation,
            started.elapsed(),
            result.as_ref().err().map(CwError::class),
        );
        result
    }
}

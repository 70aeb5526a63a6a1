//! A faithful, in-memory IT Glue.
//!
//! mspbridge imports organizations and configurations from IT Glue, maps clients and machines to them and
//! publishes reports as flexible assets. This simulator lets the product and its tests do all of that
//! against loopback with the real service's quirks: JSON:API with kebab-case attributes and string ids,
//! `x-api-key` auth where a wrong region looks like a wrong key (403), `page[size]` ≤ 1000, silent
//! unknown filters, HTML 404s for unknown routes, the non-standard error bodies, the 3000 requests per 5
//! minutes throttle, PATCH that replaces all traits, and two-sided related items (NOTES §10, F1–F27).
//! Faults (429, 5xx, delays) can be switched on while it runs.

mod asset_types;
mod assets;
mod clock;
mod files;
mod jsonapi;
mod model;
mod organizations;
mod render;
mod seed;
mod server;
mod store;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use serde_json::Value;
use tokio::task::JoinHandle;

pub use clock::{Clock, ManualClock, SystemClock};
pub use faults::{FaultKind, FaultRule, FaultsHandle, RateLimit};
pub use model::{
    name_key, Attachment, Configuration, ConfigurationInterface, ConfigurationType, Contact,
    ContactEmail, ContactPhone, FlexibleAsset, FlexibleAssetField, FlexibleAssetType, Organization,
    RelatedItem, ResourceRef, TraitValue, UploadedFile,
};
pub use seed::{ItGlueSeed, SeedError};

mod faults;

use faults::RateLimiter;
use store::Store;

/// How a simulated IT Glue account behaves.
#[derive(Clone)]
pub struct ItGlueSimConfig {
    /// API keys of this account, valid in this region.
    pub api_keys: Vec<String>,
    /// Region the account lives in (`us`, `eu`, `au`); informational, shown in the request log.
    pub region: String,
    /// Keys of accounts in other regions: always refused with 403, like the real service does when a key
    /// is used against the wrong regional host.
    pub foreign_region_keys: Vec<String>,
    /// Status for a missing or unknown key: 403 (documented) or 401 (seen on some endpoints).
    pub auth_failure_status: u16,
    pub rate_limit: RateLimit,
    /// Largest `page[size]` (IT Glue: 1000).
    pub page_size_max: u64,
    /// Refuse a larger `page[size]` with 400 instead of clamping it.
    pub strict_page_size: bool,
    /// Refuse unknown `sort` keys with 400 instead of ignoring them.
    pub strict_sort: bool,
    /// Status of a successful create: 201 (JSON:API) or 200 (the real value is undocumented).
    pub create_status: u16,
    /// Largest decoded file accepted by attachments and Upload traits (`None`: no cap); larger ⇒ 413.
    pub max_attachment_bytes: Option<usize>,
    /// Largest request body read at all.
    pub max_body_bytes: usize,
    /// Base of `resource-url` attributes, the account's web UI.
    pub account_url: String,
    pub seed: ItGlueSeed,
    /// Time source for the rate-limit window and timestamps.
    pub clock: Arc<dyn Clock>,
}

impl Default for ItGlueSimConfig {
    fn default() -> Self {
        Self {
            api_keys: Vec::new(),
            region: "us".to_owned(),
            foreign_region_keys: Vec::new(),
            auth_failure_status: 403,
            rate_limit: RateLimit::default(),
            page_size_max: 1000,
            strict_page_size: false,
            strict_sort: true,
            create_status: 201,
            max_attachment_bytes: None,
            max_body_bytes: 64 * 1024 * 1024,
            account_url: "https://northwind.itglue.com".to_owned(),
            seed: ItGlueSeed::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl ItGlueSimConfig {
    /// The demo account with one API key.
    pub fn demo(api_key: impl Into<String>) -> Self {
        Self {
            api_keys: vec![api_key.into()],
            seed: ItGlueSeed::demo(),
            ..Self::default()
        }
    }
}

impl fmt::Debug for ItGlueSimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItGlueSimConfig")
            .field(
                "api_keys",
                &format_args!("[{} redacted]", self.api_keys.len()),
            )
            .field("region", &self.region)
            .field(
                "foreign_region_keys",
                &format_args!("[{} redacted]", self.foreign_region_keys.len()),
            )
            .field("auth_failure_status", &self.auth_failure_status)
            .field("rate_limit", &self.rate_limit)
            .field("page_size_max", &self.page_size_max)
            .field("strict_page_size", &self.strict_page_size)
            .field("strict_sort", &self.strict_sort)
            .field("create_status", &self.create_status)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("account_url", &self.account_url)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// One request as the simulator saw it (the API key is never recorded).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// The JSON body, when there was one (multipart bodies are recorded in their JSON form).
    pub body: Option<Value>,
}

/// Shared state of one simulated account; cheap to clone.
#[derive(Clone)]
pub struct ItGlueState {
    inner: Arc<Shared>,
}

impl fmt::Debug for ItGlueState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItGlueState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) config: ItGlueSimConfig,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: FaultsHandle,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) log: Mutex<Vec<LoggedRequest>>,
}

impl Shared {
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ItGlueState {
    /// Builds the account from its configuration, checking the seed.
    pub fn new(config: ItGlueSimConfig) -> Result<Self, SeedError> {
        config.seed.validate()?;
        let store = Store::from_seed(config.seed.clone(), config.clock.now());
        Ok(Self {
            inner: Arc::new(Shared {
                config,
                store: Mutex::new(store),
                faults: FaultsHandle::default(),
                limiter: Mutex::new(RateLimiter::default()),
                log: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Run-time fault injection.
    pub fn faults(&self) -> FaultsHandle {
        self.inner.faults.clone()
    }

    /// All organizations, by id.
    pub fn organizations(&self) -> Vec<Organization> {
        self.inner.store().organizations.values().cloned().collect()
    }

    /// All contacts, by id.
    pub fn contacts(&self) -> Vec<Contact> {
        self.inner.store().contacts.values().cloned().collect()
    }

    /// All configurations (with interfaces), by id.
    pub fn configurations(&self) -> Vec<Configuration> {
        self.inner
            .store()
            .configurations
            .values()
            .cloned()
            .collect()
    }

    /// All flexible asset types (with fields), by id.
    pub fn flexible_asset_types(&self) -> Vec<FlexibleAssetType> {
        self.inner
            .store()
            .flexible_asset_types
            .values()
            .cloned()
            .collect()
    }

    /// All flexible assets, by id.
    pub fn flexible_assets(&self) -> Vec<FlexibleAsset> {
        self.inner
            .store()
            .flexible_assets
            .values()
            .cloned()
            .collect()
    }

    /// All attachments, by id.
    pub fn attachments(&self) -> Vec<Attachment> {
        self.inner.store().attachments.values().cloned().collect()
    }

    /// All related items, by id (each link is stored once and shown from both ends).
    pub fn related_items(&self) -> Vec<RelatedItem> {
        self.inner.store().related_items.values().cloned().collect()
    }

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.inner
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.inner
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The simulator's routes over `state`.
pub fn router(state: ItGlueState) -> Router {
    server::router(state.inner)
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("cannot listen on {addr} for the IT Glue simulator: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running simulator; stops when dropped.
#[derive(Debug)]
pub struct ItGlueSimulator {
    base_url: String,
    addr: SocketAddr,
    state: ItGlueState,
    task: Option<JoinHandle<()>>,
}

/// Starts the simulator on `addr` (port 0 picks a free port).
pub async fn spawn(
    config: ItGlueSimConfig,
    addr: SocketAddr,
) -> Result<ItGlueSimulator, SpawnError> {
    let state = ItGlueState::new(config)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| SpawnError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| SpawnError::Bind { addr, source })?;
    let app = router(state.clone());
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "IT Glue simulator stopped serving");
        }
    });
    tracing::info!(%addr, "IT Glue simulator listening");
    Ok(ItGlueSimulator {
        base_url: format!("http://{addr}"),
        addr,
        state,
        task: Some(task),
    })
}

impl ItGlueSimulator {
    /// `http://127.0.0.1:PORT`, the base URL to give a client (no path prefix).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Run-time fault injection.
    pub fn faults(&self) -> FaultsHandle {
        self.state.faults()
    }

    /// The account's state, for assertions.
    pub fn state(&self) -> &ItGlueState {
        &self.state
    }

    /// All organizations.
    pub fn organizations(&self) -> Vec<Organization> {
        self.state.organizations()
    }

    /// All configurations.
    pub fn configurations(&self) -> Vec<Configuration> {
        self.state.configurations()
    }

    /// All flexible asset types.
    pub fn flexible_asset_types(&self) -> Vec<FlexibleAssetType> {
        self.state.flexible_asset_types()
    }

    /// All flexible assets.
    pub fn flexible_assets(&self) -> Vec<FlexibleAsset> {
        self.state.flexible_assets()
    }

    /// All attachments.
    pub fn attachments(&self) -> Vec<Attachment> {
        self.state.attachments()
    }

    /// All related items.
    pub fn related_items(&self) -> Vec<RelatedItem> {
        self.state.related_items()
    }

    /// Every request served so far.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.requests()
    }

    /// Serves until the server task ends (it only ends on a listener error); for `mspbridge simulate`.
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                if !error.is_cancelled() {
                    tracing::error!(%error, "IT Glue simulator task failed");
                }
            }
        }
    }

    /// Stops serving.
    pub fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for ItGlueSimulator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

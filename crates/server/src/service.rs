//! The running service: what `mspbridge serve` is, and what tests start on port 0.
//!
//! [`Service::start`] opens the store (applying migrations), builds the outside-system clients from
//! the configuration (ConnectWise, one Auditor client per netwrix-auditor source) so a wrong setting
//! stops the start with a clear message instead of failing the first alert, starts the engine and
//! binds the HTTP listener. [`Service::shutdown`] stops in order: stop accepting connections, let
//! in-flight requests finish (an alert being stored is still acknowledged), stop the engine, close
//! the store. [`Service::run_until_signal`] does that on SIGINT or SIGTERM, listened for through a
//! [`ShutdownSignal`] installed before the service announces itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use mspbridge_connectors::connectwise::{ConnectWiseClient, ConnectWiseSettings};
use mspbridge_connectors::netwrix::{AuditorClient, AuditorPassword, AuditorSettings, TlsMode};
use mspbridge_core::clock::{Clock, SystemClock};
use mspbridge_core::config::{Config, ConnectWiseConfig, SourceConfig, SourceKind};
use mspbridge_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::{self, ApiState};
use crate::engine::{Engine, EngineDeps, EngineHandle};
use crate::signal::ShutdownSignal;

/// How to start a [`Service`] beyond what the configuration says.
#[derive(Clone)]
pub struct ServiceOptions {
    /// Listen here instead of `server.listen` (tests pass `127.0.0.1:0`).
    pub listen: Option<SocketAddr>,
    /// The clock of the engine and the API.
    pub clock: Arc<dyn Clock>,
    /// The `%Computer%` placeholder: the machine mspbridge runs on.
    pub host_name: String,
    /// This process's name in job leases.
    pub worker_id: String,
}

impl std::fmt::Debug for ServiceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceOptions")
            .field("listen", &self.listen)
            .field("host_name", &self.host_name)
            .field("worker_id", &self.worker_id)
            .finish_non_exhaustive()
    }
}

impl ServiceOptions {
    /// The system clock and `server.listen`; `host_name` for `%Computer%`.
    pub fn new(host_name: impl Into<String>) -> ServiceOptions {
        let host_name = host_name.into();
        ServiceOptions {
            listen: None,
            clock: Arc::new(SystemClock),
            worker_id: format!("{host_name}:{}", std::process::id()),
            host_name,
        }
    }
}

/// Why the service could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The store could not be opened or migrated.
    #[error("opening the store {location}: {source}")]
    Store {
        /// The database, password redacted.
        location: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The ConnectWise settings are unusable.
    #[error("setting up the ConnectWise client: {0}")]
    ConnectWise(String),
    /// A netwrix-auditor source's settings are unusable.
    #[error("setting up the Netwrix Auditor client of source \"{source_name}\": {message}")]
    Auditor {
        /// The source.
        source_name: String,
        /// Why.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed while running.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// The clients the engine talks through, built from the configuration.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    /// `None` when `[connectwise]` is not configured.
    pub connectwise: Option<Arc<ConnectWiseClient>>,
    /// One client per netwrix-auditor source, by source name.
    pub auditors: HashMap<String, AuditorClient>,
}

impl Clients {
    /// Builds (without any request) every client the configuration names.
    pub fn from_config(config: &Config) -> Result<Clients, ServiceError> {
        let connectwise = config
            .connectwise
            .as_ref()
            .map(|connectwise| {
                ConnectWiseClient::new(connectwise_settings(connectwise))
                    .map(Arc::new)
                    .map_err(|error| ServiceError::ConnectWise(error.to_string()))
            })
            .transpose()?;
        let mut auditors = HashMap::new();
        for source in &config.sources {
            if source.kind != SourceKind::NetwrixAuditor {
                continue;
            }
            let timeout = config.rules.activity_record_web_requests.timeout;
            let client = auditor_client(source, timeout)?;
            auditors.insert(source.name.clone(), client);
        }
        Ok(Clients {
            connectwise,
            auditors,
        })
    }
}

/// ConnectWise client settings from `[connectwise]`.
pub fn connectwise_settings(config: &ConnectWiseConfig) -> ConnectWiseSettings {
    let mut settings = ConnectWiseSettings::new(
        config.site.clone(),
        config.company_id.clone(),
        config.public_key.clone(),
        config.private_key.expose().to_string(),
        config.client_id.clone(),
    );
    settings.codebase = config.codebase.clone();
    settings.connect_timeout = config.connect_timeout;
    settings.request_timeout = config.request_timeout;
    settings
}

/// A client for one netwrix-auditor source, as the engine builds it (also used by `check`).
pub fn auditor_client(
    source: &SourceConfig,
    timeout: std::time::Duration,
) -> Result<AuditorClient, ServiceError> {
    let failed = |message: String| ServiceError::Auditor {
        source_name: source.name.clone(),
        message,
    };
    let url = source
        .url
        .clone()
        .ok_or_else(|| failed("the source has no url".to_string()))?;
    let (Some(username), Some(password)) = (&source.username, &source.password) else {
        return Err(failed(
            "username and password are required to read activity records from the Integration API"
                .to_string(),
        ));
    };
    let mut settings = AuditorSettings::new(
        url,
        username.clone(),
        AuditorPassword::new(password.expose()),
    );
    settings.records_per_request = source.records_per_request;
    settings.timeout = timeout;
    if let Some(fingerprint) = source.tls_certificate_sha256 {
        let hex: String = fingerprint
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        settings.tls = TlsMode::PinnedSha256(hex);
    }
    AuditorClient::new(settings).map_err(|error| failed(error.to_string()))
}

/// IT Glue clients for every configured instance. An instance whose client cannot be built is
/// logged and left out: its publish jobs then fail with a 4022 event naming the instance, while
/// the rest of the service runs.
fn itglue_clients(config: &Config) -> crate::reports::ItGlueClients {
    let mut clients = crate::reports::ItGlueClients::default();
    for instance in &config.itglue {
        match crate::itglue::client_for(instance) {
            Ok(client) => clients.insert(&instance.name, client),
            Err(error) => tracing::error!(
                instance = %instance.name,
                %error,
                "cannot set up the IT Glue client; reports of this instance will not publish"
            ),
        }
    }
    clients
}

/// A running service.
pub struct Service {
    local_addr: SocketAddr,
    store: Arc<dyn Store>,
    stop_http: Option<oneshot::Sender<()>>,
    http: JoinHandle<std::io::Result<()>>,
    engine: Option<EngineHandle>,
    reports: Option<crate::reports::ReportWorkers>,
    /// The retention task (DESIGN §3 rule 8).
    retention: Option<crate::retention::RetentionHandle>,
    /// The IT Glue auto-map schedule (DESIGN §4.5), when an instance is configured.
    automap: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Ends the job leases held by earlier processes of this host that are gone (killed or crashed:
/// worker ids are `host:pid`), so their jobs resume at once instead of after the lease. Leases of
/// live processes and of other hosts are left to expire. Without a way to tell whether a process
/// lives (outside Linux), nothing is released.
async fn recover_leases_of_earlier_processes(store: &dyn Store, options: &ServiceOptions) {
    let prefix = format!("{}:", options.host_name);
    let owners = match store.lease_owners().await {
        Ok(owners) => owners,
        Err(error) => {
            tracing::warn!(%error, "cannot list job leases; they expire on their own");
            return;
        }
    };
    for owner in owners {
        let Some(pid) = owner
            .strip_prefix(&prefix)
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == options.worker_id || process_alive(pid) {
            continue;
        }
        match store.expire_leases(&owner, options.clock.now()).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(
                worker = %owner,
                released,
                "resuming the jobs of a process that is gone"
            ),
            Err(error) => tracing::warn!(worker = %owner, %error, "cannot release job leases"),
        }
    }
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    true
}

impl Service {
    /// Opens the store, builds the clients, starts the engine and binds the listener.
    pub async fn start(config: Config, options: ServiceOptions) -> Result<Service, ServiceError> {
        let config = Arc::new(config);
        let store = mspbridge_store::open_store(config.server.database.expose())
            .await
            .map_err(|source| ServiceError::Store {
                location: config.server.database.to_string(),
                source,
            })?;
        let clients = Clients::from_config(&config)?;
        tracing::debug!(
            connectwise = clients.connectwise.is_some(),
            auditors = clients.auditors.len(),
            "clients ready"
        );

        recover_leases_of_earlier_processes(store.as_ref(), &options).await;
        // The configuration may have changed since alerts were kept unrouted: route them again.
        if let Err(error) =
            crate::engine::reroute_unrouted_alerts(store.as_ref(), &config, options.clock.now())
                .await
        {
            tracing::warn!(%error, "cannot route the unrouted alerts again; they stay unrouted");
        }
        let metrics = api::metrics::install_recorder();
        let itglue = itglue_clients(&config);
        api::metrics::register_at_zero(&config);
        let engine = Engine::spawn(EngineDeps {
            store: store.clone(),
            config: config.clone(),
            clock: options.clock.clone(),
            connectwise: clients.connectwise,
            auditors: clients.auditors,
            host_name: options.host_name.clone(),
            worker_id: options.worker_id.clone(),
            itglue,
        });
        let waker = engine.engine().clone();
        let reports = crate::reports::ReportWorkers::spawn(
            store.clone(),
            config.clone(),
            options.clock.clone(),
            Arc::new(move || waker.wake()),
        );
        let retention =
            crate::retention::spawn(store.clone(), config.clone(), options.clock.clone());
        let waker = engine.engine().clone();
        let state = ApiState::builder(store.clone(), config.clone())
            .clock(options.clock.clone())
            .wake(Arc::new(move || waker.wake()))
            .metrics(metrics)
            .build();

        let addr = options.listen.unwrap_or(config.server.listen);
        let listener = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(source) => {
                retention.shutdown().await;
                reports.shutdown().await;
                engine.shutdown().await;
                store.close().await;
                return Err(ServiceError::Bind { addr, source });
            }
        };
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServiceError::Bind { addr, source })?;
        let (stop_http, stopped) = oneshot::channel::<()>();
        let app = api::router(state);
        let http = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%local_addr, "mspbridge is listening");
        let automap = (!config.itglue.is_empty()).then(|| {
            crate::itglue::spawn_automap_scheduler(
                store.clone(),
                config.clone(),
                options.clock.clone(),
            )
        });
        Ok(Service {
            local_addr,
            store,
            stop_http: Some(stop_http),
            http,
            engine: Some(engine),
            reports: Some(reports),
            retention: Some(retention),
            automap,
        })
    }

    /// The bound address (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://{local_addr}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The running engine (tests drive it with `run_until_idle`).
    pub fn engine(&self) -> Option<&EngineHandle> {
        self.engine.as_ref()
    }

    /// The store the service uses.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Stops accepting connections, waits for in-flight requests, stops the engine and closes
    /// the store.
    pub async fn shutdown(mut self) -> Result<(), ServiceError> {
        if let Some(stop) = self.stop_http.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.http).await;
        if let Some(automap) = self.automap.take() {
            automap.abort();
        }
        if let Some(reports) = self.reports.take() {
            reports.shutdown().await;
        }
        if let Some(retention) = self.retention.take() {
            retention.shutdown().await;
        }
        if let Some(engine) = self.engine.take() {
            engine.shutdown().await;
        }
        self.store.close().await;
        tracing::info!("mspbridge stopped");
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(ServiceError::Serve(error)),
            Err(join) => Err(ServiceError::Serve(std::io::Error::other(join.to_string()))),
        }
    }

    /// Runs until `signal` fires (SIGINT or SIGTERM), then shuts down gracefully.
    pub async fn run_until_signal(self, signal: ShutdownSignal) -> Result<(), ServiceError> {
        signal.wait().await;
        tracing::info!("shutdown signal received; finishing in-flight requests");
        self.shutdown().await
    }
}

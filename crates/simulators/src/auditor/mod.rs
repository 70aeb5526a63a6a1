//! A faithful fake of the Netwrix Auditor Integration API.
//!
//! mspbridge's Netwrix intake fetches activity records by RID from Auditor; this simulator lets
//! tests, `mspbridge demo` and `mspbridge simulate auditor` do that without a Windows server. It
//! follows the documented behaviour closely: enum and search with continuation marks, the filter
//! operators and their OR/AND rules, JSON (`format=json`) and XML, `count` validation, writes that
//! assign RIDs and force the data source, Basic auth, the status codes and empty bodies of
//! 401/404/405/413, `ErrorList` bodies, `Server: Microsoft-HTTPAPI/2.0`, optional HTTPS with a
//! self-signed certificate, and faults injected at run time.

mod faults;
mod filter;
mod handlers;
mod record;
mod tls;
mod xml;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{AuditorFault, AuditorFaults, FaultRequest};
pub use handlers::router;
pub use record::{new_rid, SimDetail, SimItem, SimMonitoringPlan, SimRecord, API_DATA_SOURCE};
pub use tls::AuditorSimTls;

/// Requests kept in the log; older ones are dropped so a long `simulate` run stays bounded.
pub const MAX_LOGGED_REQUESTS: usize = 10_000;

/// Largest request body accepted unless configured (Auditor recommends at most 50 MB per write).
pub const DEFAULT_MAX_BODY_BYTES: usize = 50 * 1024 * 1024;

/// Why the simulator could not start or load its data.
#[derive(Debug, thiserror::Error)]
pub enum AuditorSimError {
    #[error("cannot read the auditor seed file {path}: {detail}")]
    SeedFile { path: String, detail: String },
    #[error("cannot listen on {address}: {detail}")]
    Bind { address: String, detail: String },
    #[error("auditor simulator TLS setup failed: {0}")]
    Tls(String),
}

/// What the simulator starts with.
#[derive(Clone)]
pub struct AuditorSimConfig {
    /// The Basic auth user, e.g. `ACME\svc-mspbridge`.
    pub username: String,
    pub password: String,
    /// Seed records; those without a RID get one at start.
    pub records: Vec<SimRecord>,
    /// Serve HTTPS with a generated certificate instead of plain HTTP.
    pub tls: Option<AuditorSimTls>,
    /// A fixed "now" for relative `When` filters and RIDs; `None` follows the system clock.
    pub now: Option<DateTime<Utc>>,
    /// Bodies larger than this get 413.
    pub max_body_bytes: usize,
}

impl fmt::Debug for AuditorSimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditorSimConfig")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("records", &self.records.len())
            .field("tls", &self.tls)
            .field("now", &self.now)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl AuditorSimConfig {
    /// An empty plain-HTTP simulator accepting these credentials.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        AuditorSimConfig {
            username: username.into(),
            password: password.into(),
            records: Vec::new(),
            tls: None,
            now: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    pub fn with_records(mut self, records: Vec<SimRecord>) -> Self {
        self.records = records;
        self
    }

    pub fn with_tls(mut self, tls: AuditorSimTls) -> Self {
        self.tls = Some(tls);
        self
    }

    pub fn with_now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// Reads seed records from JSON: a bare array of records or `{"ActivityRecordList": […]}`.
    pub fn load_seed_file(path: &Path) -> Result<Vec<SimRecord>, AuditorSimError> {
        let failed = |detail: String| AuditorSimError::SeedFile {
            path: path.display().to_string(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|error| failed(error.to_string()))?;
        parse_seed(&text).map_err(failed)
    }
}

/// The demo data set shipped with mspbridge: password resets, failed logons, group membership
/// changes and file deletions across three clients' domains.
pub const DEMO_SEED_JSON: &str = include_str!("../../data/auditor-demo.json");

/// The records of [`DEMO_SEED_JSON`].
pub fn demo_records() -> Vec<SimRecord> {
    // The file is part of the crate and covered by a test; a parse failure is a build defect.
    parse_seed(DEMO_SEED_JSON).expect("data/auditor-demo.json is valid seed data")
}

/// Parses seed records from JSON text (see [`AuditorSimConfig::load_seed_file`]).
pub fn parse_seed(text: &str) -> Result<Vec<SimRecord>, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seed {
        Bare(Vec<SimRecord>),
        List {
            #[serde(rename = "ActivityRecordList")]
            list: Vec<SimRecord>,
        },
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|error| format!("not JSON: {error}"))?;
    let records = match &value {
        serde_json::Value::Array(_) => serde_json::from_value::<Vec<SimRecord>>(value),
        _ => serde_json::from_value::<Seed>(value).map(|seed| match seed {
            Seed::Bare(records) | Seed::List { list: records } => records,
        }),
    }
    .map_err(|error| format!("not a list of activity records: {error}"))?;
    for (index, record) in records.iter().enumerate() {
        record.validate(index + 1)?;
    }
    Ok(records)
}

/// One request the simulator received, for assertions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: String,
    /// False when Basic auth failed (the request got 401).
    pub authorized: bool,
}

#[derive(Debug)]
struct Inner {
    records: Vec<SimRecord>,
    plan_ids: HashMap<String, String>,
    now: Option<DateTime<Utc>>,
    requests: VecDeque<LoggedRequest>,
}

/// The simulator's shared state; cheap to clone. Build one to mount [`router`] elsewhere.
#[derive(Clone)]
pub struct AuditorSimState {
    username: Arc<str>,
    password: Arc<str>,
    max_body_bytes: usize,
    faults: AuditorFaults,
    inner: Arc<Mutex<Inner>>,
}

impl fmt::Debug for AuditorSimState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditorSimState")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl AuditorSimState {
    pub fn new(config: &AuditorSimConfig) -> Self {
        let state = AuditorSimState {
            username: config.username.as_str().into(),
            password: config.password.as_str().into(),
            max_body_bytes: config.max_body_bytes,
            faults: AuditorFaults::default(),
            inner: Arc::new(Mutex::new(Inner {
                records: Vec::new(),
                plan_ids: HashMap::new(),
                now: config.now,
                requests: VecDeque::new(),
            })),
        };
        state.insert_seed(config.records.clone());
        state
    }

    /// The simulator's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now.unwrap_or_else(Utc::now)
    }

    /// Pins the clock (`Some`) or lets it follow the system clock (`None`).
    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        self.lock().now = now;
    }

    pub fn faults(&self) -> AuditorFaults {
        self.faults.clone()
    }

    /// Every stored record, in insertion order.
    pub fn records(&self) -> Vec<SimRecord> {
        self.lock().records.clone()
    }

    /// The requests received so far (the latest [`MAX_LOGGED_REQUESTS`]), oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.lock().requests.iter().cloned().collect()
    }

    /// Adds records as seed data (kept as given, RIDs assigned where missing); returns their RIDs.
    pub fn insert_seed(&self, records: Vec<SimRecord>) -> Vec<String> {
        let now = self.now();
        let mut inner = self.lock();
        let mut rids = Vec::with_capacity(records.len());
        for mut record in records {
            let rid = record.rid.clone().unwrap_or_else(|| new_rid(now));
            record.rid = Some(rid.clone());
            if let Some(plan) = &mut record.monitoring_plan {
                let id = plan_id(&mut inner.plan_ids, &plan.name, plan.id.clone());
                plan.id = Some(id);
            }
            inner.records.push(record);
            rids.push(rid);
        }
        rids
    }

    /// Stores records as the write endpoint does: new RIDs, data source "Netwrix API",
    /// monitoring-plan IDs assigned.
    pub(crate) fn write(&self, records: Vec<SimRecord>) -> Vec<String> {
        let forced = records
            .into_iter()
            .map(|mut record| {
                record.rid = None;
                record.data_source = Some(API_DATA_SOURCE.to_owned());
                if let Some(plan) = &mut record.monitoring_plan {
                    plan.id = None;
                }
                if let Some(details) = &mut record.details {
                    for detail in details {
                        detail.message = None;
                    }
                }
                record
            })
            .collect();
        self.insert_seed(forced)
    }

    fn log(&self, request: LoggedRequest) {
        let mut inner = self.lock();
        if inner.requests.len() == MAX_LOGGED_REQUESTS {
            inner.requests.pop_front();
        }
        inner.requests.push_back(request);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves `Inner` consistent, so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn plan_id(plan_ids: &mut HashMap<String, String>, name: &str, given: Option<String>) -> String {
    if let Some(id) = given.filter(|id| !id.is_empty()) {
        plan_ids
            .entry(name.to_owned())
            .or_insert_with(|| id.clone());
        return id;
    }
    plan_ids
        .entry(name.to_owned())
        .or_insert_with(|| {
            format!(
                "{{{}}}",
                uuid::Uuid::new_v4().hyphenated().to_string().to_uppercase()
            )
        })
        .clone()
}

/// A running simulator; dropping it stops the server.
#[derive(Debug)]
pub struct AuditorSimulator {
    base_url: String,
    local_addr: SocketAddr,
    state: AuditorSimState,
    certificate_der: Option<Vec<u8>>,
    private_key_der: Option<Vec<u8>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Starts the simulator on `addr` (use port 0 for a free port).
pub async fn spawn(
    config: AuditorSimConfig,
    addr: SocketAddr,
) -> Result<AuditorSimulator, AuditorSimError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| AuditorSimError::Bind {
            address: addr.to_string(),
            detail: error.to_string(),
        })?;
    let local_addr = listener
        .local_addr()
        .map_err(|error| AuditorSimError::Bind {
            address: addr.to_string(),
            detail: error.to_string(),
        })?;
    let state = AuditorSimState::new(&config);
    let app = router(state.clone());
    let (shutdown, shutdown_signal) = oneshot::channel::<()>();
    let stop = async move {
        let _ = shutdown_signal.await;
    };
    let (scheme, identity, task) = match &config.tls {
        None => {
            let task = tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::error!(%error, "auditor simulator stopped");
                }
            });
            ("http", None, task)
        }
        Some(tls) => {
            let material = tls::prepare(tls)?;
            let tls_listener = tls::TlsListener {
                listener,
                acceptor: material.acceptor,
            };
            let task = tokio::spawn(async move {
                if let Err(error) = axum::serve(tls_listener, app)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::error!(%error, "auditor simulator stopped");
                }
            });
            (
                "https",
                Some((material.certificate_der, material.private_key_der)),
                task,
            )
        }
    };
    tracing::info!(%local_addr, scheme, "auditor simulator listening");
    let (certificate_der, private_key_der) = identity.unzip();
    Ok(AuditorSimulator {
        base_url: format!("{scheme}://{local_addr}"),
        local_addr,
        state,
        certificate_der,
        private_key_der,
        shutdown: Some(shutdown),
        task: Some(task),
    })
}

impl AuditorSimulator {
    /// `http://127.0.0.1:PORT` or `https://…`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> &AuditorSimState {
        &self.state
    }

    pub fn faults(&self) -> AuditorFaults {
        self.state.faults()
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.requests()
    }

    pub fn records(&self) -> Vec<SimRecord> {
        self.state.records()
    }

    /// Adds seed records at run time; returns their RIDs.
    pub fn add_records(&self, records: Vec<SimRecord>) -> Vec<String> {
        self.state.insert_seed(records)
    }

    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        self.state.set_now(now);
    }

    /// The DER of the generated certificate in HTTPS mode.
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.certificate_der.as_deref()
    }

    /// The SHA-256 of the certificate in HTTPS mode, lowercase hex (what a pin is set to).
    pub fn certificate_sha256_hex(&self) -> Option<String> {
        self.certificate_der.as_deref().map(tls::sha256_hex)
    }

    /// In HTTPS mode, the certificate and key this simulator serves, to start another one (on the
    /// same address after this one stops, say) that a client pinned to this certificate trusts.
    pub fn tls_identity(&self) -> Option<AuditorSimTls> {
        Some(AuditorSimTls::Identity {
            certificate_der: self.certificate_der.clone()?,
            private_key_der: self.private_key_der.clone()?,
        })
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for AuditorSimulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

//! A faithful, in-memory ConnectWise Manage (REST API 3.0) for tests, `mspbridge demo` and
//! `mspbridge simulate connectwise`.
//!
//! The product's ConnectWise client must cope with the real service's strictness (unknown members
//! rejected, `clientId` required, references resolved against board setup, UTF-16 length limits), its
//! list conventions (conditions, `Link` pagination) and its failures (429 with `Retry-After`, 5xx,
//! codebase moves). This simulator reproduces those behaviours, as documented in
//! `specs/connectwise-manage/NOTES.md` §7, so the client can be proven against it over real HTTP.
//!
//! Control endpoints, off the API path and without credentials:
//!
//! | request | effect |
//! |---|---|
//! | `POST /__simulator/faults` `{"kind":"rate_limited","retry_after_secs":5,"count":3}` | 429 with `Retry-After: 5` for the next 3 requests |
//! | `POST /__simulator/faults` `{"kind":"server_error","path_prefix":"/service/tickets","method":"POST"}` | 500 `ConnectWiseApi` on ticket creation until cleared |
//! | `POST /__simulator/faults` `{"kind":"unavailable"}` / `{"kind":"delay","millis":3000}` | 503 / answers 3 s late |
//! | `POST /__simulator/faults` `{"kind":"hold_response","millis":2000,"path_prefix":"/service/tickets/*/notes","method":"POST"}` | every note is written at once, its answer sent 2 s later (`*` is any one path segment) |
//! | `POST /__simulator/faults` `{"kind":"codebase_changed","new_codebase":"v2025_2/"}` | old codebases 404, `companyinfo` reports the new one |
//! | `GET /__simulator/faults`, `DELETE /__simulator/faults` | list, clear |
//! | `GET /__simulator/requests` | what arrived: method, path, query, status, arrival time (no headers) |
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use mspbridge_simulators::connectwise::{spawn, SimulatorConfig};
//! let sim = spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("ConnectWise simulator at {}", sim.base_url());
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

mod body;
pub mod conditions;
mod context;
mod documents;
mod error;
pub mod faults;
mod listing;
mod lookups;
mod notes;
pub mod schema;
pub mod seed;
mod server;
mod state;
mod ticket_model;
mod tickets;

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultKind, Faults};
pub use listing::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use seed::{
    BoardSeed, CompanySeed, LevelSeed, LicenseBitSeed, PrioritySeed, SeedData, SeedError,
    StatusSeed, SystemInfoSeed, TeamSeed,
};
pub use server::router;
pub use state::{DocumentRecord, RequestRecord, SimulatorConfig, SimulatorState, LEGACY_CODEBASE};

/// A running simulator, serving on its own tokio task until `shutdown` (or drop of the runtime).
#[derive(Debug)]
pub struct ConnectWiseSimulator {
    addr: SocketAddr,
    state: SimulatorState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Binds `addr` (port 0 picks a free port) and serves the simulator in a background task.
pub async fn spawn(
    config: SimulatorConfig,
    addr: SocketAddr,
) -> std::io::Result<ConnectWiseSimulator> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let state = SimulatorState::new(config);
    let app = router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "ConnectWise simulator stopped serving");
        }
    });
    tracing::info!(%addr, "ConnectWise simulator listening");
    Ok(ConnectWiseSimulator {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

impl ConnectWiseSimulator {
    /// `http://127.0.0.1:PORT`, the site URL to configure in the product.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/{codebase}apis/3.0` for the current codebase.
    pub fn api_url(&self) -> String {
        format!(
            "{}/{}apis/3.0",
            self.base_url(),
            self.state.current_codebase()
        )
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault switches of this simulator.
    pub fn faults(&self) -> Faults {
        self.state.faults()
    }

    /// Read access to tickets, notes, documents and the request log.
    pub fn state(&self) -> &SimulatorState {
        &self.state
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ConnectWiseSimulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

//! What every measurement shares: the configuration it runs under, the native alert it posts, and
//! the ways of starting the service (whole, or its HTTP API alone with the engine not running).
//!
//! The configuration is the product's documented defaults except where a measurement says
//! otherwise; each caller passes its `[rules]` overrides so the printed results can name them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use mspbridge_core::config::{parse_str, Config};
use mspbridge_server::api::{self, ApiState};
use mspbridge_server::service::{Service, ServiceOptions};
use mspbridge_simulators::connectwise::SimulatorConfig;
use mspbridge_store::Store;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The intake bearer token of the benchmark configuration.
pub const TOKEN: &str = "bench-intake-token-5c2e91";

/// The three clients, each with its own ConnectWise company in the simulator's seed.
pub const CLIENTS: [&str; 3] = ["Acme", "Globex", "Initech"];

/// The configuration text: a webhook source, three clients on board 3, `[connectwise]` when
/// `connectwise_site` is given, and `rules` appended under `[rules]`.
pub fn config_text(database: &Path, connectwise_site: Option<&str>, rules: &str) -> String {
    let connectwise = match connectwise_site {
        Some(site) => {
            let cw = SimulatorConfig::default();
            format!(
                r#"
[connectwise]
site = "{site}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private}"
client_id = "mspbridge-bench"

[connectwise.ticket]
company_id = 250
board_id = 3
team_id = 26
"#,
                company = cw.company_id,
                public = cw.public_key,
                private = cw.private_key,
            )
        }
        None => String::new(),
    };
    let missing = database.with_extension("missing");
    format!(
        r#"
[server]
listen = "127.0.0.1:0"
database = "sqlite://{db}"
api_tokens = ["{TOKEN}"]
missing_attachments_dir = "{missing}"
{connectwise}
[rules]
{rules}

[[sources]]
name = "bench"
kind = "webhook"

[[clients]]
name = "Acme"
connectwise = {{ company_id = 250, board_id = 3, team_id = 26 }}

[[clients]]
name = "Globex"
connectwise = {{ company_id = 251, board_id = 3, team_id = 26 }}

[[clients]]
name = "Initech"
connectwise = {{ company_id = 252, board_id = 3, team_id = 26 }}
"#,
        db = database.display(),
        missing = missing.display(),
    )
}

/// Parses [`config_text`].
pub fn config(database: &Path, connectwise_site: Option<&str>, rules: &str) -> Config {
    let text = config_text(database, connectwise_site, rules);
    parse_str(&text, "pipeline_bench.toml")
        .unwrap_or_else(|error| panic!("the benchmark configuration is invalid: {error}\n{text}"))
}

/// A native alert (`POST /api/v1/alerts`) with one activity record, about 600 bytes of JSON.
pub fn native_alert(alert_id: &str, alert_name: &str, client: &str) -> String {
    json!({
        "source": "bench",
        "alert_id": alert_id,
        "alert_name": alert_name,
        "client": client,
        "occurred_at": "2026-11-23T10:15:00Z",
        "records": [{
            "who": "ACME\\j.doe",
            "action": "Modified",
            "object_type": "user",
            "what": "\\local\\domain\\acme.local\\Users\\Jane Roe",
            "when": "2026-11-23T10:14:58Z",
            "where": "dc01.acme.local",
            "workstation": "ws-0042.acme.local",
            "details": [
                {"property": "Password", "before": null, "after": "reset"},
                {"property": "userAccountControl", "before": "512", "after": "66048"}
            ],
            "data_source": "Active Directory",
            "monitoring_plan": "AD changes",
        }],
        "fields": {"rid": alert_id},
    })
    .to_string()
}

/// The service's HTTP API on loopback with its engine not running: accepted alerts stay queued.
pub struct ApiOnly {
    /// The bound address.
    pub addr: SocketAddr,
    store: Arc<dyn Store>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ApiOnly {
    /// Opens the store of `config` and serves `api::router` on `127.0.0.1:0`.
    pub async fn start(config: Config) -> ApiOnly {
        let store = mspbridge_store::open_store(config.server.database.expose())
            .await
            .unwrap_or_else(|error| panic!("opening the benchmark store: {error}"));
        let state = ApiState::builder(store.clone(), Arc::new(config)).build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port for the API");
        let addr = listener.local_addr().expect("the bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let app = api::router(state);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        ApiOnly {
            addr,
            store,
            stop: Some(stop),
            task,
        }
    }

    /// The store behind the API.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Stops serving and closes the store.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        self.store.close().await;
    }
}

/// The whole service (API and engine) on `127.0.0.1:0`.
pub async fn start_service(config: Config) -> Service {
    let mut options = ServiceOptions::new("bench-host");
    options.listen = Some("127.0.0.1:0".parse().expect("a loopback address"));
    Service::start(config, options)
        .await
        .unwrap_or_else(|error| panic!("starting the service: {error}"))
}

/// `path` with every all-digit segment replaced by `{id}`, for counting calls by endpoint.
pub fn endpoint(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `q`-quantile (0..=1) of sorted `values`, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

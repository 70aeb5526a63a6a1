//! `mspbridge demo`: the whole product on this machine with nothing to set up.
//!
//! It starts the ConnectWise Manage, Netwrix Auditor and IT Glue simulators on loopback, writes a
//! real configuration for them (secrets in a separate 0600 file, as `init` does), opens a local
//! SQLite store and plays the seed scenarios of DESIGN §8 through the real engine over a manual
//! clock: a test ticket, the password reset and its consolidated repeats, a storm showing the flood
//! limit, reopening and correlation, then the IT Glue mapping and report publishing. Each step is
//! checked against what the simulators received. `--once` prints the summary and exits 0/1;
//! otherwise the service keeps running on its HTTP API with the simulators beside it.

mod demo_config;
mod itglue;
mod reports;
mod tickets;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use mspbridge_connectors::connectwise::ConnectWiseClient;
use mspbridge_core::clock::ManualClock;
use mspbridge_core::config::Config;
use mspbridge_server::engine::{Engine, EngineDeps};
use mspbridge_server::service::{Clients, Service, ServiceOptions};
use mspbridge_server::signal::ShutdownSignal;
use mspbridge_simulators::auditor::{self, AuditorSimConfig, AuditorSimulator};
use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator};
use mspbridge_simulators::itglue::{self as itglue_sim, ItGlueSimConfig, ItGlueSimulator};
use mspbridge_store::Store;

use crate::commands::test_ticket::{self, AttachmentOutcome};
use crate::wiring;

pub(crate) const AUDITOR_SOURCE: &str = "auditor-acme";
pub(crate) const WEBHOOK_SOURCE: &str = "webhook";
const DEMO_API_TOKEN: &str = "demo-token";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Play the scenarios, print a summary and exit (0 when every check passed).
    #[arg(long)]
    once: bool,
    /// Folder for the demo's configuration and SQLite database (the database is recreated on every
    /// run).
    #[arg(long, default_value = "mspbridge-demo", value_name = "DIR")]
    dir: PathBuf,
    /// Address of mspbridge's HTTP API while the demo keeps running.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
}

/// One line of the demo's summary.
#[derive(Debug)]
pub(crate) struct Check {
    name: &'static str,
    passed: bool,
    detail: String,
}

impl Check {
    pub(crate) fn new(name: &'static str, passed: bool, detail: impl Into<String>) -> Check {
        Check {
            name,
            passed,
            detail: detail.into(),
        }
    }
}

/// Everything the scenarios play against.
pub(crate) struct DemoWorld {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub connectwise: ConnectWiseSimulator,
    pub cw_client: ConnectWiseClient,
    pub auditor: AuditorSimulator,
    pub itglue: ItGlueSimulator,
}

impl DemoWorld {
    pub(crate) fn consolidation_interval(&self) -> Duration {
        self.config.rules.consolidation_interval + Duration::from_secs(1)
    }

    pub(crate) fn update_interval(&self) -> Duration {
        self.config.rules.update_interval
    }

    pub(crate) fn flood_limit(&self) -> usize {
        self.config.rules.ticket_flood_limit as usize
    }

    /// A status of `board` that ConnectWise marks closed, as a technician would pick it.
    pub(crate) async fn closed_status_id(&self, board: i64) -> Result<i64> {
        let statuses = self
            .cw_client
            .board_statuses(board)
            .await
            .map_err(|err| anyhow!("{err}"))?;
        statuses
            .iter()
            .find(|s| s.closed_status == Some(true))
            .map(|s| s.id)
            .ok_or_else(|| anyhow!("board {board} has no closed status"))
    }
}

pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("resolving {}", args.dir.display()))?;
    // Every run plays the scenarios on a fresh database; only the demo's own files are removed.
    for name in ["mspbridge.db", "mspbridge.db-wal", "mspbridge.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");

    let cw_sim_config = connectwise::SimulatorConfig::default();
    let connectwise = connectwise::spawn(cw_sim_config.clone(), loopback)
        .await
        .context("starting the ConnectWise simulator")?;
    let auditor_config =
        AuditorSimConfig::new(demo_config::AUDITOR_USER, demo_config::AUDITOR_PASSWORD)
            .with_records(auditor::demo_records());
    let auditor = auditor::spawn(auditor_config, loopback)
        .await
        .map_err(|err| anyhow!("starting the Netwrix Auditor simulator: {err}"))?;
    let itglue = itglue_sim::spawn(ItGlueSimConfig::demo(demo_config::ITGLUE_API_KEY), loopback)
        .await
        .map_err(|err| anyhow!("starting the IT Glue simulator: {err}"))?;
    eprintln!(
        "Simulators: ConnectWise Manage {}, Netwrix Auditor {}, IT Glue {}",
        connectwise.base_url(),
        auditor.base_url(),
        itglue.base_url()
    );

    let config_path = demo_config::write(
        &dir,
        &connectwise,
        &cw_sim_config,
        &auditor,
        &itglue,
        args.listen,
    )?;
    let loaded = demo_config::load_and_check(&config_path)?;
    let config = Arc::new(loaded);
    let store = mspbridge_store::open_store(config.server.database.expose())
        .await
        .with_context(|| format!("opening {}", config.server.database))?;
    let cw_config = config
        .connectwise
        .as_ref()
        .ok_or_else(|| anyhow!("the demo config has no [connectwise]"))?;
    let cw_client = wiring::connectwise_client(cw_config)?;
    let world = DemoWorld {
        config: config.clone(),
        store: store.clone(),
        connectwise,
        cw_client,
        auditor,
        itglue,
    };

    let mut checks = Vec::new();
    let created = test_ticket::create(&config, Some("Acme")).await?;
    checks.push(Check::new(
        "test ticket",
        matches!(created.attachment, AttachmentOutcome::Uploaded { .. }),
        format!(
            "#{} \"{}\" with TestAttachment.txt",
            created.ticket_id, created.summary
        ),
    ));

    // The scenarios run a day and a half of simulated time, ending about now.
    let clock = ManualClock::new(chrono::Utc::now() - chrono::Duration::hours(27));
    let clients = Clients::from_config(&config).map_err(|err| anyhow!("{err}"))?;
    let engine = Engine::new(EngineDeps {
        store: store.clone(),
        config: config.clone(),
        clock: Arc::new(clock.clone()),
        connectwise: clients.connectwise,
        auditors: clients.auditors,
        host_name: wiring::host_name(),
        worker_id: "demo".to_string(),
        itglue: Default::default(),
    });
    checks.extend(tickets::play(&world, &engine, &clock).await?);
    checks.extend(itglue::play(&world, &clock).await?);

    println!("\nmspbridge demo summary");
    for check in &checks {
        println!(
            "  [{}] {:<32} {}",
            if check.passed { "ok" } else { "FAILED" },
            check.name,
            check.detail
        );
    }
    let passed = checks.iter().all(|c| c.passed);
    println!("Configuration: {}", config_path.display());
    println!("Database:      {}", config.server.database);
    println!("demo: {}", if passed { "passed" } else { "FAILED" });

    if args.once {
        store.close().await;
        return Ok(if passed {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    store.close().await;
    drop(engine);
    keep_running(world.config.as_ref().clone(), args.listen, &world).await?;
    Ok(ExitCode::SUCCESS)
}

/// Serves mspbridge's API on the demo's data, with the simulators beside it, until Ctrl-C.
async fn keep_running(config: Config, listen: SocketAddr, world: &DemoWorld) -> Result<()> {
    let config_password = config
        .server
        .admin_password
        .as_ref()
        .map(|password| password.expose().to_string());
    let mut options = ServiceOptions::new(wiring::host_name());
    options.listen = Some(listen);
    let signal = ShutdownSignal::listen().context("listening for shutdown signals")?;
    let service = Service::start(config, options)
        .await
        .map_err(|err| anyhow!("{err}"))?;
    let base = service.base_url();
    println!();
    println!("mspbridge is running at {base} (bearer token: {DEMO_API_TOKEN})");
    if let Some(password) = &config_password {
        println!("Web console: {base}/ (password: {password})");
    }
    println!("  curl -s -H 'Authorization: Bearer {DEMO_API_TOKEN}' {base}/api/v1/incidents");
    println!("  curl -s -H 'Authorization: Bearer {DEMO_API_TOKEN}' {base}/api/v1/events");
    println!("  curl -s {base}/metrics");
    println!(
        "ConnectWise simulator: {} (company {}, keys {} / {})",
        world.connectwise.base_url(),
        connectwise::SimulatorConfig::default().company_id,
        connectwise::SimulatorConfig::default().public_key,
        connectwise::SimulatorConfig::default().private_key
    );
    println!(
        "IT Glue simulator:     {} (x-api-key {})",
        world.itglue.base_url(),
        demo_config::ITGLUE_API_KEY
    );
    println!("Auditor simulator:     {}", world.auditor.base_url());
    eprintln!("Ctrl-C stops the demo.");
    service
        .run_until_signal(signal)
        .await
        .map_err(|err| anyhow!("{err}"))?;
    Ok(())
}

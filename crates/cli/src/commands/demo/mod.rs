//! `mspbridge demo`: the product on this machine with nothing to set up.
//!
//! It starts the ConnectWise Manage simulator on loopback, writes a real configuration file for it
//! (the private key in a separate 0600 file, as `init` does), opens the local SQLite store, and
//! creates a test ticket through the same code path `mspbridge test-ticket` uses. Then it reads the
//! ticket back through the ConnectWise API and prints it. Without `--once` the simulator keeps running
//! so the user can look at it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use mspbridge_core::config;
use mspbridge_simulators::connectwise;
use mspbridge_store::model::NewEvent;

use crate::commands::test_ticket::{self, AttachmentOutcome};
use crate::wiring;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Play the scenario, print a summary and exit (0 when everything worked).
    #[arg(long)]
    once: bool,
    /// Folder for the demo's configuration and SQLite database.
    #[arg(long, default_value = "mspbridge-demo", value_name = "DIR")]
    dir: PathBuf,
    /// Address of the ConnectWise Manage simulator (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    connectwise_listen: SocketAddr,
}

/// The client the demo's test ticket is routed for.
const DEMO_CLIENT: &str = "Acme";

pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let sim_config = connectwise::SimulatorConfig::default();
    let simulator = connectwise::spawn(sim_config.clone(), args.connectwise_listen)
        .await
        .with_context(|| {
            format!(
                "starting the ConnectWise simulator on {}",
                args.connectwise_listen
            )
        })?;
    eprintln!(
        "ConnectWise Manage simulator listening at {}",
        simulator.base_url()
    );

    let config_path = write_demo_config(&args.dir, &simulator.base_url(), &sim_config)?;
    let config = config::load(&config_path).map_err(|err| anyhow!("{err}"))?;
    let store = mspbridge_store::open_store(config.server.database.expose())
        .await
        .with_context(|| format!("opening {}", config.server.database))?;

    let created = test_ticket::create(&config, Some(DEMO_CLIENT)).await?;
    let connectwise = config
        .connectwise
        .as_ref()
        .ok_or_else(|| anyhow!("the demo config has no [connectwise]"))?;
    let client = wiring::connectwise_client(connectwise)?;
    let ticket = client
        .get_ticket(created.ticket_id)
        .await
        .map_err(|err| anyhow!("{err}"))?;
    let notes = client
        .list_notes(created.ticket_id)
        .await
        .map_err(|err| anyhow!("{err}"))?;
    let documents = client
        .list_documents(created.ticket_id)
        .await
        .map_err(|err| anyhow!("{err}"))?;

    store
        .append_event(NewEvent {
            code: mspbridge_core::events::TICKET_CREATED,
            at: chrono::Utc::now(),
            client: Some(DEMO_CLIENT.to_string()),
            subject: Some(created.ticket_id.to_string()),
            message: format!("test ticket #{} created", created.ticket_id),
            details: serde_json::json!({ "summary": created.summary, "test": true }),
        })
        .await
        .context("recording the event")?;

    let name = |reference: &Option<mspbridge_connectors::connectwise::Reference>| {
        reference
            .as_ref()
            .and_then(|r| r.name.clone())
            .unwrap_or_else(|| "-".to_string())
    };
    println!("Created ConnectWise ticket #{}", ticket.id);
    println!("  summary:  {}", ticket.summary.clone().unwrap_or_default());
    println!("  company:  {}", name(&ticket.company));
    println!("  board:    {}", name(&ticket.board));
    println!("  status:   {}", name(&ticket.status));
    println!("  team:     {}", name(&ticket.team));
    println!("  priority: {}", name(&ticket.priority));
    for note in &notes {
        println!(
            "  note:     {}",
            note.text
                .clone()
                .unwrap_or_default()
                .replace('\n', "\n            ")
        );
    }
    for document in &documents {
        println!(
            "  attached: {} ({} bytes)",
            document.file_name.clone().unwrap_or_default(),
            document.size.unwrap_or_default()
        );
    }
    let attachment_ok = matches!(created.attachment, AttachmentOutcome::Uploaded { .. });
    println!("Configuration: {}", config_path.display());
    println!("Database:      {}", config.server.database);

    if args.once {
        store.close().await;
        simulator.shutdown().await;
        let ok = attachment_ok && !notes.is_empty();
        println!("demo: {}", if ok { "passed" } else { "FAILED" });
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }

    println!();
    println!("The simulator keeps running; try:");
    println!(
        "  curl -s -u '{}+{}:{}' -H 'clientId: demo' {}/v4_6_release/apis/3.0/service/tickets",
        sim_config.company_id,
        sim_config.public_key,
        sim_config.private_key,
        simulator.base_url()
    );
    println!(
        "  mspbridge -c {} test-ticket --client Globex",
        config_path.display()
    );
    eprintln!("Ctrl-C stops the demo.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    store.close().await;
    simulator.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Writes the demo's configuration for the simulator at `site`, with the private key in its own 0600
/// file, and returns the configuration's path.
fn write_demo_config(
    dir: &Path,
    site: &str,
    sim: &connectwise::SimulatorConfig,
) -> Result<PathBuf> {
    let dir = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let key_path = dir.join("cw-private-key");
    crate::commands::init::write_private_file(&key_path, &sim.private_key)?;
    let text = format!(
        r#"# mspbridge demo configuration, written by `mspbridge demo` for its built-in simulator.

[server]
database = "sqlite://{db}"
missing_attachments_dir = "{missing}"

[connectwise]
site = "{site}"
company_id = "{company}"
public_key = "{public}"
private_key = "file:{key}"
client_id = "mspbridge-demo"

[connectwise.ticket]
company_id = 42
board_id = 1
team_id = 25
priority_id = 4
severity = "Medium"
impact = "Medium"

[[clients]]
name = "Acme"
email = "it@acme.example"
connectwise = {{ company_id = 250, board_id = 3, team_id = 26 }}

[[clients]]
name = "Globex"
email = "security@globex.example"
connectwise = {{ company_id = 251, board_id = 3, team_id = 26 }}

[[clients]]
name = "Initech"
email = "admin@initech.example"
connectwise = {{ company_id = 252 }}
"#,
        db = dir.join("mspbridge.db").display(),
        missing = dir.join("missing_attachments").display(),
        company = sim.company_id,
        public = sim.public_key,
        key = key_path.display(),
    );
    let path = dir.join("mspbridge.toml");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

//! `mspbridge systems list|add|import|remove`: the systems inventory that IT Glue auto-mapping
//! matches by MAC address (DESIGN §1 "system", §2.1).
//!
//! A CSV import is all or nothing: every bad row is reported with its line number and, if there is
//! any, nothing is stored, so a half-imported file never has to be cleaned up by hand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;
use clap::{Args, Subcommand};
use mspbridge_core::config::{self, Config};
use mspbridge_server::itglue::{normalize_system_macs, parse_systems_csv};
use mspbridge_store::inventory::{NewSystem, SystemOrigin};

use super::itglue::open;

#[derive(Debug, Subcommand)]
pub enum SystemsCommand {
    /// List systems (name, client, MACs, sensor, origin, last seen).
    List(ListArgs),
    /// Register a system, or update its MACs and sensor.
    Add(AddArgs),
    /// Import systems from a CSV file with the columns name,client,macs,sensor.
    Import(ImportArgs),
    /// Forget a system and its IT Glue mappings.
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this client's systems.
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// Print JSON instead of tab-separated lines.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The system's name.
    name: String,
    /// The client it belongs to.
    #[arg(long, value_name = "NAME")]
    client: String,
    /// A MAC address in any common form; repeat for several.
    #[arg(long = "mac", value_name = "MAC")]
    macs: Vec<String>,
    /// Sensor kind (agent, syslog, …).
    #[arg(long, value_name = "KIND")]
    sensor: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file (header name,client,macs,sensor; MACs separated by `;`).
    file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The system's name.
    name: String,
    /// The client it belongs to.
    #[arg(long, value_name = "NAME")]
    client: String,
}

pub async fn run(config_path: &Path, command: SystemsCommand) -> Result<ExitCode> {
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let client_names: Vec<String> = config.clients.iter().map(|c| c.name.clone()).collect();
    // Parse and validate before touching the database.
    let pending = match &command {
        SystemsCommand::Add(args) => {
            check_client(&config, &args.client)?;
            let macs =
                normalize_system_macs(&args.macs).map_err(|problem| anyhow!("--mac: {problem}"))?;
            Some(vec![NewSystem {
                client: args.client.clone(),
                name: args.name.trim().to_string(),
                macs,
                sensor: args.sensor.clone(),
                origin: SystemOrigin::Cli,
            }])
        }
        SystemsCommand::Import(args) => {
            let text = std::fs::read_to_string(&args.file)
                .with_context(|| format!("reading {}", args.file.display()))?;
            let systems = parse_systems_csv(&text, SystemOrigin::Csv, Some(&client_names))
                .map_err(|error| {
                    for problem in &error.problems {
                        eprintln!("{}: {problem}", args.file.display());
                    }
                    anyhow!(
                        "{} has {} bad row(s); nothing was imported",
                        args.file.display(),
                        error.problems.len()
                    )
                })?;
            Some(systems)
        }
        SystemsCommand::List(_) | SystemsCommand::Remove(_) => None,
    };
    let store = open(&config).await?;
    let outcome = async {
        match command {
            SystemsCommand::List(args) => {
                let systems = store.list_systems(args.client.as_deref()).await?;
                if args.json {
                    super::tickets::print_json(&systems)?;
                    return Ok(ExitCode::SUCCESS);
                }
                for system in &systems {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        system.name,
                        system.client,
                        system.macs.join(";"),
                        system.sensor.as_deref().unwrap_or(""),
                        system.origin.as_str(),
                        system.last_seen.to_rfc3339()
                    );
                }
                eprintln!("{} system(s)", systems.len());
            }
            SystemsCommand::Add(_) | SystemsCommand::Import(_) => {
                let systems = pending.unwrap_or_default();
                if systems.iter().any(|s| s.name.is_empty()) {
                    bail!("the system name is empty");
                }
                let stored = store.upsert_systems(systems, Utc::now()).await?;
                eprintln!("{} system(s) registered", stored.len());
                println!("{}", stored.len());
            }
            SystemsCommand::Remove(args) => {
                if !store.remove_system(&args.client, &args.name).await? {
                    bail!("client {:?} has no system {:?}", args.client, args.name);
                }
                eprintln!("removed system {} of client {}", args.name, args.client);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
    .await;
    store.close().await;
    outcome
}

fn check_client(config: &Config, client: &str) -> Result<()> {
    if config.clients.iter().any(|c| c.name == client) {
        return Ok(());
    }
    bail!(
        "client {client:?} is not configured (configured: {})",
        config
            .clients
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

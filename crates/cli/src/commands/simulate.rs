//! `mspbridge simulate`: one simulator of an outside system, alone, until Ctrl-C or SIGTERM.
//!
//! Useful for trying the product without accounts and for writing tests against a faithful fake; the
//! simulators themselves live in `mspbridge_simulators`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use mspbridge_server::signal::ShutdownSignal;
use mspbridge_simulators::{auditor, connectwise, itglue};

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// ConnectWise Manage REST API (apis/3.0), with codebase discovery, strict validation and faults.
    Connectwise(SimulateArgs),
    /// Netwrix Auditor Integration API (activity record search and enum, JSON and XML), with faults.
    Auditor(SimulateArgs),
    /// IT Glue JSON:API (organizations, contacts, configurations, flexible assets, attachments,
    /// related items), with the 3,000 requests / 5 minutes rate limit and faults.
    Itglue(SimulateArgs),
}

/// The credentials `simulate auditor` accepts (simulator credentials, not secrets).
const AUDITOR_USER: &str = "ACME\\svc-mspbridge";
const AUDITOR_PASSWORD: &str = "simulator-password";
/// The API key `simulate itglue` accepts.
const ITGLUE_API_KEY: &str = "ITG.simulator-key";

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8900")]
    listen: SocketAddr,
    /// Seed data (JSON) instead of the built-in demo data.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
}

pub async fn run(command: SimulateCommand) -> Result<ExitCode> {
    // Listening starts before the address is printed: whoever reads it may stop us at once.
    let signal = ShutdownSignal::listen().context("listening for shutdown signals")?;
    match command {
        SimulateCommand::Connectwise(args) => {
            let mut config = connectwise::SimulatorConfig::default();
            if let Some(path) = &args.data {
                config.seed = connectwise::SeedData::from_file(path)
                    .with_context(|| format!("loading simulator data from {}", path.display()))?;
            }
            let (company, public, private) = (
                config.company_id.clone(),
                config.public_key.clone(),
                config.private_key.clone(),
            );
            let simulator = connectwise::spawn(config, args.listen)
                .await
                .with_context(|| format!("listening on {}", args.listen))?;
            println!("ConnectWise Manage simulator at {}", simulator.base_url());
            println!("  site:        {}", simulator.base_url());
            println!("  company id:  {company}");
            println!("  public key:  {public}");
            println!("  private key: {private}   (simulator credentials, not a secret)");
            println!("  client id:   any non-empty value");
            println!(
                "  faults:      POST {}/__simulator/faults",
                simulator.base_url()
            );
            wait_for(signal).await;
            simulator.shutdown().await;
        }
        SimulateCommand::Auditor(args) => {
            let records = match &args.data {
                Some(path) => auditor::AuditorSimConfig::load_seed_file(path).map_err(|err| {
                    anyhow::anyhow!("loading simulator data from {}: {err}", path.display())
                })?,
                None => auditor::demo_records(),
            };
            let count = records.len();
            let config = auditor::AuditorSimConfig::new(AUDITOR_USER, AUDITOR_PASSWORD)
                .with_records(records);
            let simulator = auditor::spawn(config, args.listen)
                .await
                .map_err(|err| anyhow::anyhow!("listening on {}: {err}", args.listen))?;
            println!(
                "Netwrix Auditor simulator at {} ({count} activity records)",
                simulator.base_url()
            );
            println!("  user:     {AUDITOR_USER}");
            println!("  password: {AUDITOR_PASSWORD}   (simulator credentials, not a secret)");
            println!(
                "  search:   POST {}/netwrix/api/v1/activity_records/search?format=json",
                simulator.base_url()
            );
            println!(
                "  faults:   POST {}/__simulator/faults",
                simulator.base_url()
            );
            wait_for(signal).await;
            simulator.shutdown().await;
        }
        SimulateCommand::Itglue(args) => {
            let mut config = itglue::ItGlueSimConfig::demo(ITGLUE_API_KEY);
            if let Some(path) = &args.data {
                config.seed = itglue::ItGlueSeed::from_file(path).map_err(|err| {
                    anyhow::anyhow!("loading simulator data from {}: {err}", path.display())
                })?;
            }
            let simulator = itglue::spawn(config, args.listen)
                .await
                .map_err(|err| anyhow::anyhow!("listening on {}: {err}", args.listen))?;
            println!("IT Glue simulator at {}", simulator.base_url());
            println!("  x-api-key: {ITGLUE_API_KEY}   (simulator key, not a secret)");
            println!(
                "  faults:    POST {}/__simulator/faults",
                simulator.base_url()
            );
            wait_for(signal).await;
            simulator.shutdown();
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn wait_for(signal: ShutdownSignal) {
    eprintln!("Ctrl-C stops it.");
    signal.wait().await;
}

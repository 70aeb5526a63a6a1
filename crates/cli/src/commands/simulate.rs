//! `mspbridge simulate`: one simulator of an outside system, alone, until Ctrl-C.
//!
//! Useful for trying the product without accounts and for writing tests against a faithful fake; the
//! simulators themselves live in `mspbridge_simulators`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use mspbridge_simulators::connectwise;

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// ConnectWise Manage REST API (apis/3.0), with codebase discovery, strict validation and faults.
    Connectwise(SimulateArgs),
}

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
            eprintln!("Ctrl-C stops it.");
            tokio::signal::ctrl_c()
                .await
                .context("waiting for Ctrl-C")?;
            simulator.shutdown().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `mspbridge clients list`: the managed clients of the configuration with their IT Glue mapping
//! state, so an operator sees at a glance which clients auto-mapping could not place and why to
//! look at events 4018.
//!
//! Clients are defined in the configuration file, so adding or removing one is an edit there;
//! this command only shows them.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Subcommand;
use mspbridge_core::config;
use mspbridge_store::inventory::{MappingKind, MappingSubject};

use super::itglue::open;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List clients: name, e-mail, IT Glue instance, mapped organization and mapping kind.
    List,
}

pub async fn run(config_path: &Path, command: ClientsCommand) -> Result<ExitCode> {
    let ClientsCommand::List = command;
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let store = open(&config).await?;
    let mappings = store.list_mappings(None).await;
    store.close().await;
    let mappings = mappings?;
    for client in &config.clients {
        let email = client.email.as_deref().unwrap_or("-");
        let instance = config.itglue_for_client(&client.name);
        let state = match instance {
            None => "-\tnot enabled for IT Glue".to_string(),
            Some(instance) => {
                let mapping = mappings.iter().find(|m| {
                    m.instance == instance.name
                        && matches!(&m.subject, MappingSubject::Client { client: c } if c == &client.name)
                });
                match mapping {
                    Some(m) => format!(
                        "{}\torganization {}\t{}",
                        instance.name,
                        m.target_id,
                        match m.kind {
                            MappingKind::Manual => "manual",
                            MappingKind::Auto => "auto",
                        }
                    ),
                    None => format!("{}\tunmapped", instance.name),
                }
            }
        };
        println!("{}\t{email}\t{state}", client.name);
    }
    eprintln!("{} client(s)", config.clients.len());
    Ok(ExitCode::SUCCESS)
}

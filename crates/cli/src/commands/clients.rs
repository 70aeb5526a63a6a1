//! `mspbridge clients list`: the managed clients of the configuration with their IT Glue mapping
//! state, so an operator sees at a glance which clients auto-mapping could not place and why to
//! look at events 4018.
//!
//! Clients are defined in the configuration file, so adding or removing one is an edit there;
//! this command only shows them.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use mspbridge_core::config;
use mspbridge_store::inventory::{MappingKind, MappingSubject};
use serde::Serialize;

use super::itglue::open;
use super::tickets::print_json;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// List clients: name, e-mail, IT Glue instance, mapped organization and mapping kind.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON instead of tab-separated lines.
    #[arg(long)]
    json: bool,
}

/// One client as `clients list` shows it.
#[derive(Debug, Serialize)]
struct ClientRow<'a> {
    name: &'a str,
    email: Option<&'a str>,
    /// The IT Glue instance the client is enabled for.
    itglue_instance: Option<&'a str>,
    /// `unmapped`, `manual`, `auto`, or `not enabled for IT Glue`.
    mapping: &'static str,
    organization_id: Option<i64>,
}

pub async fn run(config_path: &Path, command: ClientsCommand) -> Result<ExitCode> {
    let ClientsCommand::List(args) = command;
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let store = open(&config).await?;
    let mappings = store.list_mappings(None).await;
    store.close().await;
    let mappings = mappings?;
    let rows: Vec<ClientRow> = config
        .clients
        .iter()
        .map(|client| {
            let instance = config.itglue_for_client(&client.name);
            let mapping = instance.and_then(|instance| {
                mappings.iter().find(|m| {
                    m.instance == instance.name
                        && matches!(&m.subject, MappingSubject::Client { client: c } if c == &client.name)
                })
            });
            ClientRow {
                name: &client.name,
                email: client.email.as_deref(),
                itglue_instance: instance.map(|instance| instance.name.as_str()),
                mapping: match (instance, mapping) {
                    (None, _) => "not enabled for IT Glue",
                    (Some(_), None) => "unmapped",
                    (Some(_), Some(m)) => match m.kind {
                        MappingKind::Manual => "manual",
                        MappingKind::Auto => "auto",
                    },
                },
                organization_id: mapping.map(|m| m.target_id),
            }
        })
        .collect();
    if args.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    for row in &rows {
        let state = match (row.itglue_instance, row.organization_id) {
            (None, _) => format!("-\t{}", row.mapping),
            (Some(instance), None) => format!("{instance}\t{}", row.mapping),
            (Some(instance), Some(id)) => format!("{instance}\torganization {id}\t{}", row.mapping),
        };
        println!("{}\t{}\t{state}", row.name, row.email.unwrap_or("-"));
    }
    eprintln!("{} client(s)", rows.len());
    Ok(ExitCode::SUCCESS)
}

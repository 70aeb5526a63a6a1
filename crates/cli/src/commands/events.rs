//! `mspbridge events [--code N] [--client C] [--since 24h]`: integration events, newest first,
//! with their ids and names from the event catalogue (DESIGN §7).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use clap::Args;
use mspbridge_core::events::{describe, CATALOGUE};
use mspbridge_server::api::views::{self, EventQuery};

use super::tickets::{open, print_json, print_table, time};

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this event id (e.g. 4018).
    #[arg(long, value_name = "N")]
    code: Option<u32>,
    /// Only this client's events.
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// Only events this recent (`24h`, `7d`) or since an RFC 3339 time.
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// At most this many (default 100, 1 to 1000).
    #[arg(long, value_parser = super::tickets::limit_range())]
    limit: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config_path: &Path, args: EventsArgs) -> Result<ExitCode> {
    if let Some(code) = args.code {
        if describe(code).is_none() {
            let known: Vec<String> = CATALOGUE
                .iter()
                .map(|event| format!("{} {}", event.code, event.name))
                .collect();
            bail!(
                "--code {code} is not an event id; known ids: {}",
                known.join(", ")
            );
        }
    }
    let (_, store) = open(config_path).await?;
    let query = EventQuery {
        code: args.code,
        client: args.client,
        since: args.since,
        limit: args.limit,
    };
    let events = views::events(&store, query, chrono::Utc::now()).await;
    store.close().await;
    let events = events.map_err(|err| anyhow!("{}", err.message))?;
    if args.json {
        print_json(&events)?;
        return Ok(ExitCode::SUCCESS);
    }
    if events.is_empty() {
        eprintln!("no events");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = events
        .iter()
        .map(|event| {
            vec![
                event.id.to_string(),
                time(event.at),
                event.code.to_string(),
                event.name.clone(),
                event.client.clone().unwrap_or_else(|| "-".into()),
                event.subject.clone().unwrap_or_else(|| "-".into()),
                event.message.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "ID", "TIME", "EVENT", "NAME", "CLIENT", "SUBJECT", "MESSAGE",
        ],
        rows,
    );
    Ok(ExitCode::SUCCESS)
}

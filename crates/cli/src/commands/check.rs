//! `mspbridge check`: is this configuration going to work?
//!
//! First the file: every mistake at once, with its key and line. Then every configured connection:
//! ConnectWise (codebase, keys, client id, and that the configured company, board, team, priority and
//! statuses exist on the live instance, for the defaults and for every client's overrides). Exit 1 as
//! soon as anything fails, with each failure naming the setting to fix.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Args;
use mspbridge_connectors::connectwise::ConnectWiseClient;
use mspbridge_core::config::{self, Config, ConnectWiseConfig, StatusRef, TicketSettings};

use crate::wiring;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only validate the file; test no connection.
    #[arg(long)]
    offline: bool,
}

/// The outcome of one check, printed as one line.
struct Outcome {
    what: String,
    result: Result<String>,
}

pub async fn run(config_path: &Path, args: CheckArgs) -> Result<ExitCode> {
    let config = match config::load(config_path) {
        Ok(config) => config,
        Err(err) => {
            println!("FAIL  configuration {}:", config_path.display());
            println!("{err}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("ok    configuration {}", config_path.display());
    if args.offline {
        return Ok(ExitCode::SUCCESS);
    }

    let outcomes = check_connections(&config).await;
    if outcomes.is_empty() {
        println!("--    no connection is configured");
    }
    let mut failed = false;
    for outcome in outcomes {
        match outcome.result {
            Ok(detail) => println!("ok    {}: {detail}", outcome.what),
            Err(err) => {
                failed = true;
                println!("FAIL  {}: {err:#}", outcome.what);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn check_connections(config: &Config) -> Vec<Outcome> {
    let mut outcomes = vec![check_database(config).await];
    if let Some(connectwise) = &config.connectwise {
        outcomes.extend(check_connectwise(config, connectwise).await);
    }
    // IT Glue: one authenticated call per instance; a 401/403 explains both a bad key and a wrong
    // region, which IT Glue answers alike.
    for instance in &config.itglue {
        outcomes.push(Outcome {
            what: format!("itglue {}", instance.name),
            result: mspbridge_server::itglue::test_instance(instance)
                .await
                .map_err(anyhow::Error::from),
        });
    }
    outcomes
}

/// The database: reachable, credentials accepted, schema current (nothing is created or changed).
async fn check_database(config: &Config) -> Outcome {
    let database = &config.server.database;
    let result = match mspbridge_store::inspect_database(database.expose()).await {
        Ok(status) if status.applied == 0 => Ok(format!(
            "{} has no schema yet; `mspbridge migrate` or `serve` creates it",
            status.location
        )),
        Ok(status) if status.needs_migration() => Err(anyhow!(
            "{} is at schema version {} of {}; run `mspbridge migrate` (server.database)",
            status.location,
            status.applied,
            status.latest
        )),
        Ok(status) => Ok(format!(
            "{} reachable, schema version {} (current)",
            status.location, status.applied
        )),
        Err(error) => Err(anyhow!("{error} (server.database)")),
    };
    Outcome {
        what: "database".to_string(),
        result,
    }
}

async fn check_connectwise(config: &Config, connectwise: &ConnectWiseConfig) -> Vec<Outcome> {
    let settings = wiring::connectwise_settings(connectwise);
    let connection = wiring::test_connectwise(&settings).await;
    let failed = connection.is_err();
    let mut outcomes = vec![Outcome {
        what: "connectwise".to_string(),
        result: connection,
    }];
    if failed {
        // Every routing check would fail the same way; the connection line says why.
        return outcomes;
    }
    let client = match wiring::connectwise_client(connectwise) {
        Ok(client) => client,
        Err(err) => {
            outcomes.push(Outcome {
                what: "connectwise".to_string(),
                result: Err(err),
            });
            return outcomes;
        }
    };
    outcomes.push(Outcome {
        what: "connectwise.ticket".to_string(),
        result: check_routing(
            &client,
            &config.effective_ticket_settings(None),
            "connectwise.ticket",
            config.clients.is_empty(),
        )
        .await,
    });
    for (index, client_config) in config.clients.iter().enumerate() {
        let prefix = format!("clients[{index}].connectwise");
        outcomes.push(Outcome {
            what: format!("client {}", client_config.name),
            result: check_routing(
                &client,
                &config.effective_ticket_settings(Some(&client_config.name)),
                &prefix,
                true,
            )
            .await,
        });
    }
    outcomes
}

/// Checks that the ids one client's tickets would carry exist on the live instance. `key` is the
/// config section the ids come from, so the message names what to fix.
async fn check_routing(
    client: &ConnectWiseClient,
    settings: &TicketSettings,
    key: &str,
    routing_required: bool,
) -> Result<String> {
    let (Some(company_id), Some(board_id)) = (settings.company_id, settings.board_id) else {
        if routing_required {
            return Err(anyhow!(
                "{key}: company_id and board_id must be set (here or in [connectwise.ticket])"
            ));
        }
        return Ok("no default routing (every client sets its own)".to_string());
    };
    let cw = |err: mspbridge_connectors::connectwise::CwError| anyhow!("{err}");

    let companies = client.list_companies(None).await.map_err(cw)?;
    let company = companies
        .iter()
        .find(|c| c.id == i64::from(company_id))
        .ok_or_else(|| {
            anyhow!("{key}.company_id = {company_id}: ConnectWise has no company with this id")
        })?;
    let boards = client.list_boards().await.map_err(cw)?;
    let board = boards
        .iter()
        .find(|b| b.id == i64::from(board_id))
        .ok_or_else(|| {
            anyhow!(
                "{key}.board_id = {board_id}: ConnectWise has no service board with this id ({})",
                names(boards.iter().map(|b| (b.id, b.name.clone())))
            )
        })?;
    let board_name = board.name.clone().unwrap_or_default();
    if let Some(team_id) = settings.team_id {
        let teams = client.board_teams(board_id.into()).await.map_err(cw)?;
        if !teams.iter().any(|t| t.id == i64::from(team_id)) {
            return Err(anyhow!(
                "{key}.team_id = {team_id}: not a team of board {board_name:?} ({})",
                names(teams.iter().map(|t| (t.id, t.name.clone())))
            ));
        }
    }
    if let Some(priority_id) = settings.priority_id {
        let priorities = client.list_priorities().await.map_err(cw)?;
        if !priorities.iter().any(|p| p.id == i64::from(priority_id)) {
            return Err(anyhow!(
                "{key}.priority_id = {priority_id}: ConnectWise has no priority with this id ({})",
                names(priorities.iter().map(|p| (p.id, p.name.clone())))
            ));
        }
    }
    let statuses = client.board_statuses(board_id.into()).await.map_err(cw)?;
    let status_known = |status: &StatusRef| match status {
        StatusRef::Id(id) => statuses.iter().any(|s| s.id == i64::from(*id)),
        StatusRef::Name(name) => statuses.iter().any(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }),
    };
    let available = || names(statuses.iter().map(|s| (s.id, s.name.clone())));
    if let Some(status_id) = settings.status_id {
        if !status_known(&StatusRef::Id(status_id)) {
            return Err(anyhow!(
                "{key}.status_id = {status_id}: not a status of board {board_name:?} ({})",
                available()
            ));
        }
    }
    let unknown: BTreeSet<String> = settings
        .reopen_closed_statuses
        .iter()
        .filter(|s| !status_known(s))
        .map(status_label)
        .collect();
    if !unknown.is_empty() {
        return Err(anyhow!(
            "connectwise.ticket.reopen_closed_statuses: {} not a status of board {board_name:?} (status ids are board-specific; {})",
            unknown.into_iter().collect::<Vec<_>>().join(", "),
            available()
        ));
    }
    if let Some(new_status) = &settings.reopen_new_status {
        if !status_known(new_status) {
            return Err(anyhow!("connectwise.ticket.reopen_new_status: {} is not a status of board {board_name:?} ({})", status_label(new_status), available()));
        }
    }
    Ok(format!(
        "company {:?}, board {board_name:?}",
        company
            .name
            .clone()
            .unwrap_or_else(|| company_id.to_string())
    ))
}

fn status_label(status: &StatusRef) -> String {
    match status {
        StatusRef::Id(id) => id.to_string(),
        StatusRef::Name(name) => format!("{name:?}"),
    }
}

fn names(items: impl Iterator<Item = (i64, Option<String>)>) -> String {
    let listed: Vec<String> = items
        .map(|(id, name)| format!("{id} {}", name.unwrap_or_default()))
        .collect();
    if listed.is_empty() {
        "none available".to_string()
    } else {
        format!("available: {}", listed.join(", "))
    }
}

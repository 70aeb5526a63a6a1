//! Turning the typed configuration into working parts: clients, ticket bodies, live lists.
//!
//! Commands call these instead of building clients themselves, so every command talks to
//! ConnectWise with the same settings, timeouts and error wording.

use std::fmt::Display;

use anyhow::{anyhow, Context, Result};
use mspbridge_connectors::connectwise::{
    ConnectWiseClient, ConnectWiseSettings, Impact, NewTicket, RecordRef, Severity,
};
use mspbridge_core::config::{ConnectWiseConfig, DescriptionField, TicketSettings};
use url::Url;

/// Client settings for the configured ConnectWise connection (the same ones `serve` uses).
pub use mspbridge_server::service::connectwise_settings;

/// A client for the configured ConnectWise connection.
pub fn connectwise_client(config: &ConnectWiseConfig) -> Result<ConnectWiseClient> {
    ConnectWiseClient::new(connectwise_settings(config))
        .map_err(|err| anyhow!("{err}"))
        .context("setting up the ConnectWise client")
}

/// Client settings from the wizard's answers, with the same checks the config file gets.
pub fn connectwise_settings_from_answers(
    site: &str,
    company_id: &str,
    public_key: &str,
    private_key: &str,
    client_id: &str,
) -> Result<ConnectWiseSettings> {
    let site =
        Url::parse(site.trim()).map_err(|err| anyhow!("site {site:?} is not a URL: {err}"))?;
    let settings = ConnectWiseSettings::new(
        site,
        company_id.trim(),
        public_key.trim(),
        private_key,
        client_id.trim(),
    );
    settings.validate().map_err(|err| anyhow!("{err}"))?;
    Ok(settings)
}

/// Discovers the codebase and makes one authenticated call; returns a one-line description of what
/// answered, or an error that names the wrong setting.
pub async fn test_connectwise(settings: &ConnectWiseSettings) -> Result<String> {
    let client = ConnectWiseClient::new(settings.clone()).map_err(|err| anyhow!("{err}"))?;
    let info = client.system_info().await.map_err(|err| anyhow!("{err}"))?;
    let version = info
        .version
        .unwrap_or_else(|| "unknown version".to_string());
    let codebase = client.connect().await.map_err(|err| anyhow!("{err}"))?;
    Ok(format!(
        "ConnectWise Manage {version} at {} (codebase {codebase})",
        settings.site
    ))
}

/// One choice in a live ConnectWise list: what the user sees and the id the config stores.
#[derive(Debug, Clone)]
pub struct Choice {
    pub id: i32,
    /// Names the choice may be given by on the command line (name, identifier); compared ignoring case.
    pub names: Vec<String>,
    pub label: String,
}

impl Choice {
    pub fn new(id: i64, names: Vec<String>, label: impl Display) -> Choice {
        Choice {
            id: id as i32,
            names,
            label: label.to_string(),
        }
    }
}

pub async fn company_choices(client: &ConnectWiseClient) -> Result<Vec<Choice>> {
    let companies = client
        .list_companies(None)
        .await
        .map_err(|err| anyhow!("{err}"))
        .context("listing companies")?;
    Ok(companies
        .into_iter()
        .map(|c| {
            let name = c.name.unwrap_or_default();
            let identifier = c.identifier.unwrap_or_default();
            let label = format!("{name} ({identifier}, id {})", c.id);
            Choice::new(c.id, vec![name, identifier], label)
        })
        .collect())
}

pub async fn board_choices(client: &ConnectWiseClient) -> Result<Vec<Choice>> {
    let boards = client
        .list_boards()
        .await
        .map_err(|err| anyhow!("{err}"))
        .context("listing service boards")?;
    Ok(boards
        .into_iter()
        .map(|b| {
            let name = b.name.unwrap_or_default();
            let label = format!("{name} (id {})", b.id);
            Choice::new(b.id, vec![name], label)
        })
        .collect())
}

pub async fn team_choices(client: &ConnectWiseClient, board_id: i32) -> Result<Vec<Choice>> {
    let teams = client
        .board_teams(board_id.into())
        .await
        .map_err(|err| anyhow!("{err}"))
        .with_context(|| format!("listing the teams of board {board_id}"))?;
    Ok(teams
        .into_iter()
        .map(|t| {
            let name = t.name.unwrap_or_default();
            let label = format!("{name} (id {})", t.id);
            Choice::new(t.id, vec![name], label)
        })
        .collect())
}

/// The priorities in ConnectWise's own order (`sortOrder`, as its screens show them), not by id.
pub async fn priority_choices(client: &ConnectWiseClient) -> Result<Vec<Choice>> {
    let mut priorities = client
        .list_priorities()
        .await
        .map_err(|err| anyhow!("{err}"))
        .context("listing priorities")?;
    priorities.sort_by_key(|p| (p.sort_order.unwrap_or(i64::MAX), p.id));
    Ok(priorities
        .into_iter()
        .map(|p| {
            let name = p.name.unwrap_or_default();
            let label = format!("{name} (id {})", p.id);
            Choice::new(p.id, vec![name], label)
        })
        .collect())
}

/// The body of a ticket create from one client's ticket settings. `summary` is cut to ConnectWise's
/// 100-unit limit by the client; the description goes to the configured field.
pub fn new_ticket(
    settings: &TicketSettings,
    summary: &str,
    description: &str,
    external_xref: Option<String>,
) -> Result<NewTicket> {
    let company_id = settings
        .company_id
        .ok_or_else(|| anyhow!("no ConnectWise company: set connectwise.ticket.company_id or the client's connectwise.company_id"))?;
    let board_id = settings
        .board_id
        .ok_or_else(|| anyhow!("no service board: set connectwise.ticket.board_id or the client's connectwise.board_id"))?;
    let mut ticket = NewTicket::new(summary, RecordRef::id(company_id.into()));
    ticket.board = Some(RecordRef::id(board_id.into()));
    ticket.team = settings.team_id.map(|id| RecordRef::id(id.into()));
    ticket.priority = settings.priority_id.map(|id| RecordRef::id(id.into()));
    ticket.status = settings.status_id.map(|id| RecordRef::id(id.into()));
    ticket.severity = Some(
        settings
            .severity
            .as_str()
            .parse::<Severity>()
            .map_err(|err| anyhow!("{err}"))?,
    );
    ticket.impact = Some(
        settings
            .impact
            .as_str()
            .parse::<Impact>()
            .map_err(|err| anyhow!("{err}"))?,
    );
    ticket.external_x_ref = external_xref;
    match settings.description_field {
        DescriptionField::InitialDescription => {
            ticket.initial_description = Some(description.to_string())
        }
        DescriptionField::InitialInternalAnalysis => {
            ticket.initial_internal_analysis = Some(description.to_string())
        }
    }
    Ok(ticket)
}

/// The name of the machine mspbridge runs on (the `%Computer%` placeholder).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

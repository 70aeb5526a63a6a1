//! `mspbridge check`: is this configuration going to work?
//!
//! First the file: every mistake at once, with its key and line. Then the database (it opens, is
//! migrated and takes a write), every configured connection — ConnectWise (codebase, keys, client
//! id, and that the configured company, board, team, priority and statuses exist on the live
//! instance, for the defaults and for every client), each Netwrix Auditor source (credentials,
//! certificate, one search) and each IT Glue instance. Every problem is reported, each naming the
//! setting to fix; exit 1 when anything failed. `--json` prints the same as one JSON document.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use mspbridge_connectors::connectwise::{
    Board, BoardStatus, BoardTeam, Company, ConnectWiseClient, CwError, Priority,
};
use mspbridge_connectors::netwrix::FilterList;
use mspbridge_core::config::{
    self, ClientTicketOverrides, Config, ConnectWiseConfig, DatabaseUrl, SeverityMap, SourceConfig,
    SourceKind, StatusRef, TicketSettings,
};
use serde::Serialize;

use crate::error_chain::one_line;
use crate::wiring;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only validate the file; open no database and test no connection.
    #[arg(long)]
    offline: bool,
    /// Print the outcome as one JSON document on stdout (for scripts) instead of one line per check.
    #[arg(long)]
    json: bool,
}

/// The outcome of one check: what was checked, and either what answered or every problem found.
#[derive(Debug, Serialize)]
struct Outcome {
    check: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    problems: Vec<String>,
}

impl Outcome {
    fn passed(check: impl Into<String>, detail: impl Into<String>) -> Outcome {
        Outcome {
            check: check.into(),
            ok: true,
            detail: Some(detail.into()),
            problems: Vec::new(),
        }
    }

    fn failed(check: impl Into<String>, problems: Vec<String>) -> Outcome {
        Outcome {
            check: check.into(),
            ok: false,
            detail: None,
            problems,
        }
    }

    fn from_result(check: impl Into<String>, result: Result<String>) -> Outcome {
        match result {
            Ok(detail) => Outcome::passed(check, detail),
            Err(err) => Outcome::failed(check, vec![one_line(&err)]),
        }
    }
}

#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    config: String,
    checks: Vec<Outcome>,
}

pub async fn run(config_path: &Path, args: CheckArgs) -> Result<ExitCode> {
    let what = format!("configuration {}", config_path.display());
    let mut checks = Vec::new();
    match config::load(config_path) {
        Err(err) => {
            let problems = err.to_string().lines().map(str::to_string).collect();
            checks.push(Outcome::failed(what, problems));
        }
        Ok(config) => {
            checks.push(Outcome::passed(what, "valid"));
            if !args.offline {
                checks.extend(check_everything(&config).await);
            }
        }
    }
    let ok = checks.iter().all(|check| check.ok);
    if args.json {
        let report = Report {
            ok,
            config: config_path.display().to_string(),
            checks,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_lines(&checks, args.offline);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_lines(checks: &[Outcome], offline: bool) {
    for outcome in checks {
        match (outcome.ok, outcome.problems.as_slice()) {
            (true, _) => println!(
                "ok    {}: {}",
                outcome.check,
                outcome.detail.as_deref().unwrap_or_default()
            ),
            (false, [only]) if !only.contains('\n') => {
                println!("FAIL  {}: {only}", outcome.check)
            }
            (false, problems) => {
                println!("FAIL  {}:", outcome.check);
                for problem in problems {
                    println!("      - {problem}");
                }
            }
        }
    }
    if !offline && checks.len() == 2 {
        println!("--    no connection is configured");
    }
}

async fn check_everything(config: &Config) -> Vec<Outcome> {
    let mut outcomes = vec![Outcome::from_result(
        format!("database {}", config.server.database),
        check_database(&config.server.database).await,
    )];
    if let Some(connectwise) = &config.connectwise {
        outcomes.extend(check_connectwise(config, connectwise).await);
    }
    for source in &config.sources {
        if source.kind == SourceKind::NetwrixAuditor {
            outcomes.push(Outcome::from_result(
                format!("source {}", source.name),
                check_auditor_source(config, source).await,
            ));
        }
    }
    // IT Glue: one authenticated call per instance; a 401/403 explains both a bad key and a wrong
    // region, which IT Glue answers alike.
    for instance in &config.itglue {
        outcomes.push(Outcome::from_result(
            format!("itglue {}", instance.name),
            mspbridge_server::itglue::test_instance(instance)
                .await
                .map_err(anyhow::Error::from),
        ));
    }
    outcomes
}

/// The store opens (applying migrations, as `serve` does), answers, and takes a write. Whatever
/// backend the URL names is checked through the same store port `serve` uses.
async fn check_database(database: &DatabaseUrl) -> Result<String> {
    let store = mspbridge_store::open_store(database.expose()).await?;
    let checked = async {
        store.ping().await?;
        let version = store.schema_version().await?;
        store
            .put_kv(
                "check.last_write",
                serde_json::json!({ "at": chrono::Utc::now() }),
            )
            .await?;
        Ok::<_, mspbridge_store::StoreError>(format!(
            "opened, migrated (schema version {version}), writable"
        ))
    }
    .await;
    store.close().await;
    Ok(checked?)
}

/// One Netwrix Auditor source: credentials and certificate with the smallest read, then one
/// search, the call every alert's enrichment makes.
async fn check_auditor_source(config: &Config, source: &SourceConfig) -> Result<String> {
    let timeout = config.rules.activity_record_web_requests.timeout;
    let client = mspbridge_server::service::auditor_client(source, timeout)?;
    client.probe().await?;
    client
        .search_page(&FilterList::rid("mspbridge-check"), None)
        .await?;
    let url = source
        .url
        .as_ref()
        .map(|url| url.to_string())
        .unwrap_or_default();
    let tls = if source.tls_certificate_sha256.is_some() {
        ", pinned certificate matched"
    } else if url.starts_with("https:") {
        ", certificate verified"
    } else {
        ""
    };
    Ok(format!(
        "{url} accepted user {}{tls}; search answered",
        source.username.as_deref().unwrap_or_default()
    ))
}

async fn check_connectwise(config: &Config, connectwise: &ConnectWiseConfig) -> Vec<Outcome> {
    let settings = wiring::connectwise_settings(connectwise);
    let connection = wiring::test_connectwise(&settings).await;
    let failed = connection.is_err();
    let mut outcomes = vec![Outcome::from_result("connectwise", connection)];
    if failed {
        // Every routing check would fail the same way; the connection line says why.
        return outcomes;
    }
    let client = match wiring::connectwise_client(connectwise) {
        Ok(client) => client,
        Err(err) => {
            outcomes.push(Outcome::from_result("connectwise", Err(err)));
            return outcomes;
        }
    };
    let mut lookups = Lookups::new(&client);
    let defaults = config.effective_ticket_settings(None);
    outcomes.push(
        check_routing(
            &mut lookups,
            &defaults,
            &Origin::Defaults,
            config.clients.is_empty(),
        )
        .await
        .into_outcome("connectwise.ticket"),
    );
    for (index, client_config) in config.clients.iter().enumerate() {
        let settings = config.effective_ticket_settings(Some(&client_config.name));
        let origin = Origin::Overrides {
            section: format!("clients[{index}].connectwise"),
            inheritor: format!("clients[{index}]"),
            overrides: Box::new(client_config.connectwise.clone()),
        };
        outcomes.push(
            check_routing(&mut lookups, &settings, &origin, true)
                .await
                .into_outcome(format!("client {}", client_config.name)),
        );
    }
    // Routes and severity maps that set ticket ids: the ids must exist too.
    for (index, route) in config.routes.iter().enumerate() {
        let overrides_ids = route.ticket != ClientTicketOverrides::default();
        if overrides_ids {
            let origin = Origin::Overrides {
                section: format!("routes[{index}].ticket"),
                inheritor: format!("routes[{index}]"),
                overrides: Box::new(route.ticket.clone()),
            };
            let settings = config.ticket_settings_with(route.client.as_deref(), &route.ticket);
            outcomes.push(
                check_routing(&mut lookups, &settings, &origin, true)
                    .await
                    .into_outcome(format!("route {}", route.name)),
            );
        }
        if let Some(map) = &route.severity_map {
            outcomes.extend(
                check_severity_map(
                    &mut lookups,
                    config,
                    route.client.as_deref(),
                    &route.ticket,
                    map,
                    &format!("routes[{index}]"),
                )
                .await,
            );
        }
    }
    for (index, source) in config.sources.iter().enumerate() {
        if let Some(map) = &source.severity_map {
            outcomes.extend(
                check_severity_map(
                    &mut lookups,
                    config,
                    source.client.as_deref(),
                    &ClientTicketOverrides::default(),
                    map,
                    &format!("sources[{index}]"),
                )
                .await,
            );
        }
    }
    outcomes
}

/// Checks the priority of every entry of a severity map that sets one.
async fn check_severity_map(
    lookups: &mut Lookups<'_>,
    config: &Config,
    client_name: Option<&str>,
    base: &ClientTicketOverrides,
    map: &SeverityMap,
    prefix: &str,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for (value, level) in &map.levels {
        if level.priority_id.is_none() {
            continue;
        }
        let mut overrides = base.clone();
        overrides.priority_id = level.priority_id;
        let section = format!("{prefix}.severity_map.{value}");
        let origin = Origin::Overrides {
            section: section.clone(),
            inheritor: section.clone(),
            overrides: Box::new(overrides.clone()),
        };
        let settings = config.ticket_settings_with(client_name, &overrides);
        outcomes.push(
            check_routing(lookups, &settings, &origin, true)
                .await
                .into_outcome(section),
        );
    }
    outcomes
}

/// Where the routing being checked comes from, so each problem names the key to change: an override
/// (a client's, a route's, a severity map entry's), or the `[connectwise.ticket]` default it inherits.
enum Origin {
    Defaults,
    Overrides {
        /// Where the overrides are written, e.g. `clients[1].connectwise`.
        section: String,
        /// Who inherits a default it does not override, e.g. `clients[1]`.
        inheritor: String,
        overrides: Box<ClientTicketOverrides>,
    },
}

impl Origin {
    /// `connectwise.ticket.team_id = 25`, `clients[1].connectwise.team_id = 7`, or
    /// `connectwise.ticket.team_id = 25, inherited by clients[0]`.
    fn key(&self, field: &str, value: impl std::fmt::Display) -> String {
        match self {
            Origin::Defaults => format!("connectwise.ticket.{field} = {value}"),
            Origin::Overrides {
                section,
                inheritor,
                overrides,
            } => {
                if Self::overridden(overrides, field) {
                    format!("{section}.{field} = {value}")
                } else {
                    format!("connectwise.ticket.{field} = {value}, inherited by {inheritor}")
                }
            }
        }
    }

    /// A key only `[connectwise.ticket]` has (no override exists).
    fn shared_key(&self, field: &str) -> String {
        match self {
            Origin::Defaults => format!("connectwise.ticket.{field}"),
            Origin::Overrides { inheritor, .. } => {
                format!("connectwise.ticket.{field}, inherited by {inheritor}")
            }
        }
    }

    fn overridden(overrides: &ClientTicketOverrides, field: &str) -> bool {
        match field {
            "company_id" => overrides.company_id.is_some(),
            "board_id" => overrides.board_id.is_some(),
            "team_id" => overrides.team_id.is_some(),
            "priority_id" => overrides.priority_id.is_some(),
            "status_id" => overrides.status_id.is_some(),
            _ => false,
        }
    }

    fn section(&self) -> String {
        match self {
            Origin::Defaults => "connectwise.ticket".to_string(),
            Origin::Overrides { section, .. } => section.clone(),
        }
    }
}

/// What one routing check found.
enum Routing {
    Passed(String),
    Problems(Vec<String>),
}

impl Routing {
    fn into_outcome(self, check: impl Into<String>) -> Outcome {
        match self {
            Routing::Passed(detail) => Outcome::passed(check, detail),
            Routing::Problems(problems) => Outcome::failed(check, problems),
        }
    }
}

/// The live ConnectWise lists, each read once however many clients are checked.
struct Lookups<'a> {
    client: &'a ConnectWiseClient,
    companies: Option<Vec<Company>>,
    boards: Option<Vec<Board>>,
    priorities: Option<Vec<Priority>>,
    teams: HashMap<i32, Vec<BoardTeam>>,
    statuses: HashMap<i32, Vec<BoardStatus>>,
}

impl<'a> Lookups<'a> {
    fn new(client: &'a ConnectWiseClient) -> Self {
        Lookups {
            client,
            companies: None,
            boards: None,
            priorities: None,
            teams: HashMap::new(),
            statuses: HashMap::new(),
        }
    }

    async fn companies(&mut self) -> Result<&[Company], CwError> {
        if self.companies.is_none() {
            self.companies = Some(self.client.list_companies(None).await?);
        }
        Ok(self.companies.as_deref().unwrap_or_default())
    }

    async fn boards(&mut self) -> Result<&[Board], CwError> {
        if self.boards.is_none() {
            self.boards = Some(self.client.list_boards().await?);
        }
        Ok(self.boards.as_deref().unwrap_or_default())
    }

    async fn priorities(&mut self) -> Result<&[Priority], CwError> {
        if self.priorities.is_none() {
            self.priorities = Some(self.client.list_priorities().await?);
        }
        Ok(self.priorities.as_deref().unwrap_or_default())
    }

    async fn teams(&mut self, board_id: i32) -> Result<&[BoardTeam], CwError> {
        if !self.teams.contains_key(&board_id) {
            let teams = self.client.board_teams(board_id.into()).await?;
            self.teams.insert(board_id, teams);
        }
        Ok(self
            .teams
            .get(&board_id)
            .map(Vec::as_slice)
            .unwrap_or_default())
    }

    async fn statuses(&mut self, board_id: i32) -> Result<&[BoardStatus], CwError> {
        if !self.statuses.contains_key(&board_id) {
            let statuses = self.client.board_statuses(board_id.into()).await?;
            self.statuses.insert(board_id, statuses);
        }
        Ok(self
            .statuses
            .get(&board_id)
            .map(Vec::as_slice)
            .unwrap_or_default())
    }
}

/// Checks that the ids one client's tickets would carry exist on the live instance, and reports
/// every one that does not (not only the first), each naming the key it was set by.
async fn check_routing(
    lookups: &mut Lookups<'_>,
    settings: &TicketSettings,
    origin: &Origin,
    routing_required: bool,
) -> Routing {
    let (Some(company_id), Some(board_id)) = (settings.company_id, settings.board_id) else {
        if routing_required {
            return Routing::Problems(vec![format!(
                "{}: company_id and board_id must be set (here or in [connectwise.ticket])",
                origin.section()
            )]);
        }
        return Routing::Passed("no default routing (every client sets its own)".to_string());
    };
    let mut problems = Vec::new();
    let lookup_failed = |what: &str, err: CwError| format!("listing {what}: {err}");

    let company_name = match lookups.companies().await {
        Ok(companies) => match companies.iter().find(|c| c.id == i64::from(company_id)) {
            Some(company) => company
                .name
                .clone()
                .unwrap_or_else(|| company_id.to_string()),
            None => {
                problems.push(format!(
                    "{}: ConnectWise has no company with this id",
                    origin.key("company_id", company_id)
                ));
                company_id.to_string()
            }
        },
        Err(err) => {
            problems.push(lookup_failed("companies", err));
            company_id.to_string()
        }
    };
    let board_name = match lookups.boards().await {
        Ok(boards) => match boards.iter().find(|b| b.id == i64::from(board_id)) {
            Some(board) => Some(board.name.clone().unwrap_or_default()),
            None => {
                problems.push(format!(
                    "{}: ConnectWise has no service board with this id ({})",
                    origin.key("board_id", board_id),
                    names(boards.iter().map(|b| (b.id, b.name.clone())))
                ));
                None
            }
        },
        Err(err) => {
            problems.push(lookup_failed("service boards", err));
            None
        }
    };
    if let Some(priority_id) = settings.priority_id {
        match lookups.priorities().await {
            Ok(priorities) => {
                if !priorities.iter().any(|p| p.id == i64::from(priority_id)) {
                    problems.push(format!(
                        "{}: ConnectWise has no priority with this id ({})",
                        origin.key("priority_id", priority_id),
                        names(priorities.iter().map(|p| (p.id, p.name.clone())))
                    ));
                }
            }
            Err(err) => problems.push(lookup_failed("priorities", err)),
        }
    }
    // Teams and statuses belong to a board: without a known board there is nothing to look in.
    let Some(board_name) = board_name else {
        return Routing::Problems(problems);
    };
    if let Some(team_id) = settings.team_id {
        match lookups.teams(board_id).await {
            Ok(teams) => {
                if !teams.iter().any(|t| t.id == i64::from(team_id)) {
                    problems.push(format!(
                        "{}: not a team of board {board_name:?} ({})",
                        origin.key("team_id", team_id),
                        names(teams.iter().map(|t| (t.id, t.name.clone())))
                    ));
                }
            }
            Err(err) => problems.push(lookup_failed("the board's teams", err)),
        }
    }
    match lookups.statuses(board_id).await {
        Ok(statuses) => {
            problems.extend(status_problems(settings, statuses, origin, &board_name));
        }
        Err(err) => problems.push(lookup_failed("the board's statuses", err)),
    }
    if problems.is_empty() {
        Routing::Passed(format!("company {company_name:?}, board {board_name:?}"))
    } else {
        Routing::Problems(problems)
    }
}

fn status_problems(
    settings: &TicketSettings,
    statuses: &[BoardStatus],
    origin: &Origin,
    board_name: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
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
            problems.push(format!(
                "{}: not a status of board {board_name:?} ({})",
                origin.key("status_id", status_id),
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
        problems.push(format!(
            "{}: {} not a status of board {board_name:?} (status ids are board-specific; {})",
            origin.shared_key("reopen_closed_statuses"),
            unknown.into_iter().collect::<Vec<_>>().join(", "),
            available()
        ));
    }
    if let Some(new_status) = &settings.reopen_new_status {
        if !status_known(new_status) {
            problems.push(format!(
                "{}: {} is not a status of board {board_name:?} ({})",
                origin.shared_key("reopen_new_status"),
                status_label(new_status),
                available()
            ));
        }
    }
    problems
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

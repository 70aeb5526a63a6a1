//! `mspbridge itglue import|automap|map|unmap|mappings`: the IT Glue mapping screen on the command
//! line (DESIGN §2.1, §4.1–4.5).
//!
//! Import and auto-map talk to IT Glue; map, unmap and mappings only touch the store, so an
//! operator can fix a mapping by hand while IT Glue is unreachable. Manual mappings are checked
//! against the imported directory, so a typo in an id is refused instead of silently stored.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use mspbridge_connectors::itglue::PageRead;
use mspbridge_core::config::{self, Config, ItGlueConfig};
use mspbridge_server::itglue::{
    automap_and_raise, client_for, import_instance, selected_instances, system_mapping_refusal,
    AutomapSummary, ImportProgress, ImportRequest, OrganizationFilter,
};
use mspbridge_store::inventory::{Mapping, MappingKind, MappingSubject};
use mspbridge_store::Store;

#[derive(Debug, Subcommand)]
pub enum ItGlueCommand {
    /// Import organizations, important contacts and configurations (all, or some organizations).
    Import(ImportArgs),
    /// Import, then auto-map clients by e-mail domain and systems by MAC address now.
    Automap(AutomapArgs),
    /// Map a client to an organization, or a system to a configuration, by hand.
    Map(MapArgs),
    /// Remove the mapping (manual or automatic) of a client or a system.
    Unmap(UnmapArgs),
    /// List mappings, marked manual or auto.
    Mappings(MappingsArgs),
}

#[derive(Debug, Args)]
pub struct InstanceArg {
    /// The `[[itglue]]` instance (default: all, or the only one).
    #[arg(long, value_name = "NAME")]
    instance: Option<String>,
}

#[derive(Debug, Args)]
pub struct MappingsArgs {
    #[command(flatten)]
    instance: InstanceArg,
    /// Print JSON instead of tab-separated lines.
    #[arg(long)]
    json: bool,
}

/// One mapping as `itglue mappings` shows it.
#[derive(Debug, serde::Serialize)]
struct MappingRow {
    instance: String,
    /// `client` or `system`.
    subject: &'static str,
    client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    /// `organization` or `configuration`.
    target: &'static str,
    target_id: i64,
    target_name: Option<String>,
    /// `manual` or `auto`.
    kind: &'static str,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    instance: InstanceArg,
    /// Only this organization (exact name or id); repeat for several.
    #[arg(long = "organization", value_name = "NAME_OR_ID")]
    organizations: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AutomapArgs {
    #[command(flatten)]
    instance: InstanceArg,
    /// Map on what was imported last instead of importing first.
    #[arg(long)]
    no_import: bool,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    #[command(flatten)]
    instance: InstanceArg,
    /// The client to map, or the client of `--system`.
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// The IT Glue organization id for `--client`.
    #[arg(long, value_name = "ID", conflicts_with = "configuration")]
    organization: Option<i64>,
    /// The system to map.
    #[arg(long, value_name = "NAME", requires = "configuration")]
    system: Option<String>,
    /// The IT Glue configuration id for `--system`.
    #[arg(long, value_name = "ID", requires = "system")]
    configuration: Option<i64>,
}

#[derive(Debug, Args)]
pub struct UnmapArgs {
    #[command(flatten)]
    instance: InstanceArg,
    /// The client whose mapping goes, or the client of `--system`.
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// The system whose mapping goes.
    #[arg(long, value_name = "NAME")]
    system: Option<String>,
}

pub async fn run(config_path: &Path, command: ItGlueCommand) -> Result<ExitCode> {
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let store = open(&config).await?;
    let outcome = match command {
        ItGlueCommand::Import(args) => import(&config, store.as_ref(), args).await,
        ItGlueCommand::Automap(args) => automap(&config, &store, args).await,
        ItGlueCommand::Map(args) => map(&config, store.as_ref(), args).await,
        ItGlueCommand::Unmap(args) => unmap(&config, store.as_ref(), args).await,
        ItGlueCommand::Mappings(args) => mappings(&config, store.as_ref(), args).await,
    };
    store.close().await;
    outcome
}

pub(crate) async fn open(config: &Config) -> Result<Arc<dyn Store>> {
    let database = &config.server.database;
    mspbridge_store::open_store(database.expose())
        .await
        .with_context(|| format!("opening the database {database}"))
}

/// A bar per collection on a terminal, with the pages and records read so far (a spinner until
/// IT Glue has said how many pages there are); one plain line per step otherwise, so a redirected
/// log stays readable.
struct CliProgress {
    bar: Mutex<Option<ProgressBar>>,
    terminal: bool,
}

impl CliProgress {
    fn new() -> CliProgress {
        CliProgress {
            bar: Mutex::new(None),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ImportProgress for CliProgress {
    fn started(&self, instance: &str, collection: &str) {
        if self.terminal {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
                bar.set_style(style);
            }
            bar.set_message(format!("{instance}: reading {collection}"));
            bar.enable_steady_tick(Duration::from_millis(120));
            *self.bar() = Some(bar);
        } else {
            eprintln!("{instance}: reading {collection}…");
        }
    }

    fn page(&self, instance: &str, collection: &str, page: PageRead) {
        let records = match page.total_records {
            Some(total) => format!("{}/{total} records", page.records),
            None => format!("{} records", page.records),
        };
        let guard = self.bar();
        let Some(bar) = guard.as_ref() else {
            eprintln!(
                "{instance}: {collection}: page {}{}, {records}",
                page.pages,
                page.total_pages
                    .map(|total| format!("/{total}"))
                    .unwrap_or_default()
            );
            return;
        };
        if let Some(total) = page.total_pages {
            if bar.length() != Some(total) {
                bar.set_length(total);
                if let Ok(style) =
                    ProgressStyle::with_template("{msg} [{bar:30}] page {pos}/{len} ({elapsed})")
                {
                    bar.set_style(style.progress_chars("=> "));
                }
            }
        }
        bar.set_position(page.pages);
        bar.set_message(format!("{instance}: {collection}, {records}"));
    }

    fn finished(&self, instance: &str, collection: &str, count: usize) {
        let line = format!("{instance}: {count} {collection} read");
        match self.bar().take() {
            Some(bar) => bar.finish_with_message(line),
            None => eprintln!("{line}"),
        }
    }
}

async fn import(config: &Config, store: &dyn Store, args: ImportArgs) -> Result<ExitCode> {
    let request = ImportRequest {
        organizations: args
            .organizations
            .iter()
            .map(|text| OrganizationFilter::parse(text))
            .collect(),
    };
    for instance in selected_instances(config, args.instance.instance.as_deref())? {
        let client = client_for(instance)?;
        let summary = import_instance(
            store,
            &client,
            &instance.name,
            &request,
            &CliProgress::new(),
            Utc::now(),
        )
        .await?;
        eprintln!(
            "{}: imported {} organization(s), {} important contact(s), {} configuration(s)",
            summary.instance, summary.organizations, summary.contacts, summary.configurations
        );
        println!(
            "{}\t{}\t{}\t{}",
            summary.instance, summary.organizations, summary.contacts, summary.configurations
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_automap(summary: &AutomapSummary) {
    use mspbridge_core::itglue_map::{ClientOutcome, SystemOutcome};
    for (client, outcome) in &summary.result.clients {
        let line = match outcome {
            ClientOutcome::Mapped { organization_id } => {
                format!("mapped\tauto\torganization {organization_id}")
            }
            ClientOutcome::Manual { organization_id } => {
                format!("mapped\tmanual\torganization {organization_id}")
            }
            ClientOutcome::Failed(failure) => format!("failed\t4018\t{failure}"),
        };
        println!("{}\tclient\t{client}\t{line}", summary.instance);
    }
    for ((client, system), outcome) in &summary.result.systems {
        let line = match outcome {
            SystemOutcome::Mapped { configuration_id } => {
                format!("mapped\tauto\tconfiguration {configuration_id}")
            }
            SystemOutcome::Manual { configuration_id } => {
                format!("mapped\tmanual\tconfiguration {configuration_id}")
            }
            SystemOutcome::ClientNotMapped => {
                "skipped\t-\tthe client is not mapped to an organization".to_string()
            }
            SystemOutcome::Failed(failure) => format!("failed\t4019\t{failure}"),
        };
        println!("{}\tsystem\t{client}/{system}\t{line}", summary.instance);
    }
    eprintln!(
        "{}: clients {} mapped, {} manual, {} failed; systems {} mapped, {} manual, {} failed, {} without organization",
        summary.instance,
        summary.clients_mapped,
        summary.clients_manual,
        summary.clients_failed,
        summary.systems_mapped,
        summary.systems_manual,
        summary.systems_failed,
        summary.systems_without_organization
    );
}

async fn automap(config: &Config, store: &Arc<dyn Store>, args: AutomapArgs) -> Result<ExitCode> {
    for instance in selected_instances(config, args.instance.instance.as_deref())? {
        let now = Utc::now();
        if !args.no_import {
            let client = client_for(instance)?;
            import_instance(
                store.as_ref(),
                &client,
                &instance.name,
                &ImportRequest::default(),
                &CliProgress::new(),
                now,
            )
            .await?;
        }
        let summary = automap_and_raise(store, config, instance, now).await?;
        print_automap(&summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// The instance a mapping command acts on: the named one, else the one the client is enabled
/// for, else the only one.
fn instance_for<'a>(
    config: &'a Config,
    named: Option<&str>,
    client: &str,
) -> Result<&'a ItGlueConfig> {
    if let Some(name) = named {
        let instance = selected_instances(config, Some(name))?[0];
        if !instance.clients.iter().any(|c| c == client) {
            bail!(
                "client {client:?} is not enabled for IT Glue instance {:?} (its clients: {})",
                instance.name,
                instance.clients.join(", ")
            );
        }
        return Ok(instance);
    }
    config.itglue_for_client(client).ok_or_else(|| {
        if config.itglue.is_empty() {
            anyhow!("no IT Glue instance is configured; add an [[itglue]] section")
        } else {
            anyhow!("client {client:?} is not enabled for any IT Glue instance; add it to an [[itglue]] section's clients")
        }
    })
}

fn require_client(config: &Config, client: Option<&str>) -> Result<String> {
    let client = client.ok_or_else(|| anyhow!("name the client with --client"))?;
    if !config.clients.iter().any(|c| c.name == client) {
        bail!(
            "client {client:?} is not configured (configured: {})",
            config
                .clients
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(client.to_string())
}

async fn map(config: &Config, store: &dyn Store, args: MapArgs) -> Result<ExitCode> {
    let client = require_client(config, args.client.as_deref())?;
    let instance = instance_for(config, args.instance.instance.as_deref(), &client)?;
    let directory = store.itglue_directory(&instance.name).await?;
    let (subject, target_id, what) = match (&args.system, args.configuration, args.organization) {
        (Some(system), Some(configuration), None) => {
            let systems = store.list_systems(Some(&client)).await?;
            if !systems.iter().any(|s| &s.name == system) {
                bail!("client {client:?} has no system {system:?}; register it with `mspbridge systems add`");
            }
            let found = directory
                .configurations
                .iter()
                .find(|c| c.id == configuration)
                .ok_or_else(|| {
                    anyhow!(
                        "configuration {configuration} is not in the imported directory of IT Glue instance {:?}; run `mspbridge itglue import` first",
                        instance.name
                    )
                })?;
            let mappings = store.list_mappings(Some(&instance.name)).await?;
            if let Some(reason) = system_mapping_refusal(&mappings, &client, found) {
                bail!("--configuration {configuration}: {reason}");
            }
            (
                MappingSubject::System {
                    client: client.clone(),
                    system: system.clone(),
                },
                configuration,
                format!(
                    "system {client}/{system} → configuration {} ({configuration})",
                    found.name
                ),
            )
        }
        (None, None, Some(organization)) => {
            let found = directory
                .organizations
                .iter()
                .find(|o| o.id == organization)
                .ok_or_else(|| {
                    anyhow!(
                        "organization {organization} is not in the imported directory of IT Glue instance {:?}; run `mspbridge itglue import` first",
                        instance.name
                    )
                })?;
            (
                MappingSubject::Client {
                    client: client.clone(),
                },
                organization,
                format!(
                    "client {client} → organization {} ({organization})",
                    found.name
                ),
            )
        }
        _ => bail!(
            "give either --client C --organization ID, or --client C --system S --configuration ID"
        ),
    };
    store
        .set_mapping(Mapping {
            instance: instance.name.clone(),
            subject,
            target_id,
            kind: MappingKind::Manual,
            updated_at: Utc::now(),
        })
        .await?;
    eprintln!("{}: mapped {what} (manual)", instance.name);
    Ok(ExitCode::SUCCESS)
}

async fn unmap(config: &Config, store: &dyn Store, args: UnmapArgs) -> Result<ExitCode> {
    let client = require_client(config, args.client.as_deref())?;
    let instance = instance_for(config, args.instance.instance.as_deref(), &client)?;
    let subject = match &args.system {
        Some(system) => MappingSubject::System {
            client: client.clone(),
            system: system.clone(),
        },
        None => MappingSubject::Client {
            client: client.clone(),
        },
    };
    let described = match &args.system {
        Some(system) => format!("system {client}/{system}"),
        None => format!("client {client}"),
    };
    if store.remove_mapping(&instance.name, &subject).await? {
        eprintln!("{}: removed the mapping of {described}", instance.name);
        Ok(ExitCode::SUCCESS)
    } else {
        bail!(
            "{described} has no mapping in IT Glue instance {:?}",
            instance.name
        )
    }
}

async fn mappings(config: &Config, store: &dyn Store, args: MappingsArgs) -> Result<ExitCode> {
    let mut rows = Vec::new();
    for instance in selected_instances(config, args.instance.instance.as_deref())? {
        let directory = store.itglue_directory(&instance.name).await?;
        for mapping in store.list_mappings(Some(&instance.name)).await? {
            let kind = match mapping.kind {
                MappingKind::Manual => "manual",
                MappingKind::Auto => "auto",
            };
            let row = match &mapping.subject {
                MappingSubject::Client { client } => MappingRow {
                    instance: instance.name.clone(),
                    subject: "client",
                    client: client.clone(),
                    system: None,
                    target: "organization",
                    target_id: mapping.target_id,
                    target_name: directory
                        .organizations
                        .iter()
                        .find(|o| o.id == mapping.target_id)
                        .map(|o| o.name.clone()),
                    kind,
                },
                MappingSubject::System { client, system } => MappingRow {
                    instance: instance.name.clone(),
                    subject: "system",
                    client: client.clone(),
                    system: Some(system.clone()),
                    target: "configuration",
                    target_id: mapping.target_id,
                    target_name: directory
                        .configurations
                        .iter()
                        .find(|c| c.id == mapping.target_id)
                        .map(|c| c.name.clone()),
                    kind,
                },
            };
            rows.push(row);
        }
    }
    if args.json {
        super::tickets::print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    for row in &rows {
        let subject = match &row.system {
            Some(system) => format!("{}/{system}", row.client),
            None => row.client.clone(),
        };
        println!(
            "{}\t{}\t{subject}\t{}\t{}\t{}\t{}",
            row.instance,
            row.subject,
            row.target,
            row.target_id,
            row.target_name.as_deref().unwrap_or("?"),
            row.kind
        );
    }
    eprintln!("{} mapping(s)", rows.len());
    Ok(ExitCode::SUCCESS)
}

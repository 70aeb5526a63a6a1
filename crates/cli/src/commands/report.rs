//! `mspbridge report generate|publish|list|download`: security reports from the command line.
//!
//! Reports are kept in the store, so these commands work with or without a running service.
//! Publishing queues the same durable `publish_report` job the service runs and then works the due
//! publish jobs in this process (leases keep a running service from doing the same job twice), so
//! an operator sees the outcome at once; `--queue-only` leaves the work to the service.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use mspbridge_core::clock::{Clock, SystemClock};
use mspbridge_core::config::{self, Config};
use mspbridge_server::jobs::JobPolicy;
use mspbridge_server::reports::{
    self, GenerateRequest, ItGlueClients, PublishDeps, PublishRequest, ReportPeriod,
    DEFAULT_EXPIRES_AFTER, DEFAULT_REPORT_NAME,
};
use mspbridge_store::{
    JobFilter, JobState, PublishState, ReportFilter, ReportId, ReportMeta, Store,
    PUBLISH_REPORT_JOB,
};

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Generate a client's security summary now and print its id.
    Generate(GenerateArgs),
    /// Publish a stored report (--id) or an external HTML file to IT Glue.
    Publish(PublishArgs),
    /// List reports and their IT Glue publish state.
    List(ListArgs),
    /// Write a report's HTML to a file or stdout.
    Download(DownloadArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Client the report is about.
    #[arg(long)]
    client: String,
    /// Report name.
    #[arg(long, default_value = DEFAULT_REPORT_NAME)]
    name: String,
    /// Days covered, ending now.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=366))]
    days: u32,
    /// Also publish it to IT Glue.
    #[arg(long)]
    publish: bool,
    /// With --publish: queue the publish job for the service instead of running it here.
    #[arg(long, requires = "publish")]
    queue_only: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// An external HTML report to store and publish (needs --client).
    #[arg(
        value_name = "FILE",
        conflicts_with = "id",
        required_unless_present = "id"
    )]
    file: Option<PathBuf>,
    /// Publish (again) the stored report with this id.
    #[arg(long)]
    id: Option<ReportId>,
    /// Client of the external report.
    #[arg(long, requires = "file")]
    client: Option<String>,
    /// Name of the external report (default: the file name).
    #[arg(long, requires = "file")]
    name: Option<String>,
    /// Queue the publish job for the service instead of running it here.
    #[arg(long)]
    queue_only: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this client's reports.
    #[arg(long)]
    client: Option<String>,
    /// At most this many, newest first (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = super::tickets::limit_range())]
    limit: u32,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Report id.
    id: ReportId,
    /// File to write (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub async fn run(config_path: &Path, command: ReportCommand) -> Result<ExitCode> {
    let config = Arc::new(config::load(config_path).map_err(|err| anyhow!("{err}"))?);
    let database = &config.server.database;
    let store = mspbridge_store::open_store(database.expose())
        .await
        .with_context(|| format!("opening the database {database}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let outcome = match command {
        ReportCommand::Generate(args) => generate(&store, &config, &clock, args).await,
        ReportCommand::Publish(args) => publish(&store, &config, &clock, args).await,
        ReportCommand::List(args) => list(store.as_ref(), args).await,
        ReportCommand::Download(args) => download(store.as_ref(), args).await,
    };
    store.close().await;
    outcome
}

async fn generate(
    store: &Arc<dyn Store>,
    config: &Arc<Config>,
    clock: &Arc<dyn Clock>,
    args: GenerateArgs,
) -> Result<ExitCode> {
    let now = clock.now();
    let expires_after = config
        .reports
        .iter()
        .find(|entry| entry.name == args.name)
        .map_or(DEFAULT_EXPIRES_AFTER, |entry| entry.expires_after);
    let request = GenerateRequest {
        client: args.client.clone(),
        name: args.name.clone(),
        period: ReportPeriod::days_before(now, args.days),
        expires_after: Some(expires_after),
    };
    let report = reports::generate_report(store.as_ref(), config, &request, now)
        .await
        .context("generating the report")?;
    eprintln!(
        "report {} generated for {} ({} days, {} bytes)",
        report.id, report.client, args.days, report.html_bytes
    );
    println!("{}", report.id);
    if !args.publish {
        return Ok(ExitCode::SUCCESS);
    }
    publish_stored(store, config, clock, report.id, args.queue_only).await
}

async fn publish(
    store: &Arc<dyn Store>,
    config: &Arc<Config>,
    clock: &Arc<dyn Clock>,
    args: PublishArgs,
) -> Result<ExitCode> {
    let id = match (&args.file, args.id) {
        (_, Some(id)) => id,
        (Some(file), None) => {
            let Some(client) = args.client.as_deref() else {
                bail!("publishing an external file needs --client NAME");
            };
            let bytes = std::fs::read(file)
                .with_context(|| format!("reading the report file {}", file.display()))?;
            let name = match &args.name {
                Some(name) => name.clone(),
                None => file
                    .file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_else(|| DEFAULT_REPORT_NAME.to_string()),
            };
            let report = reports::store_external_report(
                store.as_ref(),
                config,
                client,
                &name,
                &bytes,
                Some(DEFAULT_EXPIRES_AFTER),
                clock.now(),
            )
            .await
            .with_context(|| format!("storing {}", file.display()))?;
            eprintln!("external report {} stored for {client}", report.id);
            println!("{}", report.id);
            report.id
        }
        (None, None) => bail!("give a report FILE or --id ID"),
    };
    publish_stored(store, config, clock, id, args.queue_only).await
}

async fn publish_stored(
    store: &Arc<dyn Store>,
    config: &Arc<Config>,
    clock: &Arc<dyn Clock>,
    id: ReportId,
    queue_only: bool,
) -> Result<ExitCode> {
    match reports::request_publish(store, config, id, clock.now())
        .await
        .with_context(|| format!("publishing report {id}"))?
    {
        PublishRequest::Refused { reason } => bail!("publishing report {id} refused: {reason}"),
        PublishRequest::Queued { job_id } if queue_only => {
            eprintln!("report {id}: publish job {job_id} queued for the service");
            return Ok(ExitCode::SUCCESS);
        }
        PublishRequest::Queued { .. } => {}
    }
    let clients = ItGlueClients::from_config(config).context("setting up the IT Glue clients")?;
    let deps = PublishDeps {
        store: store.clone(),
        config: config.clone(),
        clients,
        clock: clock.clone(),
        worker_id: format!("cli-{}", std::process::id()),
        policy: JobPolicy::from_config(&config.jobs),
    };
    reports::run_due_publish_jobs(&deps)
        .await
        .context("running the publish job")?;
    let report = store
        .get_report(id)
        .await
        .context("reading the report back")?
        .ok_or_else(|| anyhow!("report {id} disappeared while it was published"))?;
    let meta = report.meta;
    match meta.publish_state {
        PublishState::Published => {
            eprintln!(
                "report {id} published to IT Glue as flexible asset {}",
                meta.itglue_asset_id
                    .map_or_else(|| "?".to_string(), |asset| asset.to_string())
            );
            Ok(ExitCode::SUCCESS)
        }
        PublishState::Pending => bail!("{}", still_pending(store.as_ref(), id, clock.now()).await?),
        state => bail!(
            "publishing report {id} {}: {}",
            if state == PublishState::Refused {
                "refused"
            } else {
                "failed"
            },
            meta.last_error.as_deref().unwrap_or("no reason recorded")
        ),
    }
}

async fn list(store: &dyn Store, args: ListArgs) -> Result<ExitCode> {
    let found = store
        .list_reports(ReportFilter {
            client: args.client.clone(),
            publish_state: None,
            limit: Some(args.limit),
        })
        .await
        .context("listing reports")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&found).context("encoding JSON")?;
        writeln!(
            out,
            "{}",
            mspbridge_core::text::escape_invisible_in_json(&json)
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{}", table(&found))?;
    if found.is_empty() {
        eprintln!("no reports");
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a report is still pending after this process ran every due publish job: its job waits for
/// a retry after a failed attempt (and when that is due), or another process is publishing it.
async fn still_pending(
    store: &dyn Store,
    id: ReportId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String> {
    let jobs = store
        .list_jobs(
            JobFilter {
                kind: Some(PUBLISH_REPORT_JOB.to_string()),
                serial_key: Some(format!("report/{id}")),
                ..JobFilter::default()
            },
            1000,
        )
        .await
        .context("reading the publish job")?;
    let live = jobs
        .iter()
        .find(|job| matches!(job.state, JobState::Queued | JobState::Running));
    Ok(match live {
        Some(job) if job.state == JobState::Queued && job.run_at > now => {
            let wait = (job.run_at - now).num_seconds().max(1);
            format!(
                "report {id} was not published: its last attempt failed ({}); the retry (job {}) is due at {} UTC, in {}s. `serve` retries it then, or run this command again after that time",
                job.last_error.as_deref().unwrap_or("no reason recorded"),
                job.id,
                job.run_at.format("%Y-%m-%d %H:%M:%S"),
                wait
            )
        }
        Some(job) if job.state == JobState::Running => format!(
            "report {id} is being published right now by {} (job {}, lease until {} UTC); see `mspbridge report list` for the outcome",
            job.lease_owner.as_deref().unwrap_or("another worker"),
            job.id,
            job.lease_expires_at
                .map_or_else(|| "?".to_string(), |at| at.format("%Y-%m-%d %H:%M:%S").to_string())
        ),
        _ => format!("report {id} is still pending; see `mspbridge report list` for the outcome"),
    })
}

/// The human table of `mspbridge report list`.
fn table(reports: &[ReportMeta]) -> String {
    let mut rows = vec![[
        "ID".to_string(),
        "CLIENT".to_string(),
        "NAME".to_string(),
        "PERIOD".to_string(),
        "GENERATED".to_string(),
        "SOURCE".to_string(),
        "STATE".to_string(),
        "ASSET".to_string(),
        "LAST ERROR".to_string(),
    ]];
    for report in reports {
        let last_day = report.period_end - chrono::Duration::microseconds(1);
        rows.push([
            report.id.to_string(),
            report.client.clone(),
            report.name.clone(),
            format!(
                "{}..{}",
                report.period_start.format("%Y-%m-%d"),
                last_day.max(report.period_start).format("%Y-%m-%d")
            ),
            report.generated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            report.source.to_string(),
            report.publish_state.to_string(),
            report
                .itglue_asset_id
                .map_or_else(|| "-".to_string(), |id| id.to_string()),
            report.last_error.clone().unwrap_or_else(|| "-".to_string()),
        ]);
    }
    let mut widths = [0usize; 9];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    rows.iter()
        .map(|row| {
            row.iter()
                .zip(widths.iter())
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn download(store: &dyn Store, args: DownloadArgs) -> Result<ExitCode> {
    let report = store
        .get_report(args.id)
        .await
        .context("reading the report")?
        .ok_or_else(|| anyhow!("report {} does not exist", args.id))?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, report.html.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("report {} written to {}", args.id, path.display());
        }
        None => std::io::stdout()
            .lock()
            .write_all(report.html.as_bytes())
            .context("writing the report to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

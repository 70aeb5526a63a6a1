//! `mspbridge queue`, `mspbridge queue retry ID` and `mspbridge queue retry --all [--kind K]`: the
//! durable job queue — queued, running and dead-lettered work with the last error — and putting
//! dead jobs back in the queue.
//!
//! A retry of one job goes through the running service when it answers, so its engine starts the
//! job at once; otherwise, and for `--all`, it is written to the store and a running engine picks
//! the jobs up at its next look at the queue (within a minute).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use mspbridge_server::api::views::{self, JobView};

use super::alert::{post_to_service, ServiceAnswer};
use super::tickets::{open, print_json, print_table, time};

#[derive(Debug, Args)]
pub struct QueueArgs {
    #[command(subcommand)]
    command: Option<QueueCommand>,
    /// At most this many jobs per state (default 100, 1 to 1000).
    #[arg(long, value_parser = super::tickets::limit_range())]
    limit: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum QueueCommand {
    /// Put a dead-lettered job (or, with --all, every one) back in the queue.
    Retry {
        /// The job id (see `mspbridge queue`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every dead-lettered job.
        #[arg(long)]
        all: bool,
        /// With --all: only jobs of this kind (e.g. ticket.note, alert.enrich, publish_report).
        #[arg(long, requires = "all")]
        kind: Option<String>,
    },
}

pub async fn run(config_path: &Path, args: QueueArgs) -> Result<ExitCode> {
    match args.command {
        None => list(config_path, args.limit, args.json).await,
        Some(QueueCommand::Retry { id: Some(id), .. }) => retry(config_path, id, args.json).await,
        Some(QueueCommand::Retry { id: None, kind, .. }) => {
            retry_all(config_path, kind.as_deref(), args.json).await
        }
    }
}

async fn list(config_path: &Path, limit: Option<u32>, json: bool) -> Result<ExitCode> {
    let (_, store) = open(config_path).await?;
    let queue = views::queue(&store, limit).await;
    store.close().await;
    let queue = queue.map_err(|err| anyhow!("{}", err.message))?;
    if json {
        print_json(&queue)?;
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{} queued, {} running, {} dead",
        queue.depth.queued, queue.depth.running, queue.depth.dead
    );
    if queue.jobs.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let rows = queue
        .jobs
        .iter()
        .map(|job| {
            vec![
                job.id.to_string(),
                job.state.clone(),
                job.kind.clone(),
                job.serial_key.clone().unwrap_or_else(|| "-".into()),
                job.attempts.to_string(),
                time(job.run_at),
                job.last_error.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "STATE",
            "KIND",
            "KEY",
            "ATTEMPTS",
            "RUN AT",
            "LAST ERROR",
        ],
        rows,
    );
    Ok(ExitCode::SUCCESS)
}

async fn retry_all(config_path: &Path, kind: Option<&str>, json: bool) -> Result<ExitCode> {
    let (_, store) = open(config_path).await?;
    let retried = views::retry_dead_jobs(&store, kind, chrono::Utc::now()).await;
    store.close().await;
    let retried = retried
        .map_err(|err| anyhow!("{}", err.message))
        .context("retrying dead jobs")?;
    if json {
        print_json(&retried)?;
    } else {
        eprintln!("{} dead job(s) queued again", retried.len());
    }
    Ok(ExitCode::SUCCESS)
}

async fn retry(config_path: &Path, id: i64, json: bool) -> Result<ExitCode> {
    let (config, store) = open(config_path).await?;
    let path = format!("/api/v1/queue/{id}/retry");
    let answer = post_to_service::<JobView>(&config, &path, &serde_json::json!({})).await;
    let job = match answer {
        Ok(ServiceAnswer::Done(job)) => Ok(job),
        Ok(ServiceAnswer::Unreachable(why)) => {
            tracing::debug!(reason = %why, "service not reachable; retrying in the store");
            views::retry_job(&store, id, chrono::Utc::now())
                .await
                .map_err(|err| anyhow!("{}", err.message))
        }
        Err(err) => Err(err),
    };
    store.close().await;
    let job = job.with_context(|| format!("retrying job {id}"))?;
    if json {
        print_json(&job)?;
    } else {
        eprintln!("job {} ({}) is queued again", job.id, job.kind);
    }
    Ok(ExitCode::SUCCESS)
}

//! `mspbridge queue` and `mspbridge queue retry ID`: the durable job queue — queued, running and
//! dead-lettered work with the last error — and putting a dead job back in the queue.
//!
//! A retry goes through the running service when it answers, so its engine starts the job at once;
//! otherwise it is written to the store and the engine picks it up when it next runs.

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
    /// Put a dead-lettered job back in the queue.
    Retry {
        /// The job id (see `mspbridge queue`).
        id: i64,
    },
}

pub async fn run(config_path: &Path, args: QueueArgs) -> Result<ExitCode> {
    match args.command {
        None => list(config_path, args.limit, args.json).await,
        Some(QueueCommand::Retry { id }) => retry(config_path, id, args.json).await,
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

//! `mspbridge reroute`: route every unrouted alert again under the configuration file, e.g. after
//! adding a client or a source default. Goes through the running service when it answers (its
//! engine takes the alerts that found a client at once); otherwise works on the store, and the
//! engine takes them when it next runs.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Args;
use mspbridge_server::engine::{reroute_unrouted_alerts, RerouteOutcome};

use super::alert::{post_to_service, ServiceAnswer};
use super::tickets::{open, print_json};

#[derive(Debug, Args)]
pub struct RerouteArgs {
    /// Print JSON instead of a sentence.
    #[arg(long)]
    json: bool,
}

pub async fn run(config_path: &Path, args: RerouteArgs) -> Result<ExitCode> {
    let (config, store) = open(config_path).await?;
    let answer = post_to_service::<RerouteOutcome>(
        &config,
        "/api/v1/alerts/reroute",
        &serde_json::json!({}),
    )
    .await;
    let outcome = match answer {
        Ok(ServiceAnswer::Done(outcome)) => Ok(outcome),
        Ok(ServiceAnswer::Unreachable(why)) => {
            tracing::debug!(reason = %why, "service not reachable; routing in the store");
            reroute_unrouted_alerts(store.as_ref(), &config, chrono::Utc::now())
                .await
                .map_err(|err| anyhow!("routing the unrouted alerts again: {err}"))
        }
        Err(err) => Err(err),
    };
    store.close().await;
    let outcome = outcome?;
    if args.json {
        print_json(&outcome)?;
    } else {
        eprintln!(
            "{} of {} unrouted alert(s) found a client and are queued again",
            outcome.routed, outcome.unrouted
        );
    }
    Ok(ExitCode::SUCCESS)
}

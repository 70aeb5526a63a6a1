//! `mspbridge serve`: the service — intake API, management API, probes, metrics and the engine —
//! until SIGINT or SIGTERM, then a graceful stop (in-flight requests finish, the engine stops after
//! its current step, the store is closed).
//!
//! The bound URL is printed on stdout as soon as the listener is up (useful with `--listen
//! 127.0.0.1:0`, which picks a free port).

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use mspbridge_core::config;
use mspbridge_server::service::{Service, ServiceOptions};
use mspbridge_server::signal::ShutdownSignal;

use crate::wiring;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen on this address instead of `server.listen` (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

pub async fn run(config_path: &Path, args: ServeArgs) -> Result<ExitCode> {
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    for problem in closed_intake(&config) {
        tracing::warn!("intake is closed: {problem}");
    }
    // Listening starts before the URL is printed: whoever reads it may send SIGTERM at once.
    let signal = ShutdownSignal::listen().context("listening for shutdown signals")?;
    let mut options = ServiceOptions::new(wiring::host_name());
    options.listen = args.listen;
    let service = Service::start(config, options)
        .await
        .context("starting the service")?;
    println!("{}", service.base_url());
    std::io::stdout().flush().ok();
    tracing::info!(
        url = %service.base_url(),
        "mspbridge is serving (API under /api/v1, OpenAPI at /api/v1/openapi.json); Ctrl-C stops it"
    );
    service
        .run_until_signal(signal)
        .await
        .context("stopping the service")?;
    tracing::info!("mspbridge stopped");
    Ok(ExitCode::SUCCESS)
}

/// Why no alert can come in, if none can: the HTTP intake needs a bearer token, and alerts need a
/// source to be accepted from.
fn closed_intake(config: &config::Config) -> Vec<&'static str> {
    let mut problems = Vec::new();
    if config.server.api_tokens.is_empty() {
        problems.push(
            "server.api_tokens is empty, so every intake and API request is refused (401); add a token",
        );
    }
    if config.sources.is_empty() {
        problems.push(
            "no [[sources]] is configured, so no alert is accepted; add a webhook, alertmanager or netwrix-auditor source",
        );
    }
    problems
}

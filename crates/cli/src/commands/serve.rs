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
    // Listening starts before the URL is printed: whoever reads it may send SIGTERM at once.
    let signal = ShutdownSignal::listen().context("listening for shutdown signals")?;
    let mut options = ServiceOptions::new(wiring::host_name());
    options.listen = args.listen;
    let service = Service::start(config, options)
        .await
        .context("starting the service")?;
    println!("{}", service.base_url());
    std::io::stdout().flush().ok();
    eprintln!(
        "mspbridge is serving at {} (API under /api/v1, OpenAPI at /api/v1/openapi.json); Ctrl-C stops it",
        service.base_url()
    );
    service
        .run_until_signal(signal)
        .await
        .context("stopping the service")?;
    eprintln!("mspbridge stopped");
    Ok(ExitCode::SUCCESS)
}

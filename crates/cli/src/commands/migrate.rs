//! `mspbridge migrate`: creates or upgrades the database schema named by `server.database`.
//!
//! Opening the store already applies the embedded migrations; this command does only that, so an
//! operator can upgrade the schema before starting a new version of the service.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use mspbridge_core::config;

pub async fn run(config_path: &Path) -> Result<ExitCode> {
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let database = &config.server.database;
    let store = mspbridge_store::open_store(database.expose())
        .await
        .with_context(|| format!("opening the database {database}"))?;
    store
        .migrate()
        .await
        .with_context(|| format!("migrating {database}"))?;
    let version = store
        .schema_version()
        .await
        .context("reading the schema version")?;
    store.close().await;
    eprintln!("{database} is at schema version {version}");
    println!("{version}");
    Ok(ExitCode::SUCCESS)
}

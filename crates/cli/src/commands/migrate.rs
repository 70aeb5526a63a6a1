//! `mspbridge migrate`: creates or upgrades the database schema named by `server.database`.
//!
//! Opening the store already applies the embedded migrations; this command does only that, so an
//! operator can upgrade the schema before starting a new version of the service.
//!
//! `migrate --to postgres://…` moves an installation: it copies every row of the configured SQLite
//! database into an empty PostgreSQL database (refusing one that holds anything), after which
//! `server.database` is pointed at PostgreSQL and any number of `serve` processes can share it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use mspbridge_core::config;
use mspbridge_store::Store;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Copy the configured SQLite database into this empty PostgreSQL database
    /// (postgres://user:password@host:port/database). Stop `serve` first.
    #[arg(long, value_name = "POSTGRES_URL")]
    to: Option<String>,
}

pub async fn run(config_path: &Path, args: MigrateArgs) -> Result<ExitCode> {
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let database = &config.server.database;
    if let Some(target) = args.to {
        return copy_to(database.expose(), &target).await;
    }
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

async fn copy_to(source: &str, target: &str) -> Result<ExitCode> {
    let shown = mspbridge_store::redact_url(target);
    let lower = target.trim().to_ascii_lowercase();
    if !(lower.starts_with("postgres://") || lower.starts_with("postgresql://")) {
        bail!("--to must be a postgres:// URL, got {shown}");
    }
    if !source.trim().to_ascii_lowercase().starts_with("sqlite:") {
        bail!("migrate --to copies a SQLite database, but server.database is not sqlite://");
    }
    let from = mspbridge_store::SqliteStore::open(source)
        .await
        .context("opening the SQLite database")?;
    let to = mspbridge_store::PostgresStore::open(target)
        .await
        .with_context(|| format!("opening {shown}"))?;
    let copied = mspbridge_store::copy_sqlite_to_postgres(&from, &to)
        .await
        .with_context(|| format!("copying {} into {shown}", from.location()));
    to.close().await;
    from.close().await;
    let report = copied?;
    for (table, rows) in &report.tables {
        eprintln!("{table:<24} {rows:>10} rows");
    }
    eprintln!(
        "copied {} rows from {} into {shown}; set server.database to the PostgreSQL URL",
        report.total(),
        from.location()
    );
    println!("{}", report.total());
    Ok(ExitCode::SUCCESS)
}

//! `mspbridge import-netwrix`: carries a Netwrix add-on installation over to mspbridge.
//!
//! The conversion itself is pure and lives in `mspbridge_core::netwrix_import`; this command reads the
//! two files, writes the configuration, and tells the user what could not be carried over.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use mspbridge_core::netwrix_import;

#[derive(Debug, Args)]
pub struct ImportNetwrixArgs {
    /// The add-on's ConnectWiseSettings.xml.
    #[arg(long, value_name = "FILE")]
    connectwise_settings: PathBuf,
    /// The add-on's ITSMSettings.xml.
    #[arg(long, value_name = "FILE")]
    itsm_settings: PathBuf,
    /// Write the configuration here instead of printing it on stdout.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    force: bool,
}

pub fn run(args: ImportNetwrixArgs) -> Result<ExitCode> {
    // Bytes, not text: the add-on's tools may have saved the files as UTF-16.
    let read =
        |path: &PathBuf| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let connectwise = read(&args.connectwise_settings)?;
    let itsm = read(&args.itsm_settings)?;
    let connectwise_name = args.connectwise_settings.display().to_string();
    let itsm_name = args.itsm_settings.display().to_string();
    let conversion = netwrix_import::convert_files(
        netwrix_import::SettingsFile {
            name: &connectwise_name,
            bytes: &connectwise,
        },
        netwrix_import::SettingsFile {
            name: &itsm_name,
            bytes: &itsm,
        },
    )
    .map_err(|err| anyhow!("{err}"))?;

    match &args.output {
        Some(path) => {
            if path.exists() && !args.force {
                bail!(
                    "{} already exists; pass --force to overwrite it",
                    path.display()
                );
            }
            std::fs::write(path, &conversion.toml)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("Wrote {}", path.display());
        }
        None => print!("{}", conversion.toml),
    }
    if conversion.not_carried.is_empty() {
        eprintln!("Every setting was carried over.");
    } else {
        eprintln!("Not carried over ({}):", conversion.not_carried.len());
        for item in &conversion.not_carried {
            eprintln!("  - {item}");
        }
    }
    eprintln!("Run `mspbridge check` on the result before starting the service.");
    Ok(ExitCode::SUCCESS)
}

//! `mspbridge tickets`: the incidents mspbridge tracks and the ConnectWise tickets they own.
//!
//! Reads the store directly (the same listing as `GET /api/v1/incidents`), so it works whether or
//! not the service runs. A table for people, `--json` for scripts. This module also holds the
//! small table printer and store opener the other listing commands share.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use mspbridge_core::config::{self, Config};
use mspbridge_server::api::views;
use mspbridge_store::Store;

#[derive(Debug, Args)]
pub struct TicketsArgs {
    /// Only this client's incidents.
    #[arg(long, value_name = "NAME")]
    client: Option<String>,
    /// At most this many (default 100, 1 to 1000).
    #[arg(long, value_parser = limit_range())]
    limit: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(config_path: &Path, args: TicketsArgs) -> Result<ExitCode> {
    let (_, store) = open(config_path).await?;
    let incidents = views::incidents(&store, args.client, args.limit).await;
    store.close().await;
    let incidents = incidents.map_err(|err| anyhow!("{}", err.message))?;
    if args.json {
        print_json(&incidents)?;
        return Ok(ExitCode::SUCCESS);
    }
    if incidents.is_empty() {
        eprintln!("no tracked incidents");
        return Ok(ExitCode::SUCCESS);
    }
    let rows = incidents
        .iter()
        .map(|incident| {
            vec![
                incident.key.clone(),
                incident.client.clone().unwrap_or_else(|| "-".into()),
                incident
                    .ticket_id
                    .map(|id| format!("#{id}"))
                    .unwrap_or_else(|| "-".into()),
                incident.alert_count.to_string(),
                time(incident.last_alert_at),
                if incident.flood {
                    format!("{} (flood)", incident.state)
                } else {
                    incident.state.clone()
                },
            ]
        })
        .collect();
    print_table(
        &["KEY", "CLIENT", "TICKET", "ALERTS", "LAST ALERT", "STATE"],
        rows,
    );
    Ok(ExitCode::SUCCESS)
}

/// Loads the configuration and opens its store.
pub(crate) async fn open(config_path: &Path) -> Result<(Config, Arc<dyn Store>)> {
    let config = config::load(config_path).map_err(|err| anyhow!("{err}"))?;
    let store = mspbridge_store::open_store(config.server.database.expose())
        .await
        .with_context(|| format!("opening the store {}", config.server.database))?;
    Ok((config, store))
}

/// A time as the tables show it, saying its zone.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// What `--limit` accepts on the listing commands: `--limit 0` is an error, not one row.
pub(crate) fn limit_range() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=1000)
}

/// Pretty JSON on stdout, with bidirectional and zero-width characters escaped so a terminal
/// shows alert text as it is.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let json = serde_json::to_string_pretty(value).context("encoding JSON")?;
    println!("{}", mspbridge_core::text::escape_invisible_in_json(&json));
    Ok(())
}

/// Longest cell shown; longer text is cut with an ellipsis (use `--json` for everything).
const MAX_CELL: usize = 72;

/// Prints left-aligned columns separated by two spaces.
pub(crate) fn print_table(headers: &[&str], rows: Vec<Vec<String>>) {
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|row| row.into_iter().map(cell).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (index, value) in row.iter().enumerate() {
            widths[index] = widths[index].max(value.chars().count());
        }
    }
    let line = |values: Vec<&str>| {
        let cells: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(index, value)| {
                let pad = widths[index].saturating_sub(value.chars().count());
                format!("{value}{}", " ".repeat(pad))
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn cell(value: String) -> String {
    // Alert text may carry terminal escapes, zero-width or bidirectional characters.
    let flat = mspbridge_core::text::clean_line(&value.replace(['\n', '\r', '\t'], " "));
    if flat.chars().count() <= MAX_CELL {
        flat
    } else {
        let cut: String = flat.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_show_bidi_overrides_and_drop_terminal_escapes() {
        assert_eq!(
            cell("Invoice\u{202E}fdp.exe".into()),
            "Invoice[U+202E]fdp.exe"
        );
        assert_eq!(cell("\u{0000}\u{001b}[31mred\u{200B}".into()), "[31mred");
        assert_eq!(cell("two\nlines".into()), "two lines");
    }
}

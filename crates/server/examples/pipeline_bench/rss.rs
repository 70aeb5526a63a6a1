//! Peak resident memory of `mspbridge serve` with a million alerts queued.
//!
//! The store is filled in-process with batch accepts, then the release `mspbridge` binary serves
//! that database as a child process while ConnectWise (an in-process simulator) answers every
//! request with 503, so no alert's work can finish and the queue stays deep. `VmRSS` is sampled
//! from `/proc/PID/status` every 250 ms and `VmHWM` (the kernel's peak) read before the child is
//! stopped with SIGTERM. The same is done on an empty database as the baseline.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::Utc;
use mspbridge_core::alert::{ActivityRecord, Alert};
use mspbridge_server::intake::to_new_alert;
use mspbridge_simulators::connectwise::{self, Fault, SimulatorConfig};
use mspbridge_store::AlertState;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::setup::{self, CLIENTS};

/// How long `serve` may take to stop after SIGTERM before it is killed.
const STOP_GRACE_SECS: u64 = 30;

/// Alerts per batch accept while filling.
const BATCH: usize = 5_000;

/// Fills, serves, samples and prints.
pub async fn run(alerts: usize, seconds: u64, binary: PathBuf) {
    println!(
        "## Peak RSS of `mspbridge serve` with {alerts} queued alerts ({seconds} s, ConnectWise answering 503)"
    );
    if !binary.exists() {
        panic!(
            "{} does not exist; build it first with `cargo build --release -p mspbridge` \
             (or point MSPBRIDGE_BIN at the binary)",
            binary.display()
        );
    }
    let simulator = connectwise::spawn(
        SimulatorConfig::default(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    )
    .await
    .expect("starting the ConnectWise simulator");
    simulator.faults().inject(Fault::unavailable());

    let dir = tempfile::tempdir().expect("a temporary directory");
    let empty = serve_and_sample(
        &binary,
        dir.path(),
        "empty",
        &simulator.base_url(),
        seconds.min(10),
    )
    .await;

    let database = dir.path().join("full.db");
    let started = Instant::now();
    fill(&database, alerts).await;
    let filled_in = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&database).map(|m| m.len()).unwrap_or(0);
    println!(
        "filled {alerts} alerts in {filled_in:.1} s ({:.0} alerts/s batch accepts of {BATCH}); database {:.0} MB",
        alerts as f64 / filled_in,
        size as f64 / 1e6
    );
    let full = serve_and_sample(&binary, dir.path(), "full", &simulator.base_url(), seconds).await;
    let connectwise_calls = simulator.state().requests().len();
    simulator.shutdown().await;

    let store = mspbridge_store::open_store(&format!("sqlite://{}", database.display()))
        .await
        .unwrap_or_else(|error| panic!("reopening the filled store: {error}"));
    let by_state = store
        .count_alerts_by_state()
        .await
        .unwrap_or_else(|error| panic!("counting alerts: {error}"));
    store.close().await;
    let queued: u64 = by_state
        .iter()
        .filter(|(state, _)| *state == AlertState::Queued)
        .map(|(_, count)| count)
        .sum();

    println!();
    println!("| database | seconds | RSS samples | max sampled VmRSS (MB) | VmHWM (MB) | RSS at end (MB) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, sample) in [("empty", &empty), ("1M queued", &full)] {
        println!(
            "| {label} | {:.0} | {} | {:.1} | {:.1} | {:.1} |",
            sample.seconds,
            sample.samples,
            sample.max_rss_kb as f64 / 1024.0,
            sample.hwm_kb as f64 / 1024.0,
            sample.last_rss_kb as f64 / 1024.0,
        );
    }
    println!(
        "after the run: {} of {alerts} alerts still queued ({} taken by the engine); {connectwise_calls} ConnectWise requests arrived (every one answered 503)",
        queued,
        alerts as u64 - queued.min(alerts as u64)
    );
    println!("alert states: {by_state:?}");
    println!();
}

/// What one child run measured.
struct Sample {
    seconds: f64,
    samples: usize,
    max_rss_kb: u64,
    last_rss_kb: u64,
    hwm_kb: u64,
}

async fn fill(database: &Path, alerts: usize) {
    let store = mspbridge_store::open_store(&format!("sqlite://{}", database.display()))
        .await
        .unwrap_or_else(|error| panic!("creating the store to fill: {error}"));
    let now = Utc::now();
    let mut next = 0usize;
    while next < alerts {
        let end = (next + BATCH).min(alerts);
        let batch = (next..end)
            .map(|index| {
                let alert = Alert {
                    source: "bench".into(),
                    source_alert_id: format!("rss-{index}"),
                    alert_name: format!("Queued Type {}", (index / CLIENTS.len()) % 30),
                    client: Some(CLIENTS[index % CLIENTS.len()].into()),
                    occurred_at: now,
                    received_at: now,
                    records: vec![ActivityRecord {
                        who: "ACME\\j.doe".into(),
                        action: "Modified".into(),
                        object_type: "user".into(),
                        what: format!("\\local\\domain\\acme.local\\Users\\User {index}"),
                        when: "2026-11-23T10:14:58Z".into(),
                        where_: "dc01.acme.local".into(),
                        workstation: Some("ws-0042.acme.local".into()),
                        details: Vec::new(),
                        data_source: Some("Active Directory".into()),
                        monitoring_plan: Some("AD changes".into()),
                        item: None,
                    }],
                    fields: Default::default(),
                };
                to_new_alert(&alert, now).unwrap_or_else(|error| panic!("{error}"))
            })
            .collect::<Vec<_>>();
        store
            .accept_alerts_batch(batch)
            .await
            .unwrap_or_else(|error| panic!("batch accept: {error}"));
        next = end;
    }
    store.close().await;
}

async fn serve_and_sample(
    binary: &Path,
    dir: &Path,
    name: &str,
    connectwise_site: &str,
    seconds: u64,
) -> Sample {
    let database = dir.join(format!("{name}.db"));
    let config_path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config_path,
        setup::config_text(&database, Some(connectwise_site), ""),
    )
    .expect("writing the serve configuration");
    let log_path = dir.join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).expect("creating the serve log");
    let mut child = tokio::process::Command::new(binary)
        .arg("--config")
        .arg(&config_path)
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("starting {}: {error}", binary.display()));
    let pid = child.id().expect("the child's pid");
    let mut stdout = BufReader::new(child.stdout.take().expect("the child's stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(120), stdout.next_line())
        .await
        .ok()
        .and_then(|line| line.ok().flatten());
    if url.is_none() {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!("`mspbridge serve` did not print its URL; its log:\n{log}");
    }

    let started = Instant::now();
    let mut samples = 0;
    let mut max_rss_kb = 0;
    let mut last_rss_kb = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        if let Some(rss) = status_kb(pid, "VmRSS:") {
            samples += 1;
            max_rss_kb = max_rss_kb.max(rss);
            last_rss_kb = rss;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let hwm_kb = status_kb(pid, "VmHWM:").unwrap_or(0);
    let seconds = started.elapsed().as_secs_f64();
    let terminated = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    if !matches!(terminated, Ok(status) if status.success()) {
        let _ = child.start_kill();
    }
    let asked_to_stop = Instant::now();
    match tokio::time::timeout(Duration::from_secs(STOP_GRACE_SECS), child.wait()).await {
        Ok(Ok(status)) if status.success() => println!(
            "{name}: stopped cleanly {:.1} s after SIGTERM",
            asked_to_stop.elapsed().as_secs_f64()
        ),
        other => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            println!(
                "{name}: NOT stopped {STOP_GRACE_SECS} s after SIGTERM ({other:?}); killed. Its log \
                 is {} lines, the last one: {}",
                std::fs::read_to_string(&log_path)
                    .map(|log| log.lines().count())
                    .unwrap_or(0),
                std::fs::read_to_string(&log_path)
                    .ok()
                    .and_then(|log| log.lines().last().map(str::to_owned))
                    .unwrap_or_default()
            );
        }
    }
    Sample {
        seconds,
        samples,
        max_rss_kb,
        last_rss_kb,
        hwm_kb,
    }
}

/// A `kB` line of `/proc/PID/status`.
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

//! Durable intake throughput: how many single native alerts per second the HTTP API acknowledges
//! with 202 — each 202 meaning the alert is committed to SQLite — over N keep-alive connections.
//!
//! Measured twice per connection count: with the engine working (whole service, ConnectWise
//! simulator configured, so alert processing and ticket jobs compete for the same two cores), and
//! with the HTTP API alone over the same store, the engine not running, so every alert stays
//! queued. Each run gets a fresh database file.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mspbridge_simulators::connectwise::{self, SimulatorConfig};
use mspbridge_store::{AlertState, Store};

use crate::http::{self, Connection};
use crate::setup::{self, ApiOnly, CLIENTS, TOKEN};

/// Alert types per client in the intake load (a storm: most alerts are repeats).
const ALERT_TYPES: usize = 10;

/// Where the intake load posts.
const PATH: &str = "/api/v1/alerts";

/// Stands for the alert id in a body template.
const ID_MARK: &str = "@@ALERT-ID@@";

/// One run's result.
struct Run {
    mode: &'static str,
    connections: usize,
    accepted: u64,
    errors: u64,
    first_error: Option<String>,
    seconds: f64,
    stored: u64,
    processed_by_engine: u64,
}

/// Runs every variant and prints the table.
pub async fn run(connection_counts: &[usize], seconds: u64) {
    println!(
        "## Durable intake throughput ({seconds} s per run, single native alerts, 202 = committed)"
    );
    // The service installs the process-wide metrics recorder; install it first so that the API-only
    // runs pay for metrics exactly as the service does.
    let _ = mspbridge_server::api::metrics::install_recorder();
    let mut runs = Vec::new();
    for &connections in connection_counts {
        runs.push(api_only(connections, seconds).await);
        runs.push(with_engine(connections, seconds).await);
    }
    println!();
    println!("| mode | connections | 202s | alerts/s | errors | stored | taken by engine |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for run in &runs {
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} |",
            run.mode,
            run.connections,
            run.accepted,
            run.accepted as f64 / run.seconds,
            run.errors,
            run.stored,
            run.processed_by_engine,
        );
        if let Some(error) = &run.first_error {
            println!("  first error: {error}");
        }
    }
    println!();
}

async fn api_only(connections: usize, seconds: u64) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = setup::config(&dir.path().join("intake.db"), None, "");
    let api = ApiOnly::start(config).await;
    let (accepted, errors, first_error, elapsed) = load(api.addr, connections, seconds).await;
    let store = api.store();
    let (stored, processed) = counts(&store).await;
    api.stop().await;
    Run {
        mode: "API only, engine not running (alerts stay queued)",
        connections,
        accepted,
        errors,
        first_error,
        seconds: elapsed,
        stored,
        processed_by_engine: processed,
    }
}

async fn with_engine(connections: usize, seconds: u64) -> Run {
    let simulator = connectwise::spawn(
        SimulatorConfig::default(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    )
    .await
    .expect("starting the ConnectWise simulator");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = setup::config(
        &dir.path().join("intake.db"),
        Some(&simulator.base_url()),
        "",
    );
    let service = setup::start_service(config).await;
    let (accepted, errors, first_error, elapsed) =
        load(service.local_addr(), connections, seconds).await;
    let store = service.store();
    let (stored, processed) = counts(&store).await;
    // A graceful shutdown would let the engine work through the whole backlog first (minutes);
    // dropping the service stops the engine at once. The database is thrown away anyway.
    drop(service);
    simulator.shutdown().await;
    Run {
        mode: "whole service, engine working against the ConnectWise simulator",
        connections,
        accepted,
        errors,
        first_error,
        seconds: elapsed,
        stored,
        processed_by_engine: processed,
    }
}

/// (stored alerts, alerts no longer queued) right after the load stopped.
async fn counts(store: &Arc<dyn Store>) -> (u64, u64) {
    let by_state = store
        .count_alerts_by_state()
        .await
        .unwrap_or_else(|error| panic!("counting alerts: {error}"));
    let stored = by_state.iter().map(|(_, count)| count).sum();
    let queued: u64 = by_state
        .iter()
        .filter(|(state, _)| *state == AlertState::Queued)
        .map(|(_, count)| count)
        .sum();
    (stored, stored - queued)
}

/// Posts from `connections` keep-alive connections until `seconds` have passed; returns
/// (202s, other answers or failures, the first of those, elapsed seconds).
async fn load(
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
) -> (u64, u64, Option<String>, f64) {
    let mut opened = Vec::with_capacity(connections);
    for _ in 0..connections {
        opened.push(
            Connection::open(addr, TOKEN)
                .await
                .unwrap_or_else(|error| panic!("{error}")),
        );
    }
    // Bodies for every (client, alert type), split where the per-request alert id goes, so that
    // the load loop spends as little of the shared CPU as a sender on another machine would.
    let templates: Arc<Vec<Vec<String>>> = Arc::new(
        (0..CLIENTS.len() * ALERT_TYPES)
            .map(|slot| {
                let client = CLIENTS[slot % CLIENTS.len()];
                let name = format!("Intake Type {}", (slot / CLIENTS.len()) % ALERT_TYPES);
                setup::native_alert(ID_MARK, &name, client)
                    .split(ID_MARK)
                    .map(str::to_string)
                    .collect()
            })
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(connections);
    for (index, mut connection) in opened.into_iter().enumerate() {
        let stop = stop.clone();
        let templates = templates.clone();
        workers.push(tokio::spawn(async move {
            let mut accepted = 0u64;
            let mut errors = 0u64;
            let mut first_error = None;
            let mut sequence = 0usize;
            let mut request = Vec::with_capacity(1024);
            while !stop.load(Ordering::Relaxed) {
                let template = &templates[sequence % templates.len()];
                let body = template.join(format!("c{index}-{sequence}").as_str());
                sequence += 1;
                request.clear();
                http::write_request(&mut request, PATH, TOKEN, &body);
                match connection.send(PATH, &request).await {
                    Ok((202, _)) => accepted += 1,
                    Ok((status, text)) => {
                        errors += 1;
                        first_error.get_or_insert(format!("status {status}: {text}"));
                    }
                    Err(error) => {
                        errors += 1;
                        first_error.get_or_insert(error.to_string());
                        break;
                    }
                }
            }
            (accepted, errors, first_error)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut accepted = 0;
    let mut errors = 0;
    let mut first_error = None;
    for worker in workers {
        let (a, e, first) = worker.await.expect("a load worker panicked");
        accepted += a;
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    (accepted, errors, first_error, elapsed)
}

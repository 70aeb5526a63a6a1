//! New-alert-type → ConnectWise create latency: sequential alerts, each with an alert name never
//! seen before, timed from just before the POST is written to the socket to the moment the
//! ConnectWise simulator (same process, same clock) records the arrival of the matching
//! `POST …/service/tickets`.
//!
//! Counted: the intake request (parsing, validation, the durable commit and its fsync), waking
//! the engine, routing, the incident and its create job written to the store, claiming the job,
//! rendering the ticket, any ConnectWise call the engine makes before the create (listed in the
//! output) and the loopback HTTP request up to the simulator's handler. Not counted: ConnectWise's
//! own work on the create, its response, and what mspbridge stores afterwards.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator, SimulatorConfig};

use crate::http::Connection;
use crate::setup::{self, quantile, CLIENTS, TOKEN};

/// Samples before measuring (connection set-up, codebase discovery, page cache warm-up).
const WARM_UP: usize = 20;

/// Runs `samples` measured alerts and prints the percentiles.
pub async fn run(samples: usize) {
    println!("## New alert type -> ConnectWise create latency ({samples} sequential alerts after {WARM_UP} warm-up)");
    let simulator = connectwise::spawn(
        SimulatorConfig::default(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    )
    .await
    .expect("starting the ConnectWise simulator");
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Every alert is a new type, so the flood limit would otherwise send all but ten per client to
    // the flood ticket; the benchmark measures the standalone create path.
    let config = setup::config(
        &dir.path().join("latency.db"),
        Some(&simulator.base_url()),
        "ticket_flood_limit = 1000000",
    );
    let service = setup::start_service(config).await;
    let mut connection = Connection::open(service.local_addr(), TOKEN)
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    let mut to_create = Vec::with_capacity(samples);
    let mut to_202 = Vec::with_capacity(samples);
    let mut calls_before_create: std::collections::BTreeMap<String, usize> =
        std::collections::BTreeMap::new();
    for index in 0..WARM_UP + samples {
        let client = CLIENTS[index % CLIENTS.len()];
        let body = setup::native_alert(
            &format!("latency-{index}"),
            &format!("New Alert Type {index}"),
            client,
        );
        let seen = simulator.state().requests().len();
        let sent_at = Utc::now();
        let (status, text) = connection
            .post_json("/api/v1/alerts", &body)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let acknowledged_at = Utc::now();
        assert_eq!(status, 202, "the alert was not accepted: {text}");
        let (arrived_at, before) = wait_for_create(&simulator, seen).await;
        if index >= WARM_UP {
            to_create.push(millis(sent_at, arrived_at));
            to_202.push(millis(sent_at, acknowledged_at));
            for call in before {
                *calls_before_create.entry(call).or_default() += 1;
            }
        }
    }
    service
        .shutdown()
        .await
        .unwrap_or_else(|error| panic!("stopping the service: {error}"));
    simulator.shutdown().await;

    to_create.sort_by(f64::total_cmp);
    to_202.sort_by(f64::total_cmp);
    println!();
    println!("| interval (ms) | samples | p50 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, values) in [
        (
            "POST sent -> ConnectWise receives POST /service/tickets",
            &to_create,
        ),
        ("POST sent -> 202 read (durable intake alone)", &to_202),
    ] {
        println!(
            "| {label} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
            values.len(),
            quantile(values, 0.50),
            quantile(values, 0.90),
            quantile(values, 0.99),
            values.last().copied().unwrap_or(f64::NAN),
        );
    }
    if calls_before_create.is_empty() {
        println!("ConnectWise calls made before each create: none");
    } else {
        println!(
            "ConnectWise calls made between an alert and its create (total over the samples):"
        );
        for (call, count) in calls_before_create {
            println!("  {call}: {count}");
        }
    }
    println!();
}

/// Waits until the simulator has logged a ticket create after the first `seen` requests; returns
/// its arrival time and the other calls logged before it.
async fn wait_for_create(
    simulator: &ConnectWiseSimulator,
    seen: usize,
) -> (DateTime<Utc>, Vec<String>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let requests = simulator.state().requests();
        let mut before = Vec::new();
        for request in requests.iter().skip(seen) {
            if request.method == "POST" && request.path.ends_with("/service/tickets") {
                return (request.timestamp, before);
            }
            before.push(format!(
                "{} {}",
                request.method,
                setup::endpoint(&request.path)
            ));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ticket create reached ConnectWise within 30 s of the alert; requests since: {before:?}"
        );
        // Polling only paces this loop; the latency is the simulator's own arrival timestamp.
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

fn millis(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

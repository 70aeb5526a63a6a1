//! ConnectWise calls per alert in a storm, against the minimum DESIGN §3 allows.
//!
//! `clients × types × repeats` alerts arrive inside one consolidation window. The rules allow, per
//! incident, one create (rule 5) and, when it has repeats, one flush: one status read, one note
//! and — with `display_only_first_activity_record` — one attachment (rule 4). Anything the
//! simulator logs beyond that is overhead and is listed by endpoint.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mspbridge_simulators::connectwise::{self, SimulatorConfig};
use mspbridge_store::{AlertState, IncidentFilter};

use crate::http::Connection;
use crate::setup::{self, CLIENTS, TOKEN};

/// The storm's shape.
pub struct Storm {
    /// Alert types per client.
    pub types: usize,
    /// Alerts per (client, type).
    pub repeats: usize,
    /// `rules.consolidation_interval` (seconds); every alert must arrive inside it.
    pub window_secs: u64,
}

/// Sends the storm, waits for the flushes, prints calls by endpoint and the minimum.
pub async fn run(storm: Storm) {
    let clients = CLIENTS.len();
    let total = clients * storm.types * storm.repeats;
    println!(
        "## ConnectWise calls in a storm: {clients} clients x {} types x {} repeats = {total} alerts, consolidation_interval = {} s",
        storm.types, storm.repeats, storm.window_secs
    );
    let simulator = connectwise::spawn(
        SimulatorConfig::default(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    )
    .await
    .expect("starting the ConnectWise simulator");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rules = format!(
        "consolidation_interval = \"{}s\"\nticket_flood_limit = {}",
        storm.window_secs,
        storm.types.max(10)
    );
    let config = setup::config(
        &dir.path().join("storm.db"),
        Some(&simulator.base_url()),
        &rules,
    );
    let service = setup::start_service(config).await;
    let store = service.store();

    // Eight senders, alerts interleaved so every type's first alert comes early and its repeats
    // are spread over the sending time.
    let mut bodies = Vec::with_capacity(total);
    for repeat in 0..storm.repeats {
        for kind in 0..storm.types {
            for client in CLIENTS {
                bodies.push(setup::native_alert(
                    &format!("storm-{client}-{kind}-{repeat}"),
                    &format!("Storm Type {kind}"),
                    client,
                ));
            }
        }
    }
    let started = Instant::now();
    let senders = 8;
    let mut chunks: Vec<Vec<String>> = vec![Vec::new(); senders];
    for (index, body) in bodies.into_iter().enumerate() {
        chunks[index % senders].push(body);
    }
    let mut tasks = Vec::new();
    for chunk in chunks {
        let mut connection = Connection::open(service.local_addr(), TOKEN)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        tasks.push(tokio::spawn(async move {
            for body in chunk {
                let (status, text) = connection
                    .post_json("/api/v1/alerts", &body)
                    .await
                    .unwrap_or_else(|error| panic!("{error}"));
                assert_eq!(status, 202, "a storm alert was refused: {text}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a storm sender panicked");
    }
    let sent_in = started.elapsed();
    println!(
        "sent in {:.2} s ({})",
        sent_in.as_secs_f64(),
        if sent_in.as_secs() < storm.window_secs {
            "inside the window"
        } else {
            "LONGER than the window: some repeats may start a second flush"
        }
    );

    // Settled when every alert is taken, no job is queued or running, and the window has passed.
    let deadline = Instant::now() + Duration::from_secs(storm.window_secs + 120);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let depth = store.queue_depth().await.expect("reading the queue depth");
        let queued_alerts = store
            .count_alerts_by_state()
            .await
            .expect("counting alerts")
            .into_iter()
            .filter(|(state, _)| *state == AlertState::Queued)
            .map(|(_, count)| count)
            .sum::<u64>();
        let window_over = started.elapsed() > Duration::from_secs(storm.window_secs + 1);
        if window_over && queued_alerts == 0 && depth.queued == 0 && depth.running == 0 {
            if depth.dead > 0 {
                println!("WARNING: {} job(s) dead-lettered", depth.dead);
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the storm did not settle: {queued_alerts} alerts queued, jobs {depth:?}"
        );
    }
    let incidents = store
        .list_incidents(IncidentFilter::default())
        .await
        .expect("listing incidents")
        .len();
    let requests = simulator.state().requests();
    service
        .shutdown()
        .await
        .unwrap_or_else(|error| panic!("stopping the service: {error}"));
    simulator.shutdown().await;

    let mut by_endpoint: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for request in &requests {
        let entry = by_endpoint
            .entry(format!(
                "{} {}",
                request.method,
                setup::endpoint(&request.path)
            ))
            .or_default();
        entry.0 += 1;
        if request.status >= 400 {
            entry.1 += 1;
        }
    }
    let with_repeats = if storm.repeats > 1 { 1 } else { 0 };
    let expected_incidents = clients * storm.types;
    let minimum = expected_incidents * (1 + 3 * with_repeats);
    println!();
    println!("| ConnectWise call | count | failed |");
    println!("|---|---:|---:|");
    for (endpoint, (count, failed)) in &by_endpoint {
        println!("| {endpoint} | {count} | {failed} |");
    }
    println!();
    println!("| | calls | per alert |");
    println!("|---|---:|---:|");
    println!(
        "| measured | {} | {:.3} |",
        requests.len(),
        requests.len() as f64 / total as f64
    );
    println!(
        "| minimum by the rules ({expected_incidents} incidents x (1 create + 1 status read + 1 note + 1 attachment)) | {minimum} | {:.3} |",
        minimum as f64 / total as f64
    );
    println!("incidents in the store: {incidents} (expected {expected_incidents})");
    println!();
}

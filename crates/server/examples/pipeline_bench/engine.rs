//! How fast the engine takes a deep queue of alerts off the queue.
//!
//! The store is filled in-process with batch accepts (3 clients × 10 alert types, like the intake
//! load), then an engine over that store, with ConnectWise pointed at the in-process simulator,
//! runs until nothing more is due: every alert is routed and decided, each incident's create job
//! runs when it becomes due (between pages), and the repeats wait in their consolidation buffers.
//! Only the engine's pass is timed, not the fill.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use mspbridge_core::alert::{ActivityRecord, Alert};
use mspbridge_core::clock::SystemClock;
use mspbridge_server::engine::{Engine, EngineDeps};
use mspbridge_server::intake::to_new_alert;
use mspbridge_server::service::Clients;
use mspbridge_simulators::connectwise::{self, SimulatorConfig};
use mspbridge_store::{AlertState, IncidentFilter, Store};

use crate::setup::{self, CLIENTS};

/// Alert types per client.
const TYPES: usize = 10;

/// Alerts per batch accept while filling.
const BATCH: usize = 5_000;

/// Fills, runs the engine over the queue, prints the rate.
pub async fn run(alerts: usize) {
    println!(
        "## Engine throughput: {alerts} queued alerts ({} clients x {TYPES} types), engine run until idle",
        CLIENTS.len()
    );
    let simulator = connectwise::spawn(
        SimulatorConfig::default(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    )
    .await
    .expect("starting the ConnectWise simulator");
    let dir = tempfile::tempdir().expect("a temporary directory");
    // One standalone ticket per (client, type): the flood limit is not what is measured here.
    let config = setup::config(
        &dir.path().join("engine.db"),
        Some(&simulator.base_url()),
        &format!("ticket_flood_limit = {TYPES}"),
    );
    let store = mspbridge_store::open_store(config.server.database.expose())
        .await
        .unwrap_or_else(|error| panic!("opening the benchmark store: {error}"));
    let filled = Instant::now();
    fill(store.as_ref(), alerts).await;
    println!(
        "filled {alerts} alerts in {:.1} s (not counted)",
        filled.elapsed().as_secs_f64()
    );

    let clients = Clients::from_config(&config)
        .unwrap_or_else(|error| panic!("building the ConnectWise client: {error}"));
    let engine = Engine::new(EngineDeps {
        store: store.clone(),
        config: Arc::new(config),
        clock: Arc::new(SystemClock),
        connectwise: clients.connectwise,
        auditors: clients.auditors,
        host_name: "bench-host".into(),
        worker_id: "bench-worker".into(),
        itglue: Default::default(),
    });
    let started = Instant::now();
    let report = engine
        .run_until_idle()
        .await
        .unwrap_or_else(|error| panic!("the engine failed: {error}"));
    let seconds = started.elapsed().as_secs_f64();

    let queued = store
        .count_alerts_by_state()
        .await
        .expect("counting alerts")
        .into_iter()
        .filter(|(state, _)| *state == AlertState::Queued)
        .map(|(_, count)| count)
        .sum::<u64>();
    let incidents = store
        .list_incidents(IncidentFilter::default())
        .await
        .expect("listing incidents");
    let tickets = incidents
        .iter()
        .filter(|incident| incident.ticket_id.is_some())
        .count();
    let calls = simulator.state().requests().len();
    store.close().await;
    simulator.shutdown().await;

    println!();
    println!("| alerts taken | jobs run | seconds | alerts/s | left queued | incidents | with ticket | ConnectWise requests |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {seconds:.2} | {:.0} | {queued} | {} | {tickets} | {calls} |",
        report.alerts,
        report.jobs,
        report.alerts as f64 / seconds,
        incidents.len()
    );
    println!();
}

/// Accepts `alerts` alerts, the client cycling fastest and the type next, so every incident's
/// first alert comes early and its repeats are spread over the queue.
async fn fill(store: &dyn Store, alerts: usize) {
    let now = Utc::now();
    let mut next = 0usize;
    while next < alerts {
        let end = (next + BATCH).min(alerts);
        let batch = (next..end)
            .map(|index| {
                let alert = Alert {
                    source: "bench".into(),
                    source_alert_id: format!("engine-{index}"),
                    alert_name: format!("Queued Type {}", (index / CLIENTS.len()) % TYPES),
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
                        workstation: Some(format!("ws-{:04}.acme.local", index % 50)),
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
}

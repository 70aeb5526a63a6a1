//! Soak: steady intake through `serve` and the ConnectWise simulator with the default retention,
//! sampling memory, database size and rows per table over time, to show the store levels off
//! instead of growing with the run.
//!
//! The whole service runs in this process (API, engine, retention) beside the ConnectWise
//! simulator and the load generator, so the resident memory printed is all three together. The
//! load is `rate` native alerts per second over a few keep-alive connections, 30 alert types for
//! each of the three clients (90 incidents), every alert a new id.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mspbridge_simulators::connectwise::{self, SimulatorConfig};
use mspbridge_store::Store;

use crate::http::Connection;
use crate::setup::{self, CLIENTS, TOKEN};

/// Keep-alive connections the load is spread over.
const CONNECTIONS: u64 = 8;
/// Alert types per client.
const TYPES: u64 = 30;

/// Runs the soak for `seconds` at `rate` alerts/s, printing a sample every `every` seconds.
/// `consolidation` is `[rules] consolidation_interval`: buffered alerts are kept until their
/// flush, so it sets how many alerts the buffers hold at the rate.
pub async fn run(seconds: u64, rate: u64, every: u64, consolidation: &str) {
    println!(
        "## Soak: {rate} alerts/s for {seconds} s through serve and the ConnectWise simulator, \
         default retention, consolidation_interval = {consolidation:?}"
    );
    let simulator = connectwise::spawn(
        SimulatorConfig::default(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    )
    .await
    .expect("starting the ConnectWise simulator");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("soak.db");
    let config = setup::config(
        &database,
        Some(&simulator.base_url()),
        &format!("consolidation_interval = {consolidation:?}"),
    );
    let service = setup::start_service(config).await;
    let addr = service.local_addr();
    let store = service.store();

    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut senders = Vec::new();
    for lane in 0..CONNECTIONS {
        let sent = sent.clone();
        let errors = errors.clone();
        senders.push(tokio::spawn(async move {
            let mut connection = Connection::open(addr, TOKEN)
                .await
                .expect("connecting to the service");
            let per_lane = rate as f64 / CONNECTIONS as f64;
            let mut n: u64 = 0;
            loop {
                let due = started + Duration::from_secs_f64(n as f64 / per_lane);
                // A load generator behind its schedule stops at the deadline too.
                if due >= deadline || Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let k = n * CONNECTIONS + lane;
                let client = CLIENTS[(k % 3) as usize];
                let name = format!("Soak type {}", (k / 3) % TYPES);
                let body = setup::native_alert(&format!("soak-{k}"), &name, client);
                match connection.post_json("/api/v1/alerts", &body).await {
                    Ok((202, _)) => {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) | Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += 1;
            }
        }));
    }

    println!();
    println!("| t (s) | alerts sent | errors | RSS (MB) | db + wal (MB) | alerts (queued) | buffered | jobs | events | ticket_requests | incidents | report_rollups | tickets |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut next = started;
    loop {
        next += Duration::from_secs(every);
        let last = next >= deadline + Duration::from_secs(every);
        tokio::time::sleep_until(next.into()).await;
        sample(
            started,
            &sent,
            &errors,
            &database,
            store.as_ref(),
            simulator.state().tickets().len(),
        )
        .await;
        if last {
            break;
        }
    }
    for sender in senders {
        let _ = sender.await;
    }
    service.shutdown().await.expect("the service stops");
}

async fn sample(
    started: Instant,
    sent: &AtomicU64,
    errors: &AtomicU64,
    database: &Path,
    store: &dyn Store,
    tickets: usize,
) {
    let size = |path: &Path| std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
    let wal = database.with_extension("db-wal");
    let bytes = size(database) + size(&wal);
    let stats = store.storage_stats().await.unwrap_or_default();
    let queued = store
        .count_alerts(mspbridge_store::AlertState::Queued)
        .await
        .unwrap_or(0);
    let rows = |table: &str| {
        stats
            .rows
            .iter()
            .find(|(name, _)| name == table)
            .map_or(0, |(_, n)| *n)
    };
    println!(
        "| {:.0} | {} | {} | {:.0} | {:.1} | {} ({queued}) | {} | {} | {} | {} | {} | {} | {} |",
        started.elapsed().as_secs_f64(),
        sent.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        rss_mb(),
        bytes as f64 / 1e6,
        rows("alerts"),
        rows("incident_buffer"),
        rows("jobs"),
        rows("events"),
        rows("ticket_requests"),
        rows("incidents"),
        rows("report_rollups"),
        tickets,
    );
}

/// This process's resident memory in MB (`VmRSS`).
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

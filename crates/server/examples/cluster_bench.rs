//! Intake and engine throughput of one, two and three `mspbridge serve` processes sharing one
//! PostgreSQL database, beside one process on SQLite, on this machine; results are kept in
//! `BENCHMARKS.md`. Every process is the release binary, talking real HTTP over loopback to the
//! ConnectWise simulator (run in this process).
//!
//! ```text
//! cargo build --release -p mspbridge
//! MSPBRIDGE_TEST_POSTGRES_URL=postgres://… \
//!   cargo run --release -p mspbridge-server --example cluster_bench
//! ```
//!
//! * **intake**: senders spread over the processes for `BENCH_CLUSTER_SECS` (10) seconds, each
//!   alert its own HTTP request; 202s per second (each 202 = committed). The engines run at the
//!   same time, as in production.
//! * **engine**: `BENCH_CLUSTER_ALERTS` (20000) alerts are put in the queue before the processes
//!   start; the time from starting them until no alert is queued (process start-up included).
//!
//! Knobs: `BENCH_CLUSTER_PROCESSES` (`1,2,3`), `BENCH_CLUSTER_CONNECTIONS` (64 in all),
//! `MSPBRIDGE_BIN` (the release binary). Each run gets a fresh database (a new PostgreSQL schema,
//! or a new SQLite file).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use mspbridge_core::alert::Alert;
use mspbridge_server::intake::to_new_alert;
use mspbridge_simulators::connectwise::{self, SimulatorConfig};
use mspbridge_store::AlertState;
use serde_json::json;

const TOKEN: &str = "bench-cluster-token-9e4d";
const CLIENTS: [&str; 3] = ["Acme", "Globex", "Initech"];
const ALERT_TYPES: usize = 10;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .map(|text| {
            text.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}={text:?} is not valid"))
        })
        .unwrap_or(default)
}

fn binary() -> PathBuf {
    if let Ok(path) = std::env::var("MSPBRIDGE_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("release").join("mspbridge")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(dir: &Path, port: u16, database: &str, site: &str) -> PathBuf {
    let cw = SimulatorConfig::default();
    let path = dir.join(format!("bench-{port}.toml"));
    let mut clients = String::new();
    for (n, name) in CLIENTS.iter().enumerate() {
        clients.push_str(&format!(
            "[[clients]]\nname = \"{name}\"\nconnectwise = {{ company_id = {}, board_id = 3, team_id = 26 }}\n\n",
            250 + n
        ));
    }
    std::fs::write(
        &path,
        format!(
            r#"[server]
listen = "127.0.0.1:{port}"
database = "{database}"
api_tokens = ["{TOKEN}"]
missing_attachments_dir = "{missing}"

[connectwise]
site = "{site}"
company_id = "{company}"
public_key = "{public}"
private_key = "{private}"
client_id = "mspbridge-bench"

[connectwise.ticket]
company_id = 250
board_id = 3
team_id = 26

[rules]
consolidation_interval = "5s"
enable_ticket_correlation = false

[[sources]]
name = "bench"
kind = "webhook"

{clients}"#,
            missing = dir.join("missing").display(),
            company = cw.company_id,
            public = cw.public_key,
            private = cw.private_key,
        ),
    )
    .unwrap();
    path
}

fn alert(n: u64) -> serde_json::Value {
    json!({
        "source": "bench",
        "alert_id": format!("bench-{n}"),
        "alert_name": format!("Alert type {}", n % ALERT_TYPES as u64),
        "client": CLIENTS[(n / ALERT_TYPES as u64) as usize % CLIENTS.len()],
        "occurred_at": "2026-11-23T10:15:00Z",
        "records": [{
            "who": "ACME\\j.doe", "action": "Modified", "object_type": "user",
            "what": format!("\\local\\domain\\acme.local\\Users\\User {n}"),
            "when": "2026-11-23T10:14:58Z", "where": "dc01.acme.local",
            "workstation": format!("ws-{}.acme.local", n % 50)
        }]
    })
}

/// A fresh database: a new schema of the PostgreSQL test database, or a new SQLite file.
async fn fresh_database(postgres: bool, dir: &Path, run: usize) -> String {
    if postgres {
        mspbridge_store::conformance::fresh_postgres_url()
            .await
            .expect("MSPBRIDGE_TEST_POSTGRES_URL names the PostgreSQL server")
    } else {
        format!("sqlite://{}", dir.join(format!("bench-{run}.db")).display())
    }
}

struct Cluster {
    children: Vec<Child>,
    ports: Vec<u16>,
}

impl Cluster {
    async fn start(processes: usize, database: &str, site: &str, dir: &Path) -> Cluster {
        let mut cluster = Cluster {
            children: Vec::new(),
            ports: Vec::new(),
        };
        for _ in 0..processes {
            let port = free_port();
            let path = config(dir, port, database, site);
            let log = std::fs::File::create(dir.join(format!("serve-{port}.log"))).unwrap();
            cluster.children.push(
                Command::new(binary())
                    .args(["-c", path.to_str().unwrap(), "serve"])
                    .env("RUST_LOG", "warn")
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("the release binary starts (cargo build --release -p mspbridge)"),
            );
            cluster.ports.push(port);
        }
        cluster
    }

    async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        for port in &self.ports {
            for attempt in 0.. {
                let url = format!("http://127.0.0.1:{port}/readyz");
                if let Ok(response) = http.get(&url).send().await {
                    if response.status() == 200 {
                        break;
                    }
                }
                assert!(attempt < 600, "serve on {port} did not get ready");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn stop(mut self) {
        for child in &mut self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

/// Alerts per second acknowledged by `processes` processes.
async fn intake(postgres: bool, processes: usize, run: usize, dir: &Path, site: &str) -> f64 {
    let seconds: u64 = env_or("BENCH_CLUSTER_SECS", 10);
    let connections: usize = env_or("BENCH_CLUSTER_CONNECTIONS", 64);
    let database = fresh_database(postgres, dir, run).await;
    let cluster = Cluster::start(processes, &database, site, dir).await;
    cluster.wait_ready().await;
    let accepted = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let mut senders = Vec::new();
    for sender in 0..connections {
        let port = cluster.ports[sender % cluster.ports.len()];
        let (http, accepted, next, stop) =
            (http.clone(), accepted.clone(), next.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let url = format!("http://127.0.0.1:{port}/api/v1/alerts");
            while !stop.load(Ordering::Relaxed) {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let sent = http
                    .post(&url)
                    .bearer_auth(TOKEN)
                    .json(&alert(n))
                    .send()
                    .await;
                if matches!(sent, Ok(response) if response.status() == 202) {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let acked = accepted.load(Ordering::Relaxed);
    for sender in senders {
        let _ = sender.await;
    }
    cluster.stop();
    acked as f64 / elapsed
}

/// Alerts per second taken off a queue of `BENCH_CLUSTER_ALERTS` by `processes` processes.
async fn engine(postgres: bool, processes: usize, run: usize, dir: &Path, site: &str) -> f64 {
    let alerts: u64 = env_or("BENCH_CLUSTER_ALERTS", 20_000);
    let database = fresh_database(postgres, dir, run).await;
    let store = mspbridge_store::open_store(&database).await.unwrap();
    let now = Utc::now();
    for chunk in (0..alerts).collect::<Vec<_>>().chunks(2_000) {
        let batch = chunk
            .iter()
            .map(|n| {
                let mut body = alert(*n);
                body["source_alert_id"] = body["alert_id"].clone();
                body["received_at"] = json!(now);
                let alert: Alert = serde_json::from_value(body).expect("an alert");
                to_new_alert(&alert, now).expect("a storable alert")
            })
            .collect();
        store.accept_alerts_batch(batch).await.unwrap();
    }
    let started = Instant::now();
    let cluster = Cluster::start(processes, &database, site, dir).await;
    loop {
        if store.count_alerts(AlertState::Queued).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    cluster.stop();
    store.close().await;
    alerts as f64 / elapsed
}

#[tokio::main]
async fn main() {
    let counts: Vec<usize> = std::env::var("BENCH_CLUSTER_PROCESSES")
        .unwrap_or_else(|_| "1,2,3".to_string())
        .split(',')
        .map(|n| n.trim().parse().expect("a list of process counts"))
        .collect();
    let sim = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let site = sim.base_url();
    let mut rows = Vec::new();
    let mut run = 0;
    let mut variants = vec![(false, 1)];
    variants.extend(counts.iter().map(|n| (true, *n)));
    for (postgres, processes) in variants {
        run += 1;
        let intake = intake(postgres, processes, run, dir.path(), &site).await;
        run += 1;
        let engine = engine(postgres, processes, run, dir.path(), &site).await;
        let store = if postgres { "PostgreSQL" } else { "SQLite" };
        println!("{store} × {processes}: intake {intake:.0} alerts/s, engine {engine:.0} alerts/s");
        rows.push((store, processes, intake, engine));
    }
    println!();
    println!("| store | `serve` processes | intake (alerts/s acknowledged) | engine (alerts/s taken off the queue) |");
    println!("|---|---:|---:|---:|");
    for (store, processes, intake, engine) in rows {
        println!("| {store} | {processes} | {intake:.0} | {engine:.0} |");
    }
    sim.shutdown().await;
}

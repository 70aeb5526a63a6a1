//! Durable intake against Prometheus Alertmanager's in-memory intake, side by side, same load.
//!
//! Both services run as child processes on this machine: `prometheus-alertmanager` (alerts held in
//! memory, `POST /api/v2/alerts`, a temporary storage path, a free port, no cluster) and the
//! release `mspbridge serve` (a temporary SQLite file, `synchronous = FULL`, its engine running and
//! `[connectwise]` pointing at the ConnectWise simulator in this process). `wrk` drives both with
//! the same Lua script: single alerts, 3 clients × 30 alert names, a fresh id per request,
//! keep-alive connections, 2 threads. Runs alternate between the two tools (who goes first
//! alternates too) and each run gets a fresh instance, so neither carries the other's backlog.
//!
//! A second phase keeps `mspbridge serve` under the same load at one connection count for a longer
//! run and measures, meanwhile: the intake latency (wrk's percentiles), the new-alert-type →
//! ConnectWise create latency (a probe posting an alert of a never-seen type every 100 ms on its
//! own connection, timed to the simulator's arrival timestamp of the create), the queued alerts
//! every 5 s (`mspbridge_alerts_queued` from `/metrics`), and after the run the ConnectWise calls
//! against the rules' minimum.
//!
//! `wrk` and `prometheus-alertmanager` are installed with `apt-get` when missing (as root).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator, SimulatorConfig};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::http::Connection;
use crate::setup::{self, quantile, CLIENTS, TOKEN};

/// Alert names per client in the load.
const NAMES: usize = 30;
/// Between two create-latency probes.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Probes not counted (connection set-up, codebase discovery).
const PROBE_WARM_UP: usize = 5;
/// Between two samples of the queued alerts.
const QUEUE_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// What the comparison runs.
pub struct Plan {
    /// Connection counts of the side-by-side runs.
    pub connections: Vec<usize>,
    /// Runs per tool and connection count.
    pub runs: usize,
    /// Seconds per side-by-side run.
    pub seconds: u64,
    /// Connections of the sustained run.
    pub sustained_connections: usize,
    /// Seconds of the sustained run (0 skips it).
    pub sustained_seconds: u64,
    /// The release `mspbridge` binary.
    pub binary: PathBuf,
}

/// One wrk run's figures.
#[derive(Debug, Clone, Default)]
struct WrkResult {
    requests: u64,
    seconds: f64,
    status_errors: u64,
    socket_errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

impl WrkResult {
    fn accepted_per_second(&self) -> f64 {
        (self.requests.saturating_sub(self.status_errors)) as f64 / self.seconds
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Tool {
    Alertmanager,
    Mspbridge,
}

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::Alertmanager => "Alertmanager",
            Tool::Mspbridge => "mspbridge serve",
        }
    }
}

/// Runs the comparison and the sustained run and prints the results.
pub async fn run(plan: Plan) {
    ensure_tools();
    if !plan.binary.exists() {
        panic!(
            "{} does not exist; build it first with `cargo build --release -p mspbridge` \
             (or point MSPBRIDGE_BIN at the binary)",
            plan.binary.display()
        );
    }
    let versions = [
        version_line("wrk", &["--version"]),
        version_line("prometheus-alertmanager", &["--version"]),
        version_line(plan.binary.to_str().unwrap_or("mspbridge"), &["--version"]),
    ];
    println!(
        "## Durable intake vs Alertmanager ({} s per run, wrk 2 threads, connections {:?}, {} runs each, alternating)",
        plan.seconds, plan.connections, plan.runs
    );
    for version in &versions {
        println!("- {version}");
    }
    println!("- load average before: {}", load_average());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let scripts = Scripts::write(dir.path());

    let mut results: BTreeMap<(usize, Tool), Vec<WrkResult>> = BTreeMap::new();
    let mut run_number = 0usize;
    for &connections in &plan.connections {
        for round in 0..plan.runs {
            let order = if round % 2 == 0 {
                [Tool::Alertmanager, Tool::Mspbridge]
            } else {
                [Tool::Mspbridge, Tool::Alertmanager]
            };
            for tool in order {
                run_number += 1;
                let tag = format!("r{run_number}");
                let result = match tool {
                    Tool::Alertmanager => {
                        let alertmanager = Alertmanager::start(dir.path(), &tag).await;
                        let result = wrk(
                            &scripts.alertmanager,
                            alertmanager.addr,
                            connections,
                            plan.seconds,
                            &tag,
                        )
                        .await;
                        alertmanager.stop().await;
                        result
                    }
                    Tool::Mspbridge => {
                        let simulator = simulator().await;
                        let serve = Serve::start(&plan.binary, dir.path(), &tag, &simulator).await;
                        let result = wrk(
                            &scripts.mspbridge,
                            serve.addr,
                            connections,
                            plan.seconds,
                            &tag,
                        )
                        .await;
                        serve.stop().await;
                        simulator.shutdown().await;
                        result
                    }
                };
                eprintln!(
                    "{} c={connections} run {}: {:.0} alerts/s, p99 {:.2} ms, {} non-2xx, {} socket errors",
                    tool.label(),
                    round + 1,
                    result.accepted_per_second(),
                    result.p99_ms,
                    result.status_errors,
                    result.socket_errors
                );
                results.entry((connections, tool)).or_default().push(result);
            }
        }
    }

    println!();
    println!("| connections | run | Alertmanager alerts/s | mspbridge alerts/s | ratio | Alertmanager p99 (ms) | mspbridge p99 (ms) | errors (AM / mspbridge) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---|");
    for &connections in &plan.connections {
        let none = Vec::new();
        let am = results
            .get(&(connections, Tool::Alertmanager))
            .unwrap_or(&none);
        let ours = results
            .get(&(connections, Tool::Mspbridge))
            .unwrap_or(&none);
        for (index, (am, ours)) in am.iter().zip(ours).enumerate() {
            println!(
                "| {connections} | {} | {:.0} | {:.0} | {:.2}× | {:.2} | {:.2} | {} / {} |",
                index + 1,
                am.accepted_per_second(),
                ours.accepted_per_second(),
                ours.accepted_per_second() / am.accepted_per_second(),
                am.p99_ms,
                ours.p99_ms,
                am.status_errors + am.socket_errors,
                ours.status_errors + ours.socket_errors,
            );
        }
    }
    println!("- load average after: {}", load_average());
    println!();

    if plan.sustained_seconds > 0 {
        sustained(&plan, dir.path(), &scripts).await;
    }
}

/// `mspbridge serve` under the load for a longer run: intake latency, create latency, queue depth
/// and ConnectWise calls.
async fn sustained(plan: &Plan, dir: &Path, scripts: &Scripts) {
    let connections = plan.sustained_connections;
    let seconds = plan.sustained_seconds;
    println!(
        "## mspbridge serve under load: {connections} connections for {seconds} s, create probes every {} ms",
        PROBE_EVERY.as_millis()
    );
    println!("- load average before: {}", load_average());
    let simulator = simulator().await;
    let serve = Serve::start(&plan.binary, dir, "sustained", &simulator).await;
    let started = Instant::now();
    let script = scripts.mspbridge.clone();
    let addr = serve.addr;
    let load =
        tokio::spawn(async move { wrk(&script, addr, connections, seconds, "sustained").await });
    let metrics_url = format!("http://{}/metrics", serve.addr);
    let http = reqwest::Client::new();
    // The load's own alert keys open their tickets first; probes start once they have.
    let load_keys = CLIENTS.len() * NAMES;
    let keys_deadline = Instant::now() + Duration::from_secs(10);
    while creates(&simulator) < load_keys && Instant::now() < keys_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut probe = Connection::open(serve.addr, TOKEN)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let mut to_create = Vec::new();
    let mut to_202 = Vec::new();
    let mut queued = Vec::new();
    let mut next_sample = Instant::now();
    let mut index = 0usize;
    let mut creates_expected = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        if Instant::now() >= next_sample {
            queued.push((
                started.elapsed().as_secs_f64(),
                queued_alerts(&http, &metrics_url).await,
            ));
            next_sample += QUEUE_SAMPLE_EVERY;
        }
        let client = CLIENTS[index % CLIENTS.len()];
        let body = setup::native_alert(
            &format!("probe-{index}"),
            &format!("Probe Type {index}"),
            client,
        );
        let creates_before = creates(&simulator);
        let sent_at = Utc::now();
        let (status, text) = probe
            .post_json("/api/v1/alerts", &body)
            .await
            .unwrap_or_else(|error| panic!("{error}"));
        let acknowledged_at = Utc::now();
        assert_eq!(status, 202, "the probe alert was not accepted: {text}");
        creates_expected += 1;
        let arrived_at = wait_for_probe_create(&simulator, creates_before).await;
        if index >= PROBE_WARM_UP {
            to_create.push(millis(sent_at, arrived_at));
            to_202.push(millis(sent_at, acknowledged_at));
        }
        index += 1;
        let next = sent_at
            + chrono::Duration::from_std(PROBE_EVERY).unwrap_or_else(|_| chrono::Duration::zero());
        if let Ok(wait) = (next - Utc::now()).to_std() {
            tokio::time::sleep(wait).await;
        }
    }
    let load = load.await.expect("the wrk task");
    queued.push((
        started.elapsed().as_secs_f64(),
        queued_alerts(&http, &metrics_url).await,
    ));
    // The backlog left when the load stopped, and how long the engine takes to clear it.
    let drain_started = Instant::now();
    let mut left = queued.last().map(|(_, q)| *q).unwrap_or(0.0);
    while left > 0.0 && drain_started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = queued_alerts(&http, &metrics_url).await;
    }
    let drained_in = drain_started.elapsed().as_secs_f64();
    // Let the last creates arrive before counting calls.
    tokio::time::sleep(Duration::from_secs(2)).await;
    serve.stop().await;
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for request in simulator.state().requests().iter() {
        *calls
            .entry(format!(
                "{} {}",
                request.method,
                setup::endpoint(&request.path)
            ))
            .or_default() += 1;
    }
    simulator.shutdown().await;

    println!();
    println!(
        "intake (wrk): {:.0} alerts/s accepted, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} non-2xx, {} socket errors",
        load.accepted_per_second(),
        load.p50_ms,
        load.p99_ms,
        load.max_ms,
        load.status_errors,
        load.socket_errors
    );
    to_create.sort_by(f64::total_cmp);
    to_202.sort_by(f64::total_cmp);
    println!();
    println!("| probe interval (ms) | samples | p50 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, values) in [
        ("POST sent -> ConnectWise receives the create", &to_create),
        ("POST sent -> 202 read", &to_202),
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
    println!();
    println!(
        "queued alerts (t s: count): {}",
        queued
            .iter()
            .map(|(t, q)| format!("{t:.0}: {q:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let half: Vec<(f64, f64)> = queued
        .iter()
        .copied()
        .filter(|(t, _)| *t >= seconds as f64 / 2.0)
        .collect();
    println!(
        "queue trend over the second half: {:+.0} alerts/s (intake {:.0} alerts/s); backlog at the end drained in {drained_in:.1} s{}",
        slope(&half),
        load.accepted_per_second(),
        if left > 0.0 { " (NOT drained within 120 s)" } else { "" }
    );
    // The rules' minimum with the flood limit lifted and no consolidation flush inside the run:
    // one codebase discovery, then one create per alert key (3 clients × 30 names, each probe).
    let keys = CLIENTS.len() * NAMES + creates_expected;
    let total: usize = calls.values().sum();
    println!(
        "ConnectWise calls: {total} (minimum: 1 discovery + {keys} creates = {})",
        keys + 1
    );
    for (call, count) in &calls {
        println!("  {call}: {count}");
    }
    println!("- load average after: {}", load_average());
    println!();
}

fn slope(points: &[(f64, f64)]) -> f64 {
    if points.len() < 2 {
        return f64::NAN;
    }
    let n = points.len() as f64;
    let mean_t = points.iter().map(|(t, _)| t).sum::<f64>() / n;
    let mean_q = points.iter().map(|(_, q)| q).sum::<f64>() / n;
    let covariance: f64 = points
        .iter()
        .map(|(t, q)| (t - mean_t) * (q - mean_q))
        .sum();
    let variance: f64 = points.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    covariance / variance
}

async fn queued_alerts(http: &reqwest::Client, url: &str) -> f64 {
    let text = http
        .get(url)
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .unwrap_or_else(|error| panic!("GET {url}: {error}"))
        .text()
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}"));
    text.lines()
        .find_map(|line| line.strip_prefix("mspbridge_alerts_queued "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no mspbridge_alerts_queued in {url}"))
}

fn creates(simulator: &ConnectWiseSimulator) -> usize {
    simulator
        .state()
        .requests()
        .iter()
        .filter(|request| request.method == "POST" && request.path.ends_with("/service/tickets"))
        .count()
}

/// Waits for the first ticket create after the first `before` creates: once the load's own keys
/// have their tickets, the probe is the only alert that opens one.
async fn wait_for_probe_create(simulator: &ConnectWiseSimulator, before: usize) -> DateTime<Utc> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let created = simulator
            .state()
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/service/tickets"))
            .nth(before)
            .map(|r| r.timestamp);
        if let Some(at) = created {
            return at;
        }
        assert!(
            Instant::now() < deadline,
            "no ticket create reached ConnectWise within 30 s of a probe"
        );
        // Polling only paces this loop; the latency is the simulator's own arrival timestamp.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn millis(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

async fn simulator() -> ConnectWiseSimulator {
    connectwise::spawn(
        SimulatorConfig::default(),
        "127.0.0.1:0".parse().expect("a loopback address"),
    )
    .await
    .expect("starting the ConnectWise simulator")
}

/// The wrk scripts of both tools.
struct Scripts {
    alertmanager: PathBuf,
    mspbridge: PathBuf,
}

impl Scripts {
    fn write(dir: &Path) -> Scripts {
        let alertmanager = dir.join("alertmanager.lua");
        let mspbridge = dir.join("mspbridge.lua");
        std::fs::write(
            &alertmanager,
            lua("/api/v2/alerts", None, &alertmanager_body()),
        )
        .expect("writing the Alertmanager wrk script");
        std::fs::write(
            &mspbridge,
            lua("/api/v1/alerts", Some(TOKEN), &mspbridge_body()),
        )
        .expect("writing the mspbridge wrk script");
        Scripts {
            alertmanager,
            mspbridge,
        }
    }
}

const ID: &str = "@@ID@@";
const NAME: &str = "@@NAME@@";
const CLIENT: &str = "@@CLIENT@@";

/// The native alert the benchmarks post (one activity record, ~600 bytes).
fn mspbridge_body() -> String {
    setup::native_alert(ID, NAME, CLIENT)
}

/// The same alert as an Alertmanager v2 alert: identity and record fields as labels and
/// annotations.
fn alertmanager_body() -> String {
    json!([{
        "labels": {
            "alertname": NAME,
            "client": CLIENT,
            "alert_id": ID,
            "source": "bench",
            "severity": "warning",
        },
        "annotations": {
            "who": "ACME\\j.doe",
            "action": "Modified",
            "object_type": "user",
            "what": "\\local\\domain\\acme.local\\Users\\Jane Roe",
            "when": "2026-11-23T10:14:58Z",
            "where": "dc01.acme.local",
            "workstation": "ws-0042.acme.local",
            "details": "Password: (none) -> reset; userAccountControl: 512 -> 66048",
            "data_source": "Active Directory",
            "monitoring_plan": "AD changes",
        },
        "generatorURL": "http://bench.invalid/rid",
    }])
    .to_string()
}

/// A wrk script posting `body` with `@@ID@@`, `@@NAME@@` and `@@CLIENT@@` filled per request.
fn lua(path: &str, token: Option<&str>, body: &str) -> String {
    let mut expression = Vec::new();
    let mut rest = body;
    loop {
        let next = [(ID, "id"), (NAME, "name"), (CLIENT, "client")]
            .into_iter()
            .filter_map(|(marker, variable)| rest.find(marker).map(|at| (at, marker, variable)))
            .min_by_key(|(at, _, _)| *at);
        match next {
            Some((at, marker, variable)) => {
                expression.push(format!("[==[{}]==]", &rest[..at]));
                expression.push(variable.to_string());
                rest = &rest[at + marker.len()..];
            }
            None => {
                expression.push(format!("[==[{rest}]==]"));
                break;
            }
        }
    }
    let authorization = token
        .map(|token| format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"))
        .unwrap_or_default();
    let clients = CLIENTS
        .iter()
        .map(|client| format!("\"{client}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"-- single alerts: {clients_count} clients x {NAMES} alert names, a fresh id per request
wrk.method = "POST"
wrk.path = "{path}"
wrk.headers["Content-Type"] = "application/json"
{authorization}local clients = {{{clients}}}
local started = 0
function setup(thread)
  thread:set("tid", started)
  started = started + 1
end
local n = 0
function request()
  n = n + 1
  local id = run .. "-" .. tid .. "-" .. n
  local client = clients[n % {clients_count} + 1]
  local name = "Bench Type " .. (math.floor(n / {clients_count}) % {NAMES})
  return wrk.format(nil, nil, nil, {body})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d status=%d socket=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"#,
        clients_count = CLIENTS.len(),
        body = expression.join(" .. "),
    )
}

/// Runs wrk against `addr`; `tag` makes this run's alert ids unique.
async fn wrk(
    script: &Path,
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
    tag: &str,
) -> WrkResult {
    // The run tag reaches the script as a global through a one-line prelude script.
    let prelude = script.with_file_name(format!("run-{tag}-{}.lua", connections));
    let text = std::fs::read_to_string(script).expect("reading the wrk script");
    std::fs::write(&prelude, format!("run = \"{tag}\"\n{text}")).expect("writing the wrk script");
    let output = Command::new("wrk")
        .arg("-t2")
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&prelude)
        .arg(format!("http://{addr}"))
        .stdin(Stdio::null())
        .output()
        .await
        .expect("running wrk");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|line| line.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no result; stdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|part| part.strip_prefix(&format!("{name}=")))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("wrk result without {name}: {line}"))
    };
    WrkResult {
        requests: field("requests"),
        seconds: field("duration_us") as f64 / 1e6,
        status_errors: field("status"),
        socket_errors: field("socket"),
        p50_ms: field("p50_us") as f64 / 1000.0,
        p99_ms: field("p99_us") as f64 / 1000.0,
        max_ms: field("max_us") as f64 / 1000.0,
    }
}

/// Installs `wrk` and `prometheus-alertmanager` with apt-get when they are not on the PATH.
fn ensure_tools() {
    let missing: Vec<&str> = ["wrk", "prometheus-alertmanager"]
        .into_iter()
        .filter(|tool| which(tool).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    eprintln!("installing {missing:?} with apt-get");
    let install = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .map(|status| status.success())
            .unwrap_or(false)
    };
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(&missing);
    if !install(&args) {
        install(&["update"]);
        assert!(
            install(&args),
            "apt-get could not install {missing:?}; install them (as root) and run again"
        );
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(tool))
            .find(|path| path.is_file())
    })
}

fn version_line(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|output| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            text.lines().next().unwrap_or_default().trim().to_string()
        })
        .unwrap_or_else(|error| format!("{program}: {error}"))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// An Alertmanager child process.
struct Alertmanager {
    addr: SocketAddr,
    child: Child,
}

impl Alertmanager {
    async fn start(dir: &Path, tag: &str) -> Alertmanager {
        let config = dir.join("alertmanager.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: \"null\"\n  group_by: [alertname, client]\nreceivers:\n  - name: \"null\"\n",
        )
        .expect("writing the Alertmanager configuration");
        let storage = dir.join(format!("alertmanager-{tag}"));
        std::fs::create_dir_all(&storage).expect("the Alertmanager storage path");
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting prometheus-alertmanager");
        let http = reqwest::Client::new();
        let ready = format!("http://{addr}/-/ready");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = http.get(&ready).send().await {
                if response.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager did not get ready on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Alertmanager { addr, child }
    }

    async fn stop(mut self) {
        terminate(&mut self.child).await;
    }
}

/// An `mspbridge serve` child process with a temporary SQLite database.
struct Serve {
    addr: SocketAddr,
    child: Child,
}

impl Serve {
    async fn start(
        binary: &Path,
        dir: &Path,
        tag: &str,
        simulator: &ConnectWiseSimulator,
    ) -> Serve {
        let database = dir.join(format!("{tag}.db"));
        let config_path = dir.join(format!("{tag}.toml"));
        // Every probe is a new alert type: the flood limit would otherwise send all but ten per
        // client to the flood ticket.
        std::fs::write(
            &config_path,
            setup::config_text(
                &database,
                Some(&simulator.base_url()),
                "ticket_flood_limit = 1000000",
            ),
        )
        .expect("writing the serve configuration");
        let log = std::fs::File::create(dir.join(format!("{tag}.log"))).expect("the serve log");
        let mut child = Command::new(binary)
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
        let mut stdout = BufReader::new(child.stdout.take().expect("the child's stdout")).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), stdout.next_line())
            .await
            .ok()
            .and_then(|line| line.ok().flatten())
            .unwrap_or_else(|| panic!("`mspbridge serve` did not print its URL"));
        let addr = url
            .trim()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|_| panic!("`mspbridge serve` printed {url:?}, not its URL"));
        Serve { addr, child }
    }

    async fn stop(mut self) {
        terminate(&mut self.child).await;
    }
}

async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

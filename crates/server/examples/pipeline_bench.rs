//! Benchmarks of the alert-to-ticket pipeline on this machine: durable intake throughput over
//! HTTP, new-alert-type → ConnectWise create latency, ConnectWise calls per alert in a storm
//! against the rules' minimum, and peak memory of `mspbridge serve` with a million queued alerts.
//!
//! They exist to check the scale targets of the product (≥ 20,000 alerts/s acknowledged, p99 ≤
//! 25 ms to the create, no more ConnectWise calls than the rules need, ≤ 64 MB with a deep queue)
//! with numbers rather than belief; results and the commands that produced them are kept in
//! `BENCHMARKS.md`. Everything talks real HTTP over loopback to the ConnectWise simulator.
//!
//! ```text
//! cargo build --release -p mspbridge          # for `rss`
//! cargo run --release -p mspbridge-server --example pipeline_bench -- [intake|latency|storm|rss|engine|rollup|all]
//! cargo run --release -p mspbridge-server --example pipeline_bench -- soak   # minutes; not in `all`
//! cargo run --release -p mspbridge-server --example pipeline_bench -- vs-alertmanager   # not in `all`
//! ```
//!
//! Knobs (environment): `BENCH_INTAKE_SECS` (5), `BENCH_INTAKE_CONNECTIONS` (`32,64,128`),
//! `BENCH_LATENCY_SAMPLES` (400), `BENCH_STORM` (`types,repeats,window_secs` = `10,20,5`),
//! `BENCH_ENGINE_ALERTS` (100000), `BENCH_ROLLUP_COUNTS` (200000), `BENCH_RSS_ALERTS` (1000000), `BENCH_RSS_SECS` (30),
//! `BENCH_SOAK_SECS` (600), `BENCH_SOAK_RATE` (1500 alerts/s), `BENCH_SOAK_SAMPLE_SECS` (30),
//! `BENCH_SOAK_CONSOLIDATION` (`1m`, the soak's `consolidation_interval`),
//! `BENCH_VS_CONNECTIONS` (`16,64,256`), `BENCH_VS_RUNS` (2), `BENCH_VS_SECS` (10),
//! `BENCH_VS_SUSTAINED_CONNECTIONS` (64), `BENCH_VS_SUSTAINED_SECS` (60, 0 skips it),
//! `MSPBRIDGE_BIN` (the release binary), `BENCH_LOG` (a log filter such as `sqlx::query=debug`,
//! written to stderr: every SQL statement with its time, to count what a page of alerts costs).

#[path = "pipeline_bench/engine.rs"]
mod engine;
#[path = "pipeline_bench/http.rs"]
mod http;
#[path = "pipeline_bench/intake.rs"]
mod intake;
#[path = "pipeline_bench/latency.rs"]
mod latency;
#[path = "pipeline_bench/rollup.rs"]
mod rollup;
#[path = "pipeline_bench/rss.rs"]
mod rss;
#[path = "pipeline_bench/setup.rs"]
mod setup;
#[path = "pipeline_bench/soak.rs"]
mod soak;
#[path = "pipeline_bench/storm.rs"]
mod storm;
#[path = "pipeline_bench/vs_alertmanager.rs"]
mod vs_alertmanager;

use std::path::PathBuf;
use std::process::ExitCode;

/// The allocator the `mspbridge` binary uses, so the in-process service is measured as shipped.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a valid value")),
        Err(_) => default,
    }
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(text) => text
            .split(',')
            .map(|part| {
                part.trim().parse().unwrap_or_else(|_| {
                    panic!("{name}={text:?} is not a comma-separated list of numbers")
                })
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn release_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MSPBRIDGE_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("release").join("mspbridge")
}

fn machine() {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .map(|line| line.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let profile = if cfg!(debug_assertions) {
        "DEBUG build (numbers are not representative; use --release)"
    } else {
        "release build"
    };
    println!("# mspbridge pipeline benchmarks: {cores} cores, {memory} RAM, {profile}");
    println!();
}

#[tokio::main]
async fn main() -> ExitCode {
    mspbridge_server::allocator::give_freed_memory_back_at_once();
    // What the service does while measured, e.g. its SQL statements (`sqlx::query=debug`).
    if std::env::var("BENCH_LOG").is_ok() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_env("BENCH_LOG"))
            .with_writer(std::io::stderr)
            .init();
    }
    let which = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let known = [
        "intake",
        "latency",
        "storm",
        "rss",
        "engine",
        "rollup",
        "soak",
        "vs-alertmanager",
        "all",
    ];
    if !known.contains(&which.as_str()) {
        eprintln!(
            "unknown benchmark {which:?}; choose one of: {}",
            known.join(", ")
        );
        return ExitCode::from(2);
    }
    machine();
    let all = which == "all";
    if all || which == "intake" {
        let connections = env_list("BENCH_INTAKE_CONNECTIONS", &[32, 64, 128]);
        intake::run(&connections, env_or("BENCH_INTAKE_SECS", 5)).await;
    }
    if all || which == "latency" {
        latency::run(env_or("BENCH_LATENCY_SAMPLES", 400)).await;
    }
    if all || which == "storm" {
        let shape = env_list("BENCH_STORM", &[10, 20, 5]);
        let [types, repeats, window_secs] = shape[..] else {
            panic!("BENCH_STORM must be types,repeats,window_secs");
        };
        storm::run(storm::Storm {
            types,
            repeats,
            window_secs: window_secs as u64,
        })
        .await;
    }
    if all || which == "engine" {
        engine::run(env_or("BENCH_ENGINE_ALERTS", 100_000)).await;
    }
    if all || which == "rollup" {
        rollup::run(env_or("BENCH_ROLLUP_COUNTS", 200_000));
    }
    if all || which == "rss" {
        rss::run(
            env_or("BENCH_RSS_ALERTS", 1_000_000),
            env_or("BENCH_RSS_SECS", 30),
            release_binary(),
        )
        .await;
    }
    // Not part of `all`: it needs wrk and Alertmanager and runs for minutes.
    if which == "vs-alertmanager" {
        vs_alertmanager::run(vs_alertmanager::Plan {
            connections: env_list("BENCH_VS_CONNECTIONS", &[16, 64, 256]),
            runs: env_or("BENCH_VS_RUNS", 2),
            seconds: env_or("BENCH_VS_SECS", 10),
            sustained_connections: env_or("BENCH_VS_SUSTAINED_CONNECTIONS", 64),
            sustained_seconds: env_or("BENCH_VS_SUSTAINED_SECS", 60),
            binary: release_binary(),
        })
        .await;
    }
    // Not part of `all`: it runs for minutes.
    if which == "soak" {
        soak::run(
            env_or("BENCH_SOAK_SECS", 600),
            env_or("BENCH_SOAK_RATE", 1500),
            env_or("BENCH_SOAK_SAMPLE_SECS", 30),
            &env_or("BENCH_SOAK_CONSOLIDATION", "1m".to_string()),
        )
        .await;
    }
    ExitCode::SUCCESS
}

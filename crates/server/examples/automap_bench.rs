//! Benchmark of IT Glue import and auto-mapping at a large MSP's size: 10,000 organizations,
//! 50,000 contacts, 100,000 configurations in an in-process IT Glue simulator, 10,000 clients and
//! 100,000 systems in a SQLite store.
//!
//! The simulator (holding the whole account in memory) and the seeding run in this process; the
//! import and the auto-map run in a child process of the same program, the way `mspbridge itglue
//! automap` runs against a real account, so the child's peak resident memory is mspbridge's alone.
//! The child runs under `/usr/bin/time -v` when that exists (its maximum resident set size is
//! printed) and reports its own `VmHWM` as well; it uses the `mspbridge` binary's allocator.
//!
//! It reports the requests the import used against the minimum (one per 1,000 records of each
//! collection read), the 429s the simulator answered (its limit is IT Glue's 3,000 requests per
//! window), the wall time of the import and of the auto-map run, the CPU time of the matching rules
//! alone, and the peak resident memory. The rate-limit window defaults to IT Glue's 300 s and can
//! be shortened with `AUTOMAP_BENCH_WINDOW_SECS` so a run that needs more than 3,000 requests does
//! not have to wait five minutes per window.
//!
//! Run: `cargo run --release -p mspbridge-server --example automap_bench`

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use mspbridge_connectors::itglue::{ItGlueBase, ItGlueClient, ItGlueSettings, RequestBudget};
use mspbridge_core::config::parse_str;
use mspbridge_core::itglue_map::{
    automap, AutomapInput, ExistingMappings, MapClient, MapConfiguration, MapContact,
    MapOrganization, MapSystem,
};
use mspbridge_server::itglue::{automap_instance, import_instance, ImportRequest, NoProgress};
use mspbridge_simulators::itglue::{spawn, ItGlueSeed, ItGlueSimConfig, RateLimit};
use mspbridge_store::inventory::{NewSystem, SystemOrigin};
use mspbridge_store::open_store;
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set in the child process: the simulator's base URL and the SQLite file, separated by a space.
const CHILD_ENV: &str = "AUTOMAP_BENCH_CHILD";

const ORGANIZATIONS: i64 = 10_000;
const CONTACTS_PER_ORG: i64 = 5;
const CONFIGURATIONS_PER_ORG: i64 = 10;
const KEY: &str = "ITG.bench";
/// Organizations whose important contacts share a domain with the previous organization's, to
/// exercise the ambiguous-domain path (event 4018).
const SHARED_DOMAIN_EVERY: i64 = 500;

const ORG_BASE: i64 = 1_000_000;
const CONTACT_BASE: i64 = 2_000_000;
const CONFIGURATION_BASE: i64 = 3_000_000;
const INTERFACE_BASE: i64 = 4_000_000;

fn mac(n: i64) -> [u8; 6] {
    let n = n as u64;
    [
        0x02,
        (n >> 32) as u8,
        (n >> 24) as u8,
        (n >> 16) as u8,
        (n >> 8) as u8,
        n as u8,
    ]
}

fn domain(org: i64) -> String {
    // Every SHARED_DOMAIN_EVERY-th organization reuses the previous one's domain.
    let owner = if org % SHARED_DOMAIN_EVERY == 0 {
        org - 1
    } else {
        org
    };
    format!("org{owner}.example")
}

fn seed() -> ItGlueSeed {
    let mut organizations = Vec::new();
    let mut contacts = Vec::new();
    let mut configurations = Vec::new();
    for org in 1..=ORGANIZATIONS {
        organizations.push(json!({"id": ORG_BASE + org, "name": format!("Organization {org}")}));
        for c in 0..CONTACTS_PER_ORG {
            let id = CONTACT_BASE + org * CONTACTS_PER_ORG + c;
            // Two important contacts, one flagged false, two never flagged (null).
            let important: Value = match c {
                0 | 1 => json!(true),
                2 => json!(false),
                _ => Value::Null,
            };
            contacts.push(json!({
                "id": id,
                "organization_id": ORG_BASE + org,
                "first_name": format!("Contact{c}"),
                "important": important,
                "contact_emails": [
                    {"value": format!("c{c}@{}", domain(org)), "primary": true, "label_name": "Work"},
                    {"value": format!("c{c}.home@mail{org}.example"), "primary": false, "label_name": "Home"}
                ],
            }));
        }
        for k in 0..CONFIGURATIONS_PER_ORG {
            let n = org * CONFIGURATIONS_PER_ORG + k;
            let m = mac(n);
            // Primary MACs in upper-case dashed form; every fifth only on a secondary interface.
            let primary = format!(
                "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            );
            let mut configuration = json!({
                "id": CONFIGURATION_BASE + n,
                "organization_id": ORG_BASE + org,
                "name": format!("ORG{org}-CFG{k}"),
                "configuration_type_id": 9_000_000,
            });
            if k % 5 == 4 {
                configuration["interfaces"] = json!([{
                    "id": INTERFACE_BASE + n,
                    "name": "Secondary",
                    "mac_address": format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]),
                    "primary": false
                }]);
            } else {
                configuration["mac_address"] = json!(primary);
            }
            configurations.push(configuration);
        }
    }
    let document = json!({
        "organizations": organizations,
        "contacts": contacts,
        "configuration_types": [{"id": 9_000_000, "name": "Managed Workstation", "kind": "workstation"}],
        "configurations": configurations,
    });
    ItGlueSeed::from_json(&document.to_string(), "automap benchmark").expect("a valid seed")
}

fn config_text(base_url: &str) -> String {
    let mut text = String::new();
    let mut names = Vec::new();
    for org in 1..=ORGANIZATIONS {
        let name = format!("Client {org}");
        text.push_str(&format!(
            "[[clients]]\nname = \"{name}\"\nemail = \"it@{}\"\n\n",
            domain(org)
        ));
        names.push(format!("\"{name}\""));
    }
    text.push_str(&format!(
        "[[itglue]]\nname = \"bench\"\nurl = \"{base_url}\"\napi_key = \"{KEY}\"\nclients = [{}]\n",
        names.join(", ")
    ));
    text
}

fn systems() -> Vec<NewSystem> {
    let mut systems = Vec::new();
    for org in 1..=ORGANIZATIONS {
        for k in 0..CONFIGURATIONS_PER_ORG {
            let n = org * CONFIGURATIONS_PER_ORG + k;
            let m = mac(n);
            // One system in fifty has no MAC (event 4019).
            let macs = if n % 50 == 7 {
                Vec::new()
            } else {
                vec![format!(
                    "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                    m[0], m[1], m[2], m[3], m[4], m[5]
                )]
            };
            systems.push(NewSystem {
                client: format!("Client {org}"),
                name: format!("ws-{org}-{k}"),
                macs,
                sensor: Some("agent".into()),
                origin: SystemOrigin::Csv,
            });
        }
    }
    systems
}

/// CPU time this thread has used (Linux `/proc/thread-self/schedstat`, nanoseconds).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Peak resident set size of the process (`VmHWM`).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .map(|line| line.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn window() -> Duration {
    std::env::var("AUTOMAP_BENCH_WINDOW_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(300))
}

#[tokio::main]
async fn main() {
    match std::env::var(CHILD_ENV) {
        Ok(spec) => {
            let (url, db) = spec.split_once(' ').expect("URL and database path");
            child(url, db).await
        }
        Err(_) => parent().await,
    }
}

/// The account side: the simulator and the seeded store, then the child, then the request count.
async fn parent() {
    let window = window();
    let started = Instant::now();
    let seed = seed();
    let simulator = spawn(
        ItGlueSimConfig {
            api_keys: vec![KEY.into()],
            seed,
            rate_limit: RateLimit::new(3_000, window),
            ..ItGlueSimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .expect("start the simulator");
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("bench.db");
    let store = open_store(&format!("sqlite://{}", db.display()))
        .await
        .expect("open the store");
    let seeded = Instant::now();
    store
        .upsert_systems(systems(), Utc::now())
        .await
        .expect("store systems");
    let systems_stored = seeded.elapsed();
    store.close().await;
    println!(
        "seeded in {:.1?} (systems stored in {systems_stored:.1?})",
        started.elapsed()
    );

    let exe = std::env::current_exe().expect("own path");
    let timed = std::path::Path::new("/usr/bin/time").exists();
    let mut command = if timed {
        let mut command = Command::new("/usr/bin/time");
        command.arg("-v").arg(&exe);
        command
    } else {
        Command::new(&exe)
    };
    let base_url = simulator.base_url().to_string();
    let db_path = db.display().to_string();
    let status_lines = tokio::task::spawn_blocking(move || {
        let mut child = command
            .env(CHILD_ENV, format!("{base_url} {db_path}"))
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the import and auto-map process");
        let stderr = child.stderr.take().expect("stderr");
        let mut kept = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let trimmed = line.trim();
            if trimmed.starts_with("Maximum resident set size")
                || trimmed.starts_with("Elapsed (wall clock)")
                || trimmed.starts_with("User time")
                || trimmed.starts_with("System time")
            {
                kept.push(trimmed.to_string());
            } else if !timed || !line.starts_with('\t') {
                eprintln!("{line}");
            }
        }
        let status = child.wait().expect("wait for the child");
        assert!(status.success(), "the import and auto-map process failed");
        kept
    })
    .await
    .expect("child");

    let requests = simulator.state().requests();
    let throttled = requests.iter().filter(|r| r.status == 429).count();
    let important = ORGANIZATIONS * 2;
    let minimum = |records: i64| (records + 999) / 1000;
    let minimum_requests = minimum(ORGANIZATIONS)
        + minimum(important)
        + minimum(ORGANIZATIONS * CONFIGURATIONS_PER_ORG);
    println!(
        "  import requests: {} (minimum {minimum_requests}), {throttled} answered 429, rate limit 3000 per {} s",
        requests.len(),
        window.as_secs()
    );
    for line in status_lines {
        println!("  import and auto-map process (/usr/bin/time -v): {line}");
    }
    println!(
        "  peak RSS of this process (simulator, seeding): {}",
        peak_rss()
    );
    println!("  total: {:.1?}", started.elapsed());
}

/// The mspbridge side: import, auto-map, then the matching rules alone for their CPU time.
async fn child(base_url: &str, db: &str) {
    let window = window();
    let started = Instant::now();
    let config = parse_str(&config_text(base_url), "bench.toml").expect("config");
    let instance = &config.itglue[0];
    let store = open_store(&format!("sqlite://{db}"))
        .await
        .expect("open the store");
    let now = Utc::now();

    let mut settings = ItGlueSettings::new(ItGlueBase::Url(base_url.parse().unwrap()), KEY);
    settings.budget = RequestBudget {
        max_requests: RequestBudget::DEFAULT_MAX_REQUESTS,
        window,
    };
    let client = ItGlueClient::new(settings).expect("client");
    let import_started = Instant::now();
    let imported = import_instance(
        store.as_ref(),
        &client,
        &instance.name,
        &ImportRequest::default(),
        &NoProgress,
        now,
    )
    .await
    .expect("import");
    let import_time = import_started.elapsed();
    let after_import = peak_rss();

    let run_started = Instant::now();
    let summary = automap_instance(store.as_ref(), &config, instance, now)
        .await
        .expect("auto-map");
    let run_time = run_started.elapsed();
    let after_automap = peak_rss();
    let systems_seen = summary.systems_mapped
        + summary.systems_manual
        + summary.systems_failed
        + summary.systems_without_organization;
    drop(summary.result);

    println!("IT Glue auto-map benchmark");
    println!(
        "  data: {} organizations, {} contacts ({} important), {} configurations, {} clients, {} systems",
        imported.organizations,
        ORGANIZATIONS * CONTACTS_PER_ORG,
        imported.contacts,
        imported.configurations,
        config.clients.len(),
        systems_seen
    );
    println!("  import (HTTP, JSON:API decoding, store): {import_time:.2?}");
    println!(
        "  full auto-map run (store read, rules, mappings and events written): {run_time:.2?}; clients {} mapped / {} failed, systems {} mapped / {} failed / {} skipped (client unmapped)",
        summary.clients_mapped,
        summary.clients_failed,
        summary.systems_mapped,
        summary.systems_failed,
        summary.systems_without_organization
    );
    println!("  peak RSS (VmHWM) after the import: {after_import}; after the auto-map run: {after_automap}");
    println!("  import and auto-map: {:.1?}", started.elapsed());
    // The matching rules alone, on data already in memory.
    let directory = store
        .itglue_directory(&instance.name)
        .await
        .expect("directory");
    let clients: Vec<MapClient> = config
        .clients
        .iter()
        .map(|c| MapClient {
            name: c.name.clone(),
            email: c.email.clone(),
        })
        .collect();
    let organizations: Vec<MapOrganization> = directory
        .organizations
        .iter()
        .map(|o| MapOrganization {
            id: o.id,
            name: o.name.clone(),
        })
        .collect();
    let contacts: Vec<MapContact> = directory
        .contacts
        .iter()
        .map(|c| MapContact {
            organization_id: c.organization_id,
            important: c.important,
            emails: c.emails.clone(),
        })
        .collect();
    let configurations: Vec<MapConfiguration> = directory
        .configurations
        .iter()
        .map(|c| MapConfiguration {
            id: c.id,
            organization_id: c.organization_id,
            name: c.name.clone(),
            macs: c.macs.clone(),
        })
        .collect();
    let map_systems: Vec<MapSystem> = store
        .list_systems(None)
        .await
        .expect("systems")
        .into_iter()
        .map(|s| MapSystem {
            client: s.client,
            name: s.name,
            macs: s.macs,
        })
        .collect();
    let existing = ExistingMappings::default();
    let cpu_before = thread_cpu();
    let wall_before = Instant::now();
    let result = automap(AutomapInput {
        clients: &clients,
        organizations: &organizations,
        contacts: &contacts,
        configurations: &configurations,
        systems: &map_systems,
        existing: &existing,
    });
    let matching_wall = wall_before.elapsed();
    let matching_cpu = thread_cpu().saturating_sub(cpu_before);
    drop(result);
    println!(
        "  matching rules alone: {:.3} s CPU ({:.3} s wall)",
        matching_cpu.as_secs_f64(),
        matching_wall.as_secs_f64()
    );
    store.close().await;
}

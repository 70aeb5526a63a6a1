//! Crash test: a storm of alerts while `mspbridge serve` is killed with SIGKILL at random moments
//! and restarted. Afterwards every accepted alert is on its ticket, and no incident has two
//! tickets — "nothing accepted is lost" and "no duplicates" (DESIGN §5), checked against the
//! ConnectWise simulator over real loopback HTTP.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mspbridge_simulators::connectwise::{self, SimulatorConfig};
use mspbridge_store::model::AlertState;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");
const TOKEN: &str = "crash-test-token";
const ALERTS: usize = 5_000;
const KILLS: usize = 10;
const CLIENTS: [(&str, i64); 3] = [("Acme", 250), ("Globex", 251), ("Initech", 252)];
const ALERT_TYPES: [&str; 6] = [
    "Password Reset",
    "Failed Logon",
    "Group Membership Changed",
    "File Deleted",
    "User Account Created",
    "Mailbox Permission Changed",
];

const CRASH_RULES: &str = r#"consolidation_interval = "1s"
ticket_flood_limit = 1000
enable_ticket_correlation = false"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, port: u16, site: &str, rules: &str) -> std::path::PathBuf {
    let database = format!("sqlite://{}", dir.join("crash.db").display());
    write_config_on(dir, port, site, rules, &database)
}

/// [`write_config`] with any database URL, in a file of its own per port.
fn write_config_on(
    dir: &Path,
    port: u16,
    site: &str,
    rules: &str,
    database: &str,
) -> std::path::PathBuf {
    let sim = SimulatorConfig::default();
    let mut clients = String::new();
    for (name, company) in CLIENTS {
        clients.push_str(&format!(
            "[[clients]]\nname = \"{name}\"\nconnectwise = {{ company_id = {company}, board_id = 3 }}\n\n"
        ));
    }
    let path = dir.join(format!("mspbridge-{port}.toml"));
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
client_id = "crash-test"
request_timeout = "5s"

[connectwise.ticket]
company_id = 42
board_id = 1

[rules]
{rules}

[[sources]]
name = "storm"
kind = "webhook"

{clients}"#,
            missing = dir.join("missing").display(),
            company = sim.company_id,
            public = sim.public_key,
            private = sim.private_key,
        ),
    )
    .unwrap();
    path
}

fn start_serve(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(BIN)
        .args(["-c", config.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts")
}

fn alert_body(n: usize) -> serde_json::Value {
    let (client, _) = CLIENTS[n % CLIENTS.len()];
    let alert_name = ALERT_TYPES[(n / CLIENTS.len()) % ALERT_TYPES.len()];
    serde_json::json!({
        "source": "storm",
        "alert_id": format!("storm-{n}"),
        "alert_name": alert_name,
        "client": client,
        "occurred_at": "2026-11-23T10:00:00Z",
        "records": [{
            "who": format!("ACME\\user{}", n % 97),
            "action": "Modified",
            "object_type": "user",
            "what": format!("marker-{n}-end"),
            "when": "2026-11-23T10:00:00Z",
            "where": "dc01.acme.example",
            "workstation": format!("ws-{}", n % 13)
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_with_repeated_sigkill_loses_nothing_and_duplicates_nothing() {
    let sim = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, &sim.base_url(), CRASH_RULES);
    let log = dir.path().join("serve.log");
    let seed: u64 = rand::random();
    println!("crash test seed {seed}, serve log {}", log.display());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let child = Arc::new(Mutex::new(start_serve(&config, &log)));
    let accepted = Arc::new(Mutex::new(HashSet::new()));

    // Senders behave like Auditor's response action: retry until acknowledged with 202.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/alerts");
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..16 {
        let (http, url, next, accepted) =
            (http.clone(), url.clone(), next.clone(), accepted.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= ALERTS {
                    return;
                }
                let body = alert_body(n);
                loop {
                    let sent = http.post(&url).bearer_auth(TOKEN).json(&body).send().await;
                    match sent {
                        Ok(response) if response.status() == 202 => {
                            accepted.lock().await.insert(n);
                            break;
                        }
                        Ok(response) if response.status().is_client_error() => {
                            panic!(
                                "alert {n} refused: {} {}",
                                response.status(),
                                response.text().await.unwrap_or_default()
                            )
                        }
                        _ => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        }));
    }

    // The killer: SIGKILL at random moments while the storm runs, then restart at once.
    for kill in 0..KILLS {
        let wait = rng.gen_range(300..1_500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let mut guard = child.lock().await;
        guard.kill().expect("SIGKILL");
        guard.wait().unwrap();
        println!(
            "kill {} after {wait} ms with {} alerts accepted",
            kill + 1,
            accepted.lock().await.len()
        );
        *guard = start_serve(&config, &log);
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(
        accepted.lock().await.len(),
        ALERTS,
        "every alert was acknowledged eventually"
    );

    // Let the last process finish everything: no queued alert, no pending job. Bounded wait.
    let store = mspbridge_store::open_store(&format!(
        "sqlite://{}",
        dir.path().join("crash.db").display()
    ))
    .await
    .unwrap();
    let mut settled = false;
    for _ in 0..600 {
        let states: HashMap<AlertState, u64> = store
            .count_alerts_by_state()
            .await
            .unwrap()
            .into_iter()
            .collect();
        let depth = store.queue_depth().await.unwrap();
        let queued_alerts = states.get(&AlertState::Queued).copied().unwrap_or(0);
        if queued_alerts == 0 && depth.queued == 0 && depth.running == 0 {
            assert_eq!(depth.dead, 0, "no job was dead-lettered");
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    child.lock().await.kill().ok();
    assert!(
        settled,
        "the service did not finish the storm; see {}",
        log.display()
    );

    assert_every_alert_on_exactly_one_incident_ticket(&sim);
}

/// The storm of DESIGN §3 through a real `serve`: every incident costs exactly what the rules
/// allow — one create, and for its repeats one flush: a status read, one note, one attachment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_through_serve_costs_the_minimum_connectwise_calls() {
    const REPEATS: usize = 10;
    let incidents = CLIENTS.len() * ALERT_TYPES.len();
    let sim = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // A window long enough that every repeat is sent inside it, even on a slow machine.
    let rules = "consolidation_interval = \"10s\"\nenable_ticket_correlation = false";
    let config = write_config(dir.path(), port, &sim.base_url(), rules);
    let log = dir.path().join("serve.log");
    let child = start_serve(&config, &log);

    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/alerts");
    for attempt in 0..200 {
        match http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            Ok(response) if response.status() == 200 => break,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        assert!(
            attempt < 199,
            "serve did not get ready; see {}",
            log.display()
        );
    }
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..incidents * REPEATS {
        let (http, url) = (http.clone(), url.clone());
        requests.spawn(async move {
            let response = http
                .post(&url)
                .bearer_auth(TOKEN)
                .json(&alert_body(n))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 202);
        });
    }
    while let Some(done) = requests.join_next().await {
        done.unwrap();
    }

    // Wait (bounded) for the flushes: one note and one attachment per incident.
    let mut flushed = false;
    for _ in 0..300 {
        let state = sim.state();
        let notes: usize = state
            .tickets()
            .iter()
            .map(|ticket| state.notes(ticket["id"].as_i64().unwrap()).len())
            .sum();
        if notes >= incidents && state.documents().len() >= incidents {
            flushed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_gracefully(child);
    assert!(flushed, "the flushes did not happen; see {}", log.display());

    let calls: Vec<String> = sim
        .state()
        .requests()
        .iter()
        .map(|request| format!("{} {}", request.method, request.path))
        .collect();
    let count = |method: &str, pattern: fn(&str) -> bool| {
        calls
            .iter()
            .filter(|call| {
                call.split_once(' ')
                    .is_some_and(|(m, path)| m == method && pattern(path))
            })
            .count()
    };
    let is_ticket = |path: &str| {
        path.rsplit_once("/service/tickets/")
            .is_some_and(|(_, id)| id.parse::<i64>().is_ok())
    };
    assert_eq!(
        count("GET", |p| p.contains("/login/companyinfo/")),
        1,
        "{calls:#?}"
    );
    assert_eq!(
        count("POST", |p| p.ends_with("/service/tickets")),
        incidents,
        "{calls:#?}"
    );
    assert_eq!(count("GET", is_ticket), incidents, "{calls:#?}");
    assert_eq!(
        count("POST", |p| p.ends_with("/notes")),
        incidents,
        "{calls:#?}"
    );
    assert_eq!(
        count("POST", |p| p.ends_with("/system/documents")),
        incidents,
        "{calls:#?}"
    );
    // Nothing else: codebase discovery once, then 4 calls per incident.
    assert_eq!(calls.len(), 1 + 4 * incidents, "{calls:#?}");
}

/// SIGTERM, then wait for the exit.
fn stop_gracefully(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "serve exited with {exit}");
}

/// One ticket per incident key (client + alert type), and every alert's record on its ticket: in
/// the description or a note, or in the attachment that carries the records of a consolidated
/// update.
fn assert_every_alert_on_exactly_one_incident_ticket(sim: &connectwise::ConnectWiseSimulator) {
    let tickets = sim.state().tickets();
    let mut per_key: BTreeMap<(i64, String), Vec<i64>> = BTreeMap::new();
    for ticket in &tickets {
        let company = ticket["company"]["id"].as_i64().unwrap();
        let summary = ticket["summary"].as_str().unwrap().to_string();
        per_key
            .entry((company, summary))
            .or_default()
            .push(ticket["id"].as_i64().unwrap());
    }
    let duplicated: Vec<_> = per_key.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        duplicated.is_empty(),
        "incidents with more than one ticket: {duplicated:?}"
    );
    assert_eq!(per_key.len(), CLIENTS.len() * ALERT_TYPES.len());

    let mut texts: Vec<String> = Vec::new();
    for ticket in &tickets {
        for note in sim.state().notes(ticket["id"].as_i64().unwrap()) {
            texts.push(note["text"].as_str().unwrap_or_default().to_string());
        }
    }
    for document in sim.state().documents() {
        texts.push(String::from_utf8_lossy(&document.content).into_owned());
    }
    let mut seen = BTreeSet::new();
    for text in &texts {
        for piece in text.split("marker-").skip(1) {
            if let Some((n, _)) = piece.split_once("-end") {
                if let Ok(n) = n.parse::<usize>() {
                    seen.insert(n);
                }
            }
        }
    }
    let missing: Vec<usize> = (0..ALERTS).filter(|n| !seen.contains(n)).take(20).collect();
    assert!(
        missing.is_empty(),
        "alerts missing from every ticket (first 20): {missing:?}"
    );
}

//! Crash test: a storm of alerts while `mspbridge serve` is killed with SIGKILL at random moments
//! and restarted. Afterwards every accepted alert is on its ticket, and no incident has two
//! tickets — "nothing accepted is lost" and "no duplicates" (DESIGN §5), checked against the
//! ConnectWise simulator over real loopback HTTP.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod support;

use mspbridge_simulators::connectwise::{self, Fault, SimulatorConfig};
use mspbridge_store::model::AlertState;
use rand::{Rng, SeedableRng};
use support::{free_port, start_serve, stop_gracefully, wait_ready};
use tokio::sync::Mutex;

const TOKEN: &str = "crash-test-token";
const ALERTS: usize = 5_000;
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

/// Storms with fixed seeds, so a failure found once can be run again; one more storm runs with a
/// random seed (printed at its start and in every failure message).
const SEEDS: [u64; 2] = [0x6d73_7062_7269_6467, 20_261_207];

/// Alerts and SIGKILLs per storm. Three storms: 5,100 alerts and 51 kills in all, about a minute
/// on two cores. `MSPBRIDGE_CRASH_SCALE=N` multiplies both for a longer run.
const STORM_ALERTS: usize = 1_700;
const STORM_KILLS: usize = 17;

/// How long the ConnectWise simulator holds back its answer to every note, document and ticket
/// POST after doing the write: the window between a write and its job's completion, widened so
/// the killer can hit it.
const HOLD: Duration = Duration::from_millis(300);

fn crash_scale() -> usize {
    std::env::var("MSPBRIDGE_CRASH_SCALE")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|scale| *scale > 0)
        .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_with_repeated_sigkill_lose_nothing_and_duplicate_nothing() {
    let scale = crash_scale();
    let random: u64 = rand::random();
    let seeds: Vec<u64> = SEEDS.iter().copied().chain([random]).collect();
    println!("crash test seeds {seeds:?} (the last one random), scale {scale}");
    // The storms run side by side (each its own simulator, database and `serve`): most of a
    // storm's time is spent waiting for restarts and held answers, not computing.
    let storms: Vec<_> = seeds
        .into_iter()
        .map(|seed| {
            tokio::spawn(storm_with_sigkills(
                seed,
                STORM_ALERTS * scale,
                STORM_KILLS * scale,
            ))
        })
        .collect();
    let (mut alerts, mut kills, mut in_hold) = (0, 0, 0);
    for storm in storms {
        let storm = storm.await.unwrap();
        alerts += storm.alerts;
        kills += storm.kills;
        in_hold += storm.kills_in_hold;
    }
    println!(
        "{alerts} alerts, {kills} SIGKILLs, {in_hold} of them while ConnectWise held the answer \
         to a write"
    );
    assert!(alerts >= 5_000 && kills >= 50);
    assert!(
        in_hold * 4 >= kills,
        "only {in_hold} of {kills} kills fell between a write and its job's completion"
    );
}

struct StormOutcome {
    alerts: usize,
    kills: usize,
    kills_in_hold: usize,
}

/// One storm of `alerts` alerts against `serve`, killed `kills` times (each restarted at once),
/// then every alert counted on the ConnectWise simulator.
async fn storm_with_sigkills(seed: u64, alerts: usize, kills: usize) -> StormOutcome {
    let sim = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    for (path, method) in [
        ("/service/tickets/*/notes", "POST"),
        ("/system/documents", "POST"),
        ("/service/tickets", "POST"),
    ] {
        sim.faults()
            .inject(Fault::hold_response(HOLD).on_path(path).on_method(method));
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, &sim.base_url(), CRASH_RULES);
    let log = dir.path().join("serve.log");
    println!(
        "storm seed {seed}: {alerts} alerts, {kills} kills, serve log {}",
        log.display()
    );
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
                if n >= alerts {
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
                                "seed {seed}: alert {n} refused: {} {}",
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

    // The killer: SIGKILL at random moments, most of them while ConnectWise holds the answer to a
    // write it has done (the job that made it is still running), then restart at once.
    let mut kills_in_hold = 0;
    for kill in 0..kills {
        let wait = rng.gen_range(200..900);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if rng.gen_bool(0.8) {
            // Wait (up to 3 s) for a held write.
            for _ in 0..600 {
                if sim.faults().holding() > 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let mut guard = child.lock().await;
        let held = sim.faults().holding() > 0;
        guard.kill().expect("SIGKILL");
        guard.wait().unwrap();
        kills_in_hold += usize::from(held);
        println!(
            "seed {seed}: kill {} after {wait} ms{} with {} alerts accepted",
            kill + 1,
            if held { " during a held write" } else { "" },
            accepted.lock().await.len()
        );
        *guard = start_serve(&config, &log);
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(
        accepted.lock().await.len(),
        alerts,
        "seed {seed}: every alert was acknowledged eventually"
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
            assert_eq!(depth.dead, 0, "seed {seed}: no job was dead-lettered");
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    store.close().await;
    {
        let mut last = child.lock().await;
        last.kill().ok();
        last.wait().ok();
    }
    assert!(
        settled,
        "seed {seed}: the service did not finish the storm; see {}",
        log.display()
    );

    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_every_alert_on_exactly_one_incident_ticket_of(&sim, alerts)
    }));
    if let Err(panic) = checked {
        println!(
            "crash test failed with seed {seed}; serve log kept in {}",
            log.display()
        );
        std::mem::forget(dir);
        std::panic::resume_unwind(panic);
    }
    sim.shutdown().await;
    StormOutcome {
        alerts,
        kills,
        kills_in_hold,
    }
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
    wait_ready(port, &log).await;
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

/// [`assert_every_alert_on_exactly_one_incident_ticket_of`] for a storm of [`ALERTS`].
fn assert_every_alert_on_exactly_one_incident_ticket(sim: &connectwise::ConnectWiseSimulator) {
    assert_every_alert_on_exactly_one_incident_ticket_of(sim, ALERTS);
}

/// Counted as a multiset, not a set: one ticket per incident key (client + alert type); every
/// alert carried exactly once — by its ticket's description (the first alert) or by exactly one
/// update note, whose count names it, with its record in exactly one attachment; every attachment
/// named by exactly one note and posted exactly once; every update note's marker line once.
fn assert_every_alert_on_exactly_one_incident_ticket_of(
    sim: &connectwise::ConnectWiseSimulator,
    alerts: usize,
) {
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

    // Alerts by incident, as the sender made them: (company, alert type) of alert n.
    let incident_of = |n: usize| {
        let company = CLIENTS[n % CLIENTS.len()].1;
        let name = ALERT_TYPES[(n / CLIENTS.len()) % ALERT_TYPES.len()];
        (company, format!("[mspbridge] {name}"))
    };
    let mut expected: BTreeMap<(i64, String), usize> = BTreeMap::new();
    for n in 0..alerts {
        *expected.entry(incident_of(n)).or_default() += 1;
    }

    let mut carried: HashMap<usize, usize> = HashMap::new();
    let mut note_markers: HashMap<String, usize> = HashMap::new();
    let mut named_files: HashMap<String, usize> = HashMap::new();
    for ticket in &tickets {
        let id = ticket["id"].as_i64().unwrap();
        let key = (
            ticket["company"]["id"].as_i64().unwrap(),
            ticket["summary"].as_str().unwrap().to_string(),
        );
        let mut counted = 0;
        for note in sim.state().notes(id) {
            let text = note["text"].as_str().unwrap_or_default();
            match text
                .lines()
                .find(|line| line.trim().starts_with("(mspbridge update "))
            {
                // An update note: it counts its alerts and names the attachment with their records.
                Some(marker) => {
                    *note_markers.entry(marker.trim().to_string()).or_default() += 1;
                    counted += update_count(text)
                        .unwrap_or_else(|| panic!("an update note without a count: {text}"));
                    if let Some(file) = text
                        .split("The activity records are attached as ")
                        .nth(1)
                        .and_then(|rest| rest.split_once(".txt."))
                    {
                        *named_files.entry(format!("{}.txt", file.0)).or_default() += 1;
                    }
                }
                // The description: the alert that opened the ticket.
                None => {
                    let markers = markers_in(text);
                    assert_eq!(markers.len(), 1, "a description carries one alert: {text}");
                    counted += 1;
                    for n in markers {
                        *carried.entry(n).or_default() += 1;
                        assert_eq!(incident_of(n), key, "alert {n} on the wrong ticket");
                    }
                }
            }
        }
        assert_eq!(
            counted,
            expected.get(&key).copied().unwrap_or(0),
            "ticket {id} {key:?}: its description and update notes count this many alerts"
        );
    }
    let twice: Vec<_> = note_markers.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "update notes posted more than once: {twice:?}"
    );

    let mut files: HashMap<String, usize> = HashMap::new();
    for document in sim.state().documents() {
        *files.entry(document.file_name.clone()).or_default() += 1;
        let text = String::from_utf8_lossy(&document.content);
        for n in markers_in(&text) {
            *carried.entry(n).or_default() += 1;
        }
    }
    let twice: Vec<_> = files.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "attachments posted more than once: {twice:?}"
    );
    assert_eq!(
        files, named_files,
        "every attachment is named by exactly one update note, and every named one is there"
    );
    let missing: Vec<usize> = (0..alerts)
        .filter(|n| !carried.contains_key(n))
        .take(20)
        .collect();
    assert!(
        missing.is_empty(),
        "alerts missing from every ticket (first 20): {missing:?}"
    );
    let mut duplicated: Vec<(usize, usize)> = carried
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(n, count)| (*n, *count))
        .collect();
    duplicated.sort_unstable();
    assert!(
        duplicated.is_empty(),
        "alerts carried more than once (alert, times): {duplicated:?}"
    );
}

/// The alert numbers of the `marker-N-end` values in `text`, one per occurrence.
fn markers_in(text: &str) -> Vec<usize> {
    text.split("marker-")
        .skip(1)
        .filter_map(|piece| piece.split_once("-end")?.0.parse().ok())
        .collect()
}

/// How many alerts an update note carries: "1 more … alert" or "N more … alerts".
fn update_count(text: &str) -> Option<usize> {
    let (count, _) = text.trim_start().split_once(" more ")?;
    count.parse().ok()
}

/// The storm against three `serve` processes sharing one PostgreSQL database, with the senders
/// spread over all three and SIGKILLs of random processes (each restarted at once): afterwards
/// nothing is lost and nothing is duplicated, exactly as with one process. Needs
/// `MSPBRIDGE_TEST_POSTGRES_URL` (see `store/tests/postgres.rs`); skipped with a note without it,
/// except under CI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_postgres_survive_sigkills_during_a_storm() {
    const PROCESSES: usize = 3;
    const HA_KILLS: usize = 20;
    let Some(database) = mspbridge_store::conformance::fresh_postgres_url().await else {
        return;
    };
    let sim = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..PROCESSES).map(|_| free_port()).collect();
    let configs: Vec<_> = ports
        .iter()
        .map(|port| write_config_on(dir.path(), *port, &sim.base_url(), CRASH_RULES, &database))
        .collect();
    let log = dir.path().join("serve.log");
    let seed: u64 = rand::random();
    println!("HA test seed {seed}, serve log {}", log.display());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    // The first process creates the schema before the others race to.
    let first = start_serve(&configs[0], &log);
    wait_ready(ports[0], &log).await;
    let mut children = vec![first];
    for config in &configs[1..] {
        children.push(start_serve(config, &log));
    }
    let children = Arc::new(Mutex::new(children));
    let accepted = Arc::new(Mutex::new(HashSet::new()));
    let started = std::time::Instant::now();

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for sender in 0..16 {
        let (http, next, accepted, ports) =
            (http.clone(), next.clone(), accepted.clone(), ports.clone());
        senders.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= ALERTS {
                    return;
                }
                let body = alert_body(n);
                // Like a load balancer: the next process when one does not answer.
                let mut target = (n + sender) % ports.len();
                loop {
                    let url = format!("http://127.0.0.1:{}/api/v1/alerts", ports[target]);
                    match http.post(&url).bearer_auth(TOKEN).json(&body).send().await {
                        Ok(response) if response.status() == 202 => {
                            accepted.lock().await.insert(n);
                            break;
                        }
                        Ok(response) if response.status().is_client_error() => panic!(
                            "alert {n} refused: {} {}",
                            response.status(),
                            response.text().await.unwrap_or_default()
                        ),
                        _ => {
                            target = (target + 1) % ports.len();
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }
        }));
    }

    for kill in 0..HA_KILLS {
        let wait = rng.gen_range(150..700);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let victim = rng.gen_range(0..PROCESSES);
        let mut guard = children.lock().await;
        guard[victim].kill().expect("SIGKILL");
        guard[victim].wait().unwrap();
        println!(
            "kill {} of process {victim} after {wait} ms with {} alerts accepted",
            kill + 1,
            accepted.lock().await.len()
        );
        guard[victim] = start_serve(&configs[victim], &log);
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(accepted.lock().await.len(), ALERTS);
    println!("storm acknowledged after {:?}", started.elapsed());

    let store = mspbridge_store::open_store(&database).await.unwrap();
    let mut settled = false;
    for _ in 0..900 {
        let queued_alerts = store.count_alerts(AlertState::Queued).await.unwrap();
        let depth = store.queue_depth().await.unwrap();
        if queued_alerts == 0 && depth.queued == 0 && depth.running == 0 {
            assert_eq!(depth.dead, 0, "no job was dead-lettered");
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for child in children.lock().await.iter_mut() {
        child.kill().ok();
        child.wait().ok();
    }
    store.close().await;
    println!("storm settled after {:?}", started.elapsed());
    assert!(
        settled,
        "the processes did not finish the storm; see {}",
        log.display()
    );
    assert_every_alert_on_exactly_one_incident_ticket(&sim);
}

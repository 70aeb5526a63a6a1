//! Several `serve` processes on one PostgreSQL database, against the ConnectWise simulator over
//! real loopback HTTP:
//!
//! * a storm of alerts spread over three processes while random ones are SIGKILLed and restarted:
//!   afterwards every alert is on its incident's ticket exactly once, every attachment was
//!   uploaded once, and each incident has one ticket;
//! * a process killed while it holds a job's lease (its ConnectWise call held up by the
//!   simulator): another process finishes the job once the lease has run out, exactly once.
//!
//! Both need `MSPBRIDGE_TEST_POSTGRES_URL` (see `store/tests/postgres.rs`); without it they are
//! skipped with a note, except under CI.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mspbridge_simulators::connectwise::{self, ConnectWiseSimulator, Fault, SimulatorConfig};
use mspbridge_store::model::{AlertState, Job, JobFilter, JobState};
use mspbridge_store::Store;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");
const TOKEN: &str = "ha-test-token";
const CLIENTS: [(&str, i64); 3] = [("Acme", 250), ("Globex", 251), ("Initech", 252)];
const ALERT_TYPES: [&str; 6] = [
    "Password Reset",
    "Failed Logon",
    "Group Membership Changed",
    "File Deleted",
    "User Account Created",
    "Mailbox Permission Changed",
];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `serve` configuration on `database`, in a file of its own per port.
fn write_config(dir: &Path, port: u16, site: &str, database: &str, extra: &str) -> PathBuf {
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
client_id = "ha-test"
request_timeout = "5s"

[connectwise.ticket]
company_id = 42
board_id = 1

{extra}

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
        // Warnings, and how the engines split the queue.
        .env("RUST_LOG", "warn,mspbridge_server::engine::claims=info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts")
}

async fn wait_ready(port: u16, log: &Path) {
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if let Ok(response) = http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if response.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("serve did not get ready; see {}", log.display());
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

/// The alert numbers `text` names with `open` … `close` (e.g. `marker-` … `-end`), with repeats.
fn numbers_in(text: &str, open: &str, close: &str) -> Vec<usize> {
    text.split(open)
        .skip(1)
        .filter_map(|piece| piece.split_once(close))
        .filter_map(|(n, _)| n.parse().ok())
        .collect()
}

/// What ConnectWise ended up with, counted as a multiset: each incident key (company + summary)
/// has one ticket; every one of `alerts` is carried exactly once — in its ticket's initial
/// description (the ticket's first note) or in the attachment of one consolidated update (with
/// the default `display_only_first_activity_record`, the update note summarises the alerts and the
/// attachment holds one section per alert); every update note has its one attachment and no
/// attachment was uploaded twice. Returns the number of tickets.
fn assert_carried_exactly_once(
    sim: &ConnectWiseSimulator,
    alerts: &[usize],
    incidents: usize,
) -> usize {
    let state = sim.state();
    let tickets = state.tickets();
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
    assert_eq!(per_key.len(), incidents, "one ticket per incident");

    let mut carried: BTreeMap<usize, usize> = alerts.iter().map(|n| (*n, 0)).collect();
    let mut update_notes = 0;
    for ticket in &tickets {
        let mut notes = state.notes(ticket["id"].as_i64().unwrap());
        notes.sort_by_key(|note| note["id"].as_i64());
        let mut notes = notes.into_iter();
        let description = notes.next().expect("a ticket has its initial description");
        let text = description["text"].as_str().unwrap_or_default();
        let named = numbers_in(text, "marker-", "-end");
        assert_eq!(
            named.len(),
            1,
            "an initial description carries one alert: {text}"
        );
        *carried.entry(named[0]).or_default() += 1;
        for note in notes {
            let text = note["text"].as_str().unwrap_or_default();
            assert!(
                text.contains("The activity records are attached as"),
                "an update note names its attachment: {text}"
            );
            update_notes += 1;
        }
    }
    let documents = state.documents();
    let mut contents = HashSet::new();
    for document in &documents {
        let content = String::from_utf8_lossy(&document.content).into_owned();
        let sections = numbers_in(&content, "(storm-", ")");
        assert!(
            !sections.is_empty(),
            "an attachment carries alerts: {content}"
        );
        let mut markers = numbers_in(&content, "marker-", "-end");
        let mut named = sections.clone();
        markers.sort_unstable();
        named.sort_unstable();
        assert_eq!(markers, named, "each section holds its own alert's record");
        for n in sections {
            *carried.entry(n).or_default() += 1;
        }
        assert!(contents.insert(content), "an attachment was uploaded twice");
    }
    assert_eq!(
        update_notes,
        documents.len(),
        "every update note has exactly one attachment"
    );
    let wrong: Vec<(usize, usize)> = carried
        .iter()
        .filter(|(n, times)| **times != 1 || !alerts.contains(n))
        .map(|(n, times)| (*n, *times))
        .take(20)
        .collect();
    assert!(
        wrong.is_empty(),
        "alerts not carried exactly once (alert, times; first 20): {wrong:?}"
    );
    tickets.len()
}

/// Waits (bounded) until no alert is queued and no job is waiting or running.
async fn settle(store: &dyn Store, rounds: usize) -> bool {
    for _ in 0..rounds {
        let queued_alerts = store.count_alerts(AlertState::Queued).await.unwrap();
        let depth = store.queue_depth().await.unwrap();
        if queued_alerts == 0 && depth.queued == 0 && depth.running == 0 {
            assert_eq!(depth.dead, 0, "no job was dead-lettered");
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

const STORM_RULES: &str = r#"[rules]
consolidation_interval = "1s"
ticket_flood_limit = 1000
enable_ticket_correlation = false"#;

/// The storm against three `serve` processes sharing one PostgreSQL database, with the senders
/// spread over all three and SIGKILLs of random processes (each restarted at once): afterwards
/// nothing is lost and nothing is duplicated, counted alert by alert.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_postgres_survive_sigkills_during_a_storm() {
    const PROCESSES: usize = 3;
    const ALERTS: usize = 5_000;
    const KILLS: usize = 20;
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
        .map(|port| write_config(dir.path(), *port, &sim.base_url(), &database, STORM_RULES))
        .collect();
    let log = dir.path().join("serve.log");
    let seed: u64 = std::env::var("HA_TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(rand::random);
    println!(
        "HA test seed {seed} (HA_TEST_SEED={seed} repeats it), serve log {}",
        log.display()
    );
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

    for kill in 0..KILLS {
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
    // A bound, not a speed target: debug builds on a busy 2-core machine drain slowly.
    let settled = settle(store.as_ref(), 3_000).await;
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
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged
            .lines()
            .any(|line| line.contains("engines sharing the queue changed")
                && line.contains("engines=3")),
        "the three processes split the queue between them; see {}",
        log.display()
    );
    let tickets = assert_carried_exactly_once(
        &sim,
        &(0..ALERTS).collect::<Vec<_>>(),
        CLIENTS.len() * ALERT_TYPES.len(),
    );
    println!(
        "{ALERTS} alerts on {tickets} tickets with {} attachments, each exactly once (seed {seed})",
        sim.state().documents().len()
    );
}

/// The live `serve` processes of the takeover test, by port.
struct Processes {
    dir: PathBuf,
    site: String,
    database: String,
    log: PathBuf,
    running: Vec<(u16, Child)>,
}

const TAKEOVER_RULES: &str = r#"[jobs]
lease = "6s"

[rules]
consolidation_interval = "1s"
enable_ticket_correlation = false"#;

impl Processes {
    async fn start_one(&mut self) -> u16 {
        let port = free_port();
        let config = write_config(&self.dir, port, &self.site, &self.database, TAKEOVER_RULES);
        let child = start_serve(&config, &self.log);
        wait_ready(port, &self.log).await;
        self.running.push((port, child));
        port
    }

    /// SIGKILLs the process whose worker id (`host:pid`) is `owner`; returns its port.
    fn kill_owner(&mut self, owner: &str) -> u16 {
        let pid: u32 = owner
            .rsplit_once(':')
            .and_then(|(_, pid)| pid.parse().ok())
            .unwrap_or_else(|| panic!("a worker id ends in its pid: {owner}"));
        let index = self
            .running
            .iter()
            .position(|(_, child)| child.id() == pid)
            .unwrap_or_else(|| panic!("{owner} is none of the running processes"));
        let (port, mut child) = self.running.remove(index);
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        port
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// The running job of `kind`, once one is leased (bounded wait).
async fn leased_job(store: &dyn Store, kind: &str) -> Job {
    for _ in 0..300 {
        let filter = JobFilter {
            state: Some(JobState::Running),
            kind: Some(kind.to_string()),
            ..JobFilter::default()
        };
        if let Some(job) = store.list_jobs(filter, 1).await.unwrap().pop() {
            if job.lease_owner.is_some() {
                return job;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {kind} job was leased");
}

/// Holds up the next `POST` under `path` for longer than it takes to kill the process sending it.
fn hold_next_post(sim: &ConnectWiseSimulator, path: &str) {
    sim.faults().inject(
        Fault::delay(Duration::from_millis(4_000))
            .on_method("POST")
            .on_path(path)
            .times(1),
    );
}

/// Waits for the job of `kind` to be leased and kills its holder while its call is held up (see
/// [`hold_next_post`]); returns the job as it was leased.
async fn kill_holder_mid_call(store: &dyn Store, processes: &mut Processes, kind: &str) -> Job {
    let job = leased_job(store, kind).await;
    // Long enough for the holder to have sent its request, well inside the 4 s hold-up.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let owner = job.lease_owner.clone().unwrap();
    let port = processes.kill_owner(&owner);
    println!(
        "killed {owner} (port {port}) holding {kind} job {} until {:?}",
        job.id, job.lease_expires_at
    );
    job
}

/// Another process attempted the killed holder's job again, only once the lease had run out
/// (its successful `POST` whose path ends with `path` arrived after the expiry), and finished it.
async fn assert_taken_over_after_lease(
    sim: &ConnectWiseSimulator,
    store: &dyn Store,
    killed: &Job,
    path: &str,
) {
    let mut done = None;
    for _ in 0..300 {
        let job = store.get_job(killed.id).await.unwrap().unwrap();
        if job.state == JobState::Done {
            done = Some(job);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done =
        done.unwrap_or_else(|| panic!("job {} was not finished by another process", killed.id));
    assert!(
        done.attempts > killed.attempts,
        "the job was attempted again: {done:?}"
    );
    let expiry = killed.lease_expires_at.expect("a leased job has an expiry");
    let posts: Vec<_> = sim
        .state()
        .requests()
        .into_iter()
        .filter(|request| {
            request.method == "POST" && request.path.ends_with(path) && request.status < 300
        })
        .collect();
    let last = posts
        .last()
        .unwrap_or_else(|| panic!("no POST …{path} succeeded"));
    assert!(
        last.timestamp >= expiry,
        "the call was made again only after the lease ran out ({} < {expiry})",
        last.timestamp
    );
}

/// A process killed while it holds a job's lease, its ConnectWise call in flight: another
/// process finishes the job once the lease has run out — the ticket create, then the update note
/// and its attachment — each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_lease_holder_s_job_is_finished_by_another_process_exactly_once() {
    let Some(database) = mspbridge_store::conformance::fresh_postgres_url().await else {
        return;
    };
    let sim = connectwise::spawn(SimulatorConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    println!("serve log {}", log.display());
    let mut processes = Processes {
        dir: dir.path().to_path_buf(),
        site: sim.base_url(),
        database: database.clone(),
        log: log.clone(),
        running: Vec::new(),
    };
    let first = processes.start_one().await;
    processes.start_one().await;
    let store = mspbridge_store::open_store(&database).await.unwrap();
    let http = reqwest::Client::new();
    let send = |port: u16, n: usize| {
        let http = http.clone();
        async move {
            let response = http
                .post(format!("http://127.0.0.1:{port}/api/v1/alerts"))
                .bearer_auth(TOKEN)
                .json(&alert_body(n))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 202);
        }
    };

    // The ticket create: its holder dies while ConnectWise holds its POST.
    hold_next_post(&sim, "/service/tickets");
    send(first, 0).await;
    let create = kill_holder_mid_call(store.as_ref(), &mut processes, "ticket.create").await;
    // The survivor's /metrics shows the shared queue: the job the dead process still leases.
    let survivor = processes.running[0].0;
    let metrics = http
        .get(format!("http://127.0.0.1:{survivor}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|line| line == "mspbridge_queue_depth 1"),
        "{metrics}"
    );
    assert_taken_over_after_lease(&sim, store.as_ref(), &create, "/service/tickets").await;
    let tickets = sim.state().tickets();
    assert_eq!(tickets.len(), 1, "one ticket, not one per attempt");
    let ticket_id = tickets[0]["id"].as_i64().unwrap();
    assert!(settle(store.as_ref(), 300).await, "see {}", log.display());

    // A consolidated update (a repeat of the same incident): its note's holder killed.
    let repeat = CLIENTS.len() * ALERT_TYPES.len();
    let port = processes.start_one().await;
    hold_next_post(&sim, &format!("/service/tickets/{ticket_id}/notes"));
    send(port, repeat).await;
    let note = kill_holder_mid_call(store.as_ref(), &mut processes, "ticket.note").await;
    assert_taken_over_after_lease(&sim, store.as_ref(), &note, "/notes").await;
    assert!(settle(store.as_ref(), 300).await, "see {}", log.display());

    // Another update: its attachment's holder killed during the upload.
    let port = processes.start_one().await;
    hold_next_post(&sim, "/system/documents");
    send(port, 2 * repeat).await;
    let attachment =
        kill_holder_mid_call(store.as_ref(), &mut processes, "ticket.attachment").await;
    assert_taken_over_after_lease(&sim, store.as_ref(), &attachment, "/system/documents").await;
    assert!(settle(store.as_ref(), 300).await, "see {}", log.display());
    store.close().await;
    drop(processes);

    let state = sim.state();
    let notes = state.notes(ticket_id);
    assert_eq!(
        notes.len(),
        3,
        "the description and one note per update: {notes:#?}"
    );
    assert_eq!(state.documents().len(), 2, "one attachment per update");
    assert_eq!(
        assert_carried_exactly_once(&sim, &[0, repeat, 2 * repeat], 1),
        1
    );
}

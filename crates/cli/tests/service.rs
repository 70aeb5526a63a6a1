//! `mspbridge serve`, the `alert` response action (through the running service and straight into
//! the store when it is down), and the `tickets`, `events` and `queue` listings, as real processes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use chrono::Utc;
use mspbridge_simulators::auditor::{self, AuditorSimConfig, AuditorSimulator};
use mspbridge_store::{AlertFilter, Incident, NewEvent, NewJob, Store};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_mspbridge");
const TOKEN: &str = "cli-intake-token-93c1";

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    listen: String,
    _auditor: AuditorSimulator,
}

impl Setup {
    fn database(&self) -> PathBuf {
        self.dir.path().join("mspbridge.db")
    }

    async fn store(&self) -> std::sync::Arc<dyn Store> {
        mspbridge_store::open_store(&format!("sqlite://{}", self.database().display()))
            .await
            .unwrap()
    }
}

/// A free loopback port for `server.listen` (the `alert` command must know where the service is).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn setup_with(extra_sources: &str, database: Option<&str>) -> Setup {
    let auditor = auditor::spawn(
        AuditorSimConfig::new("ACME\\svc", "auditor-pw"),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let database = database
        .map(str::to_string)
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("mspbridge.db").display()));
    let text = format!(
        r#"
[server]
listen = "{listen}"
database = "{database}"
api_tokens = ["{TOKEN}"]

[[sources]]
name = "auditor-acme"
kind = "netwrix-auditor"
url = "{auditor_url}"
username = "ACME\\svc"
password = "auditor-pw"
client = "Acme"
{extra_sources}
[[clients]]
name = "Acme"
email = "it@acme.example"
"#,
        auditor_url = auditor.base_url(),
    );
    let config = dir.path().join("mspbridge.toml");
    std::fs::write(&config, text).unwrap();
    Setup {
        dir,
        config,
        listen,
        _auditor: auditor,
    }
}

async fn setup() -> Setup {
    setup_with("", None).await
}

async fn mspbridge(config: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("-c")
        .arg(config)
        .args(args)
        .env_remove("MSPBRIDGE_CONFIG")
        .env_remove("RUST_LOG");
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Starts `mspbridge serve` and waits for the URL it prints once listening.
async fn serve(config: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("-c")
        .arg(config)
        .arg("serve")
        .env_remove("MSPBRIDGE_CONFIG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line.trim().to_string()
    })
    .await
    .unwrap();
    assert!(url.starts_with("http://"), "serve printed {url:?}");
    (child, url)
}

/// Sends SIGTERM to the service we started and waits for a clean exit.
async fn stop(mut child: Child) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "serve exited with {exit}");
}

async fn stored_alerts(setup: &Setup) -> Vec<mspbridge_store::Alert> {
    let store = setup.store().await;
    let alerts = store
        .list_alerts(AlertFilter::default(), 100)
        .await
        .unwrap();
    store.close().await;
    alerts
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_goes_through_the_running_service_and_repeats_are_duplicates() {
    let setup = setup().await;
    let (child, url) = serve(&setup.config).await;
    assert_eq!(url, format!("http://{}", setup.listen));
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);

    let rid = "20260131080000123B9451771F5964A9EAC0A5F35307EA155";
    let output = mspbridge(&setup.config, &["alert", "alert-guid-1", rid]).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let id: i64 = stdout.trim().parse().expect("the alert id on stdout");
    assert!(stderr.contains("by the service"), "{stderr}");

    let output = mspbridge(&setup.config, &["alert", "alert-guid-1", rid]).await;
    let (again, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(again.trim(), id.to_string());
    assert!(stderr.contains("already queued"), "{stderr}");

    // Auditor's Test run: sample ids matching no record are queued and crash nothing.
    let output = mspbridge(
        &setup.config,
        &[
            "alert",
            "--source",
            "auditor-acme",
            "--name",
            "Password Reset",
            "SampleAlertID",
            "SampleRecordID",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output).1);
    let health = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(health.status().as_u16(), 200);

    stop(child).await;
    let alerts = stored_alerts(&setup).await;
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].source, "auditor-acme");
    assert_eq!(alerts[0].source_alert_id, format!("alert-guid-1/{rid}"));
    assert_eq!(alerts[1].source_alert_id, "SampleAlertID/SampleRecordID");
    // Without --name the AlertID names the alert; with it, the given name does.
    assert_eq!(alerts[0].alert_name, "alert-guid-1");
    assert_eq!(alerts[1].alert_name, "Password Reset");
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_is_written_to_the_store_when_the_service_is_down() {
    let setup = setup().await;
    let output = mspbridge(
        &setup.config,
        &["alert", "--name", "Account Locked", "A-77", "R-88"],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("the service was not reachable"), "{stderr}");
    let id: i64 = stdout.trim().parse().unwrap();

    let output = mspbridge(&setup.config, &["alert", "A-77", "R-88"]).await;
    assert!(output.status.success());
    assert_eq!(text(&output).0.trim(), id.to_string());
    assert!(text(&output).1.contains("already queued"));

    let alerts = stored_alerts(&setup).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].id, id);
    assert_eq!(alerts[0].source_alert_id, "A-77/R-88");
    assert_eq!(alerts[0].payload["fields"]["RecordID"], "R-88");
    assert_eq!(alerts[0].alert_name, "Account Locked");

    // A service started later picks the alert up from the store.
    let (child, url) = serve(&setup.config).await;
    let alerts: Value = reqwest::Client::new()
        .get(format!("{url}/api/v1/alerts"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(alerts[0]["source_alert_id"], "A-77/R-88");
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_exits_non_zero_with_one_line_when_nothing_can_take_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, "a file where the database folder should be").unwrap();
    let database = format!("sqlite://{}/mspbridge.db", blocker.display());
    let setup = setup_with("", Some(&database)).await;
    let output = mspbridge(&setup.config, &["alert", "A-1", "R-1"]).await;
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("error: the service is not reachable"),
        "{stderr}"
    );
    assert!(lines[0].contains("opening the store"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn alert_without_source_names_the_choices_when_several_are_configured() {
    let second = r#"
[[sources]]
name = "auditor-globex"
kind = "netwrix-auditor"
url = "https://auditor.globex.example:9699"
username = "GLOBEX\\svc"
password = "pw"
"#;
    let setup = setup_with(second, None).await;
    let output = mspbridge(&setup.config, &["alert", "A-1", "R-1"]).await;
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--source is required: several netwrix-auditor sources are configured: auditor-acme, auditor-globex"),
        "{stderr}"
    );
    let output = mspbridge(&setup.config, &["alert", "--source", "nope", "A-1", "R-1"]).await;
    assert!(!output.status.success());
    assert!(text(&output).1.contains("unknown source \"nope\""));
    assert!(stored_alerts(&setup).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn tickets_events_and_queue_list_the_store_and_queue_retry_requeues_a_dead_job() {
    let setup = setup().await;
    let store = setup.store().await;
    let now = Utc::now();
    store
        .upsert_incident(Incident {
            key: "Acme/Password Reset".into(),
            client: Some("Acme".into()),
            ticket_id: Some(4242),
            status: "open".into(),
            first_alert_at: now,
            last_alert_at: now,
            alert_count: 21,
            buffered: 0,
            flush_at: None,
            flood: false,
            details: json!({}),
            version: 0,
        })
        .await
        .unwrap();
    for (code, message) in [
        (4100, "ticket #4242 created"),
        (4018, "example.com is ambiguous"),
    ] {
        store
            .append_event(NewEvent {
                code,
                at: now,
                client: Some("Acme".into()),
                subject: None,
                message: message.into(),
                details: json!({}),
            })
            .await
            .unwrap();
    }
    let job = store
        .enqueue_job(NewJob {
            kind: "ticket.create".into(),
            serial_key: Some("Acme/Password Reset".into()),
            payload: json!({}),
            run_at: now,
            idempotency_key: None,
            created_at: now,
        })
        .await
        .unwrap();
    let claimed = store
        .claim_jobs("tests", now, Duration::from_secs(60), 1)
        .await
        .unwrap();
    store
        .fail_job(
            job.id,
            claimed[0].lease_token.as_deref().unwrap(),
            now,
            "ConnectWise answered 400: company 250 is inactive",
            None,
        )
        .await
        .unwrap();
    store.close().await;

    let output = mspbridge(&setup.config, &["tickets"]).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("KEY"), "{stdout}");
    for needle in ["Acme/Password Reset", "#4242", "21", "open"] {
        assert!(lines[1].contains(needle), "{stdout}");
    }
    let output = mspbridge(&setup.config, &["tickets", "--json"]).await;
    let tickets: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(tickets[0]["ticket_id"], 4242);
    assert_eq!(tickets[0]["alert_count"], 21);

    let output = mspbridge(&setup.config, &["events", "--since", "24h"]).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stdout.contains("itglue_client_automap_failed"), "{stdout}");
    assert!(stdout.contains("ticket_created"), "{stdout}");
    let output = mspbridge(&setup.config, &["events", "--code", "4018", "--json"]).await;
    let events: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 1);
    assert_eq!(events[0]["name"], "itglue_client_automap_failed");
    let output = mspbridge(&setup.config, &["events", "--code", "9999"]).await;
    assert!(!output.status.success());
    assert!(text(&output).1.contains("--code 9999 is not an event id"));
    let output = mspbridge(&setup.config, &["events", "--since", "whenever"]).await;
    assert!(!output.status.success());
    assert!(text(&output).1.contains("since: \"whenever\""));

    let output = mspbridge(&setup.config, &["queue"]).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("0 queued, 0 running, 1 dead"), "{stderr}");
    assert!(stdout.contains("company 250 is inactive"), "{stdout}");
    assert!(stdout.contains("dead"), "{stdout}");

    let id = job.id.to_string();
    let output = mspbridge(&setup.config, &["queue", "retry", &id, "--json"]).await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let retried: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(retried["state"], "queued");
    let output = mspbridge(&setup.config, &["queue", "--json"]).await;
    let queue: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(queue["depth"]["dead"], 0);
    assert_eq!(queue["depth"]["queued"], 1);

    let output = mspbridge(&setup.config, &["queue", "retry", &id]).await;
    assert!(!output.status.success());
    assert!(
        text(&output).1.contains("only dead jobs can be retried"),
        "{}",
        text(&output).1
    );

    // Two dead notes and one dead create: --all --kind takes the notes only, --all the rest.
    let store = setup.store().await;
    let mut dead = Vec::new();
    for (kind, key) in [
        ("ticket.note", "Acme/A"),
        ("ticket.note", "Acme/B"),
        ("ticket.create", "Acme/C"),
    ] {
        let job = store
            .enqueue_job(NewJob {
                kind: kind.into(),
                serial_key: Some(key.into()),
                payload: json!({}),
                run_at: now,
                idempotency_key: None,
                created_at: now,
            })
            .await
            .unwrap();
        dead.push(job.id);
    }
    for claimed in store
        .claim_jobs("tests", now, Duration::from_secs(60), 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|claimed| dead.contains(&claimed.id))
    {
        let lease = claimed.lease_token.clone().unwrap();
        store
            .fail_job(claimed.id, &lease, now, "gave up", None)
            .await
            .unwrap();
    }
    store.close().await;
    let output = mspbridge(
        &setup.config,
        &["queue", "retry", "--all", "--kind", "ticket.note", "--json"],
    )
    .await;
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let retried: Value = serde_json::from_str(&stdout).unwrap();
    let kinds: Vec<&str> = retried
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ticket.note", "ticket.note"]);
    let output = mspbridge(&setup.config, &["queue", "retry", "--all"]).await;
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("1 dead job(s) queued again"), "{stderr}");
    let output = mspbridge(
        &setup.config,
        &["queue", "retry", "--all", "--kind", "ticket.fax"],
    )
    .await;
    assert!(!output.status.success());
    assert!(
        text(&output)
            .1
            .contains("there is no job kind \"ticket.fax\""),
        "{}",
        text(&output).1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_retry_goes_through_the_running_service() {
    let setup = setup().await;
    let (child, url) = serve(&setup.config).await;
    let store = setup.store().await;
    let later = Utc::now() + chrono::Duration::days(365);
    // Due in a year, so the running engine leaves it alone until it is dead and retried.
    let job = store
        .enqueue_job(NewJob {
            kind: "ticket.create".into(),
            serial_key: Some("Acme/Retry Through Service".into()),
            payload: json!({}),
            run_at: later,
            idempotency_key: None,
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    let claimed = store
        .claim_jobs("tests", later, Duration::from_secs(60), 10)
        .await
        .unwrap();
    let lease = claimed
        .iter()
        .find(|claimed| claimed.id == job.id)
        .and_then(|claimed| claimed.lease_token.clone())
        .unwrap();
    store
        .fail_job(job.id, &lease, later, "gave up", None)
        .await
        .unwrap();
    store.close().await;

    let id = job.id.to_string();
    let output = mspbridge(&setup.config, &["queue", "retry", &id]).await;
    let (_, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("job {id} (ticket.create) is queued again")),
        "{stderr}"
    );
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("route=\"/api/v1/queue/{id}/retry\",status=\"200\""),
        "the retry did not go through the service:\n{metrics}"
    );
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_right_after_the_url_is_printed_is_a_graceful_stop() {
    // Whoever reads the URL may stop the service at once; the signal must already be handled
    // then, not take its default action.
    let setup = setup().await;
    for _ in 0..5 {
        let (child, _url) = serve(&setup.config).await;
        stop(child).await;
    }
}
